package client

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// policyKeys makes a log key and n witness keys (cosignature/v1).
type policyKeys struct {
	log     note.Signer
	logVKey string // type 0x01
	witness []note.Signer
	wVKeys  []string // type 0x04
}

func newPolicyKeys(t testing.TB, origin string, n int) *policyKeys {
	t.Helper()
	k := &policyKeys{}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	if k.log, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	k.logVKey = vkey
	for i := range n {
		skey, vkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("w%d.example", i+1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		cv, err := fnote.VKeyToCosignatureV1(vkey)
		if err != nil {
			t.Fatal(err)
		}
		k.witness, k.wVKeys = append(k.witness, s), append(k.wVKeys, cv)
	}
	return k
}

// policy writes a policy of the keys' log and witnesses w1..wn, with the
// given group and quorum lines.
func (k *policyKeys) policy(rest string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# test policy\nlog %s http://127.0.0.1/log\n", k.logVKey)
	for i, v := range k.wVKeys {
		fmt.Fprintf(&b, "\twitness  w%d %s\n", i+1, v)
	}
	return b.String() + rest
}

// cosigned signs a checkpoint body with the log and the given witnesses.
func (k *policyKeys) cosigned(t testing.TB, body []byte, witnesses ...int) []byte {
	t.Helper()
	signers := []note.Signer{k.log}
	for _, i := range witnesses {
		signers = append(signers, k.witness[i])
	}
	cp, err := note.Sign(&note.Note{Text: string(body)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestParsePolicy(t *testing.T) {
	k := newPolicyKeys(t, "log.example/a", 6)
	good := k.policy("group X 2 w1 w2 w3\ngroup Y any w4 w5 w6\ngroup XY all X Y\nquorum XY\n")
	p, err := ParsePolicy([]byte(good))
	if err != nil {
		t.Fatalf("ParsePolicy(spec-like example) = %v", err)
	}
	if len(p.Logs) != 1 || len(p.Witnesses) != 6 || p.Quorum != "XY" || p.Logs[0].URL != "http://127.0.0.1/log" {
		t.Errorf("ParsePolicy = %d logs, %d witnesses, quorum %q, log URL %q", len(p.Logs), len(p.Witnesses), p.Quorum, p.Logs[0].URL)
	}
	if _, err := ParsePolicy([]byte("quorum none\n")); err != nil {
		t.Errorf("ParsePolicy(quorum none) = %v", err)
	}
	w1 := k.wVKeys[0]
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no quorum", k.policy("")},
		{"two quorums", k.policy("quorum w1\nquorum w2\n")},
		{"unknown keyword", k.policy("quorum w1\nwitnesses w7 " + w1 + "\n")},
		{"log with a witness key", "log " + w1 + "\nquorum none\n"},
		{"log without key", "log\nquorum none\n"},
		{"witness with a log key", "witness w " + k.logVKey + "\nquorum w\n"},
		{"witness name twice", k.policy("witness w1 " + k.wVKeys[1] + "\nquorum w1\n")},
		{"witness key twice", "witness a " + w1 + "\nwitness b " + w1 + "\nquorum a\n"},
		{"log key twice", "log " + k.logVKey + "\nlog " + k.logVKey + "\nquorum none\n"},
		{"group of a later name", k.policy("group G any w1 H\ngroup H any w2\nquorum G\n")},
		{"group member twice", k.policy("group G 2 w1 w1\nquorum G\n")},
		{"group member none", k.policy("group G any none\nquorum G\n")},
		{"threshold zero", k.policy("group G 0 w1 w2\nquorum G\n")},
		{"threshold over members", k.policy("group G 3 w1 w2\nquorum G\n")},
		{"threshold with a leading zero", k.policy("group G 02 w1 w2\nquorum G\n")},
		{"group without members", k.policy("group G any\nquorum G\n")},
		{"group named none", k.policy("group none any w1\nquorum w1\n")},
		{"quorum of nothing", k.policy("quorum nobody\n")},
		{"quorum before its group", k.policy("quorum G\ngroup G any w1\n")},
		{"control character", k.policy("quorum w1\x00\n")},
		{"carriage return", k.policy("quorum w1\r\n")},
		{"witness with extra field", "witness a " + w1 + " http://x extra\nquorum a\n"},
	} {
		if _, err := ParsePolicy([]byte(tc.in)); !errors.Is(err, ErrPolicy) {
			t.Errorf("ParsePolicy(%s) = %v, want ErrPolicy", tc.name, err)
		}
	}
}

func TestPolicyVerifyCheckpoint(t *testing.T) {
	k := newPolicyKeys(t, "log.example/a", 6)
	body := flog.Checkpoint{Origin: "log.example/a", Size: 7, Hash: make([]byte, 32)}.Marshal()
	other := newPolicyKeys(t, "log.example/a", 1)
	twoOfThree := k.policy("group majority 2 w1 w2 w3\nquorum majority\n")
	nested := k.policy("group X 2 w1 w2 w3\ngroup Y any w4 w5 w6\ngroup XY all X Y\nquorum XY\n")
	tamper := func(cp []byte) []byte {
		// Flip a bit in the last signature line's signature.
		lines := strings.Split(strings.TrimSuffix(string(cp), "\n"), "\n")
		last := lines[len(lines)-1]
		i := strings.LastIndexByte(last, ' ')
		sig := []byte(last[i+1:])
		sig[10] ^= 'A' ^ 'B'
		if sig[10] == last[i+1+10] {
			sig[10] = 'C'
		}
		lines[len(lines)-1] = last[:i+1] + string(sig)
		return []byte(strings.Join(lines, "\n") + "\n")
	}
	tests := []struct {
		name, policy string
		cp           []byte
		want         int // cosigners counted, or -1 for an error
		err          error
	}{
		{"2 of 3 with two", twoOfThree, k.cosigned(t, body, 0, 2), 2, nil},
		{"2 of 3 with three", twoOfThree, k.cosigned(t, body, 0, 1, 2), 3, nil},
		{"2 of 3 with one", twoOfThree, k.cosigned(t, body, 1), -1, ErrQuorum},
		{"2 of 3 with none", twoOfThree, k.cosigned(t, body), -1, ErrQuorum},
		{"witness outside the group does not count", twoOfThree, k.cosigned(t, body, 0, 4), -1, ErrQuorum},
		{"nested: 2 X and 1 Y", nested, k.cosigned(t, body, 0, 1, 5), 3, nil},
		{"nested: 3 X and no Y", nested, k.cosigned(t, body, 0, 1, 2), -1, ErrQuorum},
		{"quorum none", k.policy("quorum none\n"), k.cosigned(t, body), 0, nil},
		{"unknown cosigner ignored", twoOfThree, func() []byte {
			cp, _ := note.Sign(&note.Note{Text: string(body)}, k.log, k.witness[0], k.witness[1], other.witness[0])
			return cp
		}(), 2, nil},
		{"tampered cosignature of a listed witness", twoOfThree, tamper(k.cosigned(t, body, 0, 1)), -1, ErrNotIncluded},
		{"signed by another log key", twoOfThree, other.cosigned(t, body), -1, ErrNotIncluded},
		{"origin is not the log key's name", twoOfThree, k.cosigned(t, flog.Checkpoint{Origin: "log.example/b", Size: 7, Hash: make([]byte, 32)}.Marshal(), 0, 1), -1, ErrNotIncluded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			w, err := p.VerifyCheckpoint(tc.cp)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Errorf("VerifyCheckpoint = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyCheckpoint = %v", err)
			}
			if len(w.Cosigned) != tc.want || w.Checkpoint.Size != 7 {
				t.Errorf("VerifyCheckpoint: %d cosigners, size %d; want %d, 7", len(w.Cosigned), w.Checkpoint.Size, tc.want)
			}
			if first, ok := w.Earliest(); ok != (tc.want > 0) || ok && first.IsZero() {
				t.Errorf("Earliest() = %v, %v", first, ok)
			}
		})
	}
}

// TestBundleVerifyWithPolicy: a bundle's checkpoint must meet the policy.
func TestBundleVerifyWithPolicy(t *testing.T) {
	l := newBundleLog(t)
	// The bundle's checkpoint is replaced by one the policy's log signed.
	k := newPolicyKeys(t, testOrigin, 3)
	p, err := ParsePolicy([]byte(k.policy("group majority 2 w1 w2 w3\nquorum majority\n")))
	if err != nil {
		t.Fatal(err)
	}
	withCP := func(cp []byte) *Bundle {
		return withProof(t, l.bundle(l.enroll1), func(tp *TLogProof) { tp.Checkpoint = cp })
	}
	body := flog.Checkpoint{Origin: testOrigin, Size: l.tree.Size(), Hash: l.tree.Hash()}.Marshal()
	v, err := withCP(k.cosigned(t, body, 0, 2)).Verify(VerifyOptions{Policy: p, Roots: l.f.roots})
	if err != nil || v.Witnessed == nil || len(v.Witnessed.Cosigned) != 2 {
		t.Fatalf("Verify(cosigned by 2 of 3) = %+v, %v", v, err)
	}
	if _, err := withCP(k.cosigned(t, body, 1)).Verify(VerifyOptions{Policy: p, Roots: l.f.roots}); !errors.Is(err, ErrQuorum) {
		t.Errorf("Verify(cosigned by 1 of 3) = %v, want ErrQuorum", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	k := newPolicyKeys(f, "log.example/a", 3)
	f.Add(k.policy("group majority 2 w1 w2 w3\nquorum majority\n"))
	f.Add("quorum none\n")
	f.Add("# comment\n\n  \t\nquorum none")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePolicy([]byte(in))
		if err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("ParsePolicy error %v does not wrap ErrPolicy", err)
			}
			return
		}
		if p.Quorum == "" {
			t.Fatal("a parsed policy without a quorum")
		}
		// Verifying anything must not panic.
		_, _ = p.VerifyCheckpoint([]byte(in))
	})
}
