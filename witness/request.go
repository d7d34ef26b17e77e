package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// MaxRequestSize is the largest add-checkpoint body the witness reads, in
// bytes. A request holds at most 63 proof lines of 45 bytes and a checkpoint
// with its signatures, so real requests are a few KiB at most.
const MaxRequestSize = 64 << 10

// maxProofLines is the most consistency proof lines a request may carry
// ([c2sp.org/tlog-witness]: "The client MUST NOT send more than 63").
const maxProofLines = 63

// hashSize is the size of an RFC 6962 SHA-256 hash, of proof lines and roots.
const hashSize = 32

// ErrMalformed is the error, wrapped with a fixed reason, that
// [ParseAddCheckpoint] returns for a body that does not follow the
// add-checkpoint grammar, and that the handler answers with 400 Bad
// Request. Its messages never contain bytes of the input.
var ErrMalformed = errors.New("malformed add-checkpoint request")

func malformed(reason string) error { return fmt.Errorf("%w: %s", ErrMalformed, reason) }

// AddCheckpointRequest is the body of a [c2sp.org/tlog-witness]
// add-checkpoint request: the size of the checkpoint the client believes the
// witness holds, a consistency proof from it, and the new checkpoint.
type AddCheckpointRequest struct {
	// Old is the tree size the client believes the witness has cosigned
	// last for this log; 0 if none.
	Old uint64
	// Proof is the RFC 6962 consistency proof from Old to the checkpoint's
	// size: at most 63 hashes of 32 bytes, none when Old is 0.
	Proof [][]byte
	// Checkpoint is the signed note of the new checkpoint, as sent: a
	// [c2sp.org/tlog-checkpoint] body and one or more signature lines.
	Checkpoint []byte
}

// ParseAddCheckpoint parses an add-checkpoint request body:
//
//	old <size>\n
//	<base64 hash>\n      (zero to 63 lines)
//	\n
//	<signed checkpoint note>
//
// It checks the syntax only, strictly: a decimal size without leading zeroes,
// canonical standard base64 hashes of 32 bytes, and a checkpoint that is a
// well-formed signed note whose text is a well-formed checkpoint (origin,
// size without leading zeroes, a 32-byte root, non-empty extension lines).
// Signatures, the log and the consistency proof are checked by the
// [Witness]. Every error wraps [ErrMalformed].
func ParseAddCheckpoint(body []byte) (*AddCheckpointRequest, error) {
	r, _, err := parseAddCheckpoint(body)
	return r, err
}

// parseAddCheckpoint is ParseAddCheckpoint, also returning the parsed
// checkpoint.
func parseAddCheckpoint(body []byte) (*AddCheckpointRequest, *checkpoint, error) {
	if len(body) > MaxRequestSize {
		return nil, nil, malformed("body too large")
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return nil, nil, malformed("no old size line")
	}
	sizeText, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return nil, nil, malformed("first line is not an old size line")
	}
	old, ok := parseDecimal(sizeText)
	if !ok {
		return nil, nil, malformed("old size is not a decimal without leading zeroes")
	}
	r := &AddCheckpointRequest{Old: old}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, nil, malformed("no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.Proof) == maxProofLines {
			return nil, nil, malformed("more than 63 consistency proof lines")
		}
		h, ok := decodeHash(line)
		if !ok {
			return nil, nil, malformed("consistency proof line is not a base64 hash of 32 bytes")
		}
		r.Proof = append(r.Proof, h)
	}
	cp, err := parseCheckpointNote(rest)
	if err != nil {
		return nil, nil, err
	}
	r.Checkpoint = rest
	return r, cp, nil
}

// Marshal encodes the request as an add-checkpoint body. For a request
// returned by [ParseAddCheckpoint] it returns the bytes that were parsed.
func (r *AddCheckpointRequest) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.Old)
	for _, h := range r.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// checkpoint is the parsed body of a signed checkpoint note.
type checkpoint struct {
	origin string
	size   uint64
	root   []byte
	// note is the structure of the signed note: its text, and all its
	// signatures as unverified ones.
	note *note.Note
}

// parseCheckpointNote checks that b is a well-formed signed note
// ([c2sp.org/signed-note]) whose text is a well-formed checkpoint
// ([c2sp.org/tlog-checkpoint]), without verifying any signature.
func parseCheckpointNote(b []byte) (*checkpoint, error) {
	// Opening with no known keys checks the note's structure: UTF-8
	// without control characters, the blank line, the signature lines
	// and their count. A well-formed note then fails only because none of
	// its signatures is verified, which is the case we want.
	_, err := note.Open(b, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, malformed("checkpoint is not a signed note")
	}
	c, err := parseCheckpointText(unverified.Note.Text)
	if err != nil {
		return nil, err
	}
	c.note = unverified.Note
	return c, nil
}

// parseCheckpointText parses a checkpoint body: at least three non-empty
// lines, each ending in a newline: origin, tree size, root hash, then
// optional extension lines.
func parseCheckpointText(text string) (*checkpoint, error) {
	body, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return nil, malformed("checkpoint text does not end in a newline")
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 {
		return nil, malformed("checkpoint has fewer than three lines")
	}
	for _, l := range lines {
		if l == "" {
			return nil, malformed("checkpoint has an empty line")
		}
	}
	size, ok := parseDecimal([]byte(lines[1]))
	if !ok {
		return nil, malformed("checkpoint size is not a decimal without leading zeroes")
	}
	root, ok := decodeHash([]byte(lines[2]))
	if !ok {
		return nil, malformed("checkpoint root is not a base64 hash of 32 bytes")
	}
	return &checkpoint{origin: lines[0], size: size, root: root}, nil
}

// parseDecimal parses an ASCII decimal of at most 64 bits with no sign and
// no leading zeroes (except for zero itself).
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil
}

// decodeHash decodes a 32-byte hash in canonical standard base64 (padded,
// with zero padding bits), so that every hash has exactly one encoding and
// a parsed request marshals back to the same bytes.
func decodeHash(b []byte) ([]byte, bool) {
	h := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Strict().Decode(h, b)
	if err != nil || n != hashSize || base64.StdEncoding.EncodedLen(n) != len(b) {
		return nil, false
	}
	return h[:n], true
}
