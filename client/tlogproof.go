package client

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tlogProofHeader is the first line of a C2SP tlog-proof.
const tlogProofHeader = "c2sp.org/tlog-proof@v1"

// ErrMalformedProof is wrapped by every error ParseTLogProof returns.
var ErrMalformedProof = errors.New("malformed tlog-proof")

// maxProofHashes bounds an inclusion proof: a tree of 2^63 leaves needs 63.
const maxProofHashes = 63

// TLogProof is a [c2sp.org/tlog-proof] v1: an entry's index, its inclusion
// proof, and the checkpoint (with any cosignatures) the proof leads to.
// vigil puts the leaf itself in Extra, so the proof alone carries everything
// needed to check that the leaf is in the log.
//
//	c2sp.org/tlog-proof@v1
//	extra dmdsAQMA...
//	index 1234
//	gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
//	...
//
//	example.com/log
//	4096
//	sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=
//
//	— example.com/log hI2DJw...
//
// [c2sp.org/tlog-proof]: https://c2sp.org/tlog-proof
type TLogProof struct {
	Extra      []byte // nil when absent
	Index      uint64
	Hashes     [][]byte
	Checkpoint []byte // the signed note, verbatim
}

// Marshal encodes the proof in the tlog-proof text format.
func (p *TLogProof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(tlogProofHeader + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatUint(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseTLogProof decodes a tlog-proof. It checks the syntax only; the
// checkpoint's signatures and the proof are checked by Bundle.Verify.
func ParseTLogProof(b []byte) (*TLogProof, error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrMalformedProof, what) }
	line := func() (string, bool) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return "", false
		}
		l := string(b[:i])
		b = b[i+1:]
		return l, true
	}
	l, ok := line()
	if !ok || l != tlogProofHeader {
		return nil, bad("first line is not " + tlogProofHeader)
	}
	p := &TLogProof{}
	if l, ok = line(); !ok {
		return nil, bad("truncated")
	}
	if rest, found := strings.CutPrefix(l, "extra "); found {
		e, err := decodeProofLine(rest)
		if err != nil || len(e) == 0 {
			return nil, bad("extra is not non-empty standard base64")
		}
		p.Extra = e
		if l, ok = line(); !ok {
			return nil, bad("truncated")
		}
	}
	rest, found := strings.CutPrefix(l, "index ")
	if !found {
		return nil, bad("no index line")
	}
	idx, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || strconv.FormatUint(idx, 10) != rest {
		return nil, bad("index is not a decimal without leading zeroes")
	}
	p.Index = idx
	for {
		if l, ok = line(); !ok {
			return nil, bad("no blank line before the checkpoint")
		}
		if l == "" {
			break
		}
		h, err := decodeProofLine(l)
		if err != nil || len(h) != 32 {
			return nil, bad("proof line is not a base64 SHA-256 hash")
		}
		if len(p.Hashes) == maxProofHashes {
			return nil, bad("too many proof hashes")
		}
		p.Hashes = append(p.Hashes, h)
	}
	if len(b) == 0 {
		return nil, bad("no checkpoint")
	}
	p.Checkpoint = b
	return p, nil
}

// decodeProofLine decodes one standard base64 line of a proof. The decoder
// skips '\r' even in strict mode, so a line is accepted only if it is
// exactly the encoding of what it decodes to: a proof has one text form,
// the one Marshal writes.
func decodeProofLine(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}
