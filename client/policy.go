package client

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// ErrPolicy is wrapped by every error ParsePolicy returns.
var ErrPolicy = errors.New("malformed policy")

// ErrQuorum is wrapped when a checkpoint's cosignatures do not satisfy a
// policy's quorum.
var ErrQuorum = errors.New("witness quorum not met")

// Policy is a [C2SP tlog-policy]: the logs a verifier accepts, the witnesses
// it knows, and the quorum of cosignatures a checkpoint needs.
//
//	log example.com/vigil+1a2b3c4d+AaJ... https://log.example.com
//	witness w1 w1.example+5e6f7a8b+BAE4... https://w1.example/witness
//	witness w2 w2.example+9c0d1e2f+BAF7...
//	witness w3 w3.example+aabbccdd+BAJ9...
//	group majority 2 w1 w2 w3
//	quorum majority
//
// Log keys are note vkeys (Ed25519, type 0x01), witness keys
// cosignature/v1 vkeys (type 0x04). URLs are optional. Written by hand:
// Tessera's parser lives in its server package, which the client does not
// import, and reads only the log's side.
//
// [C2SP tlog-policy]: https://c2sp.org/tlog-policy
type Policy struct {
	Logs      []PolicyLog
	Witnesses []PolicyWitness
	// Quorum names the witness or group whose witnessing a checkpoint
	// needs, or "none".
	Quorum string
	nodes  map[string]*policyNode
}

// PolicyLog is a log a policy accepts.
type PolicyLog struct {
	Verifier note.Verifier
	URL      string
}

// PolicyWitness is a witness a policy knows.
type PolicyWitness struct {
	Name     string
	Verifier note.Verifier
	URL      string
}

// policyNode is a witness (verifier set) or a group (threshold of members).
type policyNode struct {
	witness   note.Verifier
	threshold int
	members   []*policyNode
}

// Policy limits, beyond the 32 logs, witnesses and groups the spec asks
// implementations to support.
const (
	maxPolicyItems = 256
	maxPolicyLine  = 4096
)

// ParsePolicy decodes a tlog-policy file strictly: names are opaque
// octets; groups and the quorum may name only witnesses and groups defined
// on earlier lines; each name is a member of a group at most once; there is
// exactly one quorum line; no key is listed twice. Errors name the line.
func ParsePolicy(b []byte) (*Policy, error) {
	p := &Policy{nodes: map[string]*policyNode{}}
	keys := map[string]bool{}
	items := 0
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		bad := func(what string) error { return fmt.Errorf("%w: line %d: %s", ErrPolicy, n, what) }
		if len(line) > maxPolicyLine {
			return nil, bad("too long")
		}
		for j := 0; j < len(line); j++ {
			if c := line[j]; c < 0x20 && c != '\t' || c == 0x7f {
				return nil, bad("control character")
			}
		}
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if items++; items > maxPolicyItems {
			return nil, bad("too many definitions")
		}
		switch f[0] {
		case "log":
			if len(f) < 2 || len(f) > 3 {
				return nil, bad("want: log <vkey> [<url>]")
			}
			v, err := note.NewVerifier(f[1])
			if err != nil {
				return nil, bad("log key is not an Ed25519 note vkey")
			}
			if err := uniqueKey(keys, "log", f[1], algEd25519); err != nil {
				return nil, bad(err.Error())
			}
			p.Logs = append(p.Logs, PolicyLog{Verifier: v, URL: at(f, 2)})
		case "witness":
			if len(f) < 3 || len(f) > 4 {
				return nil, bad("want: witness <name> <vkey> [<url>]")
			}
			if err := p.newName(f[1]); err != nil {
				return nil, bad(err.Error())
			}
			v, err := fnote.NewVerifierForCosignatureV1(f[2])
			if err != nil {
				return nil, bad("witness key is not a cosignature/v1 vkey")
			}
			if err := uniqueKey(keys, "witness", f[2], algCosignatureV1); err != nil {
				return nil, bad(err.Error())
			}
			p.nodes[f[1]] = &policyNode{witness: v}
			p.Witnesses = append(p.Witnesses, PolicyWitness{Name: f[1], Verifier: v, URL: at(f, 3)})
		case "group":
			if len(f) < 4 {
				return nil, bad("want: group <name> all|any|<k> <name>...")
			}
			if err := p.newName(f[1]); err != nil {
				return nil, bad(err.Error())
			}
			g := &policyNode{}
			seen := map[string]bool{}
			for _, m := range f[3:] {
				node, ok := p.nodes[m]
				if !ok || seen[m] {
					return nil, bad("a member is undefined, defined later, none, or listed twice")
				}
				seen[m] = true
				g.members = append(g.members, node)
			}
			switch k := f[2]; k {
			case "all":
				g.threshold = len(g.members)
			case "any":
				g.threshold = 1
			default:
				t, err := strconv.Atoi(k)
				if err != nil || strconv.Itoa(t) != k || t < 1 || t > len(g.members) {
					return nil, bad("threshold must be all, any or a decimal 1 <= k <= members")
				}
				g.threshold = t
			}
			p.nodes[f[1]] = g
		case "quorum":
			if len(f) != 2 {
				return nil, bad("want: quorum <name>")
			}
			if p.Quorum != "" {
				return nil, bad("a second quorum")
			}
			if _, ok := p.nodes[f[1]]; !ok && f[1] != "none" {
				return nil, bad("quorum names nothing defined before it")
			}
			p.Quorum = f[1]
		default:
			return nil, bad("unknown keyword")
		}
	}
	if p.Quorum == "" {
		return nil, fmt.Errorf("%w: no quorum line", ErrPolicy)
	}
	return p, nil
}

func (p *Policy) newName(name string) error {
	switch name {
	case "none", "log", "witness", "group", "quorum", "all", "any":
		return errors.New("reserved name")
	}
	if _, dup := p.nodes[name]; dup {
		return errors.New("name defined twice")
	}
	return nil
}

// Signature types of note vkeys (C2SP signed-note).
const (
	algEd25519       = 0x01
	algCosignatureV1 = 0x04
)

// uniqueKey checks a vkey's signature type (the note libraries accept an
// Ed25519 key for either role; the policy spec does not) and refuses a
// second log or witness line wrapping the same public key, whatever name
// and key ID it carries.
func uniqueKey(seen map[string]bool, role, vkey string, alg byte) error {
	// name+hash+keydata: neither the name nor the hex hash holds a '+',
	// but base64 key data may.
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return errors.New("malformed key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < 2 {
		return errors.New("malformed key")
	}
	if raw[0] != alg {
		return fmt.Errorf("a %s key must have signature type %#02x", role, alg)
	}
	k := role + string(raw[1:])
	if seen[k] {
		return errors.New("key listed twice")
	}
	seen[k] = true
	return nil
}

func at(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// Witnessed is a checkpoint verified under a policy.
type Witnessed struct {
	Checkpoint *flog.Checkpoint
	// Cosigned maps the name of each policy witness whose cosignature
	// verified to the time it states.
	Cosigned map[string]time.Time
}

// Earliest returns the earliest cosignature time, the upper bound the
// witnesses put on when the checkpoint's entries were logged, and false if
// there is no cosignature.
func (w *Witnessed) Earliest() (time.Time, bool) {
	var t time.Time
	for _, c := range w.Cosigned {
		if t.IsZero() || c.Before(t) {
			t = c
		}
	}
	return t, !t.IsZero()
}

// VerifyCheckpoint checks a signed checkpoint against the policy: signed by
// one of its logs (whose key name is the checkpoint's origin), and cosigned
// by witnesses that satisfy the quorum. A signature line from a listed key
// that does not verify fails the checkpoint; lines from unknown keys are
// ignored. Errors wrap ErrNotIncluded for a bad log signature or body and
// ErrQuorum for too few cosignatures.
func (p *Policy) VerifyCheckpoint(cp []byte) (*Witnessed, error) {
	var vs []note.Verifier
	for _, l := range p.Logs {
		vs = append(vs, l.Verifier)
	}
	for _, w := range p.Witnesses {
		vs = append(vs, w.Verifier)
	}
	n, err := note.Open(cp, note.VerifierList(vs...))
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint signatures: %v", ErrNotIncluded, err)
	}
	var logKey note.Verifier
	cosigned := map[note.Verifier]note.Signature{}
	for _, s := range n.Sigs {
		for _, l := range p.Logs {
			if s.Name == l.Verifier.Name() && s.Hash == l.Verifier.KeyHash() {
				logKey = l.Verifier
			}
		}
		for _, w := range p.Witnesses {
			if s.Name == w.Verifier.Name() && s.Hash == w.Verifier.KeyHash() {
				cosigned[w.Verifier] = s
			}
		}
	}
	if logKey == nil {
		return nil, fmt.Errorf("%w: not signed by a log of the policy", ErrNotIncluded)
	}
	c := &flog.Checkpoint{}
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil || c.Origin != logKey.Name() {
		return nil, fmt.Errorf("%w: checkpoint body is malformed or its origin is not the log key's name", ErrNotIncluded)
	}
	w := &Witnessed{Checkpoint: c, Cosigned: map[string]time.Time{}}
	for _, pw := range p.Witnesses {
		if s, ok := cosigned[pw.Verifier]; ok {
			t, err := fnote.CoSigV1Timestamp(s)
			if err != nil {
				return nil, fmt.Errorf("%w: cosignature of %s has no timestamp", ErrNotIncluded, pw.Name)
			}
			w.Cosigned[pw.Name] = t
		}
	}
	if p.Quorum != "none" && !p.nodes[p.Quorum].witnessed(cosigned) {
		return nil, fmt.Errorf("%w: %d valid cosignatures do not satisfy %q", ErrQuorum, len(cosigned), p.Quorum)
	}
	return w, nil
}

func (n *policyNode) witnessed(cosigned map[note.Verifier]note.Signature) bool {
	if n.witness != nil {
		_, ok := cosigned[n.witness]
		return ok
	}
	k := 0
	for _, m := range n.members {
		if m.witnessed(cosigned) {
			k++
		}
	}
	return k >= n.threshold
}

// LogVerifier returns the verifier of the policy's log with the given
// origin (its key name), or nil.
func (p *Policy) LogVerifier(origin string) note.Verifier {
	for _, l := range p.Logs {
		if l.Verifier.Name() == origin {
			return l.Verifier
		}
	}
	return nil
}
