package client

import (
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "example.com/vigil-test"

// testLog is a small RFC 6962 log in memory with a note-signing key, the
// minimum a bundle needs: leaves, inclusion proofs and signed checkpoints.
type testLog struct {
	t        testing.TB
	signer   note.Signer
	verifier note.Verifier
	leaves   [][]byte
	tree     *testonly.Tree
}

func newTestLog(t testing.TB, origin string) *testLog {
	t.Helper()
	return newTestLogFrom(t, origin, rand.Reader)
}

// newTestLogFrom makes a log whose key is read from r.
func newTestLogFrom(t testing.TB, origin string, r io.Reader) *testLog {
	t.Helper()
	signer, verifier := newNoteKeyFrom(t, origin, r)
	return &testLog{t: t, signer: signer, verifier: verifier, tree: testonly.New(rfc6962.DefaultHasher)}
}

func newNoteKey(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	return newNoteKeyFrom(t, name, rand.Reader)
}

func newNoteKeyFrom(t testing.TB, name string, r io.Reader) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(r, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, verifier
}

// add appends the leaf of an envelope (JSON) and returns its index and the
// payload (for SBOM blobs).
func (l *testLog) add(envJSON []byte) (uint64, []byte) {
	l.t.Helper()
	e := fxParseEntry(l.t, envJSON)
	leaf, err := e.Leaf().Marshal()
	if err != nil {
		l.t.Fatal(err)
	}
	l.leaves = append(l.leaves, leaf)
	l.tree.AppendData(leaf)
	return uint64(len(l.leaves) - 1), e.Envelope.Payload
}

// checkpoint returns the log's current checkpoint signed by s.
func (l *testLog) checkpoint(s note.Signer) []byte {
	l.t.Helper()
	body := flog.Checkpoint{Origin: s.Name(), Size: l.tree.Size(), Hash: l.tree.Hash()}.Marshal()
	cp, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		l.t.Fatal(err)
	}
	return cp
}

func (l *testLog) proof(i uint64) [][]byte {
	l.t.Helper()
	p, err := l.tree.InclusionProof(i, l.tree.Size())
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// bundle returns the bundle of leaf i under the log's current checkpoint.
func (l *testLog) bundle(i uint64) *Bundle {
	l.t.Helper()
	b, err := NewBundle(l.leaves[i], i, l.proof(i), l.checkpoint(l.signer))
	if err != nil {
		l.t.Fatalf("NewBundle(leaf %d) = %v", i, err)
	}
	return b
}

// withProof returns a copy of b whose tlog-proof mut has changed.
func withProof(t testing.TB, b *Bundle, mut func(*TLogProof)) *Bundle {
	t.Helper()
	p, err := ParseTLogProof([]byte(b.TLogProof))
	if err != nil {
		t.Fatal(err)
	}
	mut(p)
	c := *b
	c.TLogProof = string(p.Marshal())
	return &c
}

// bundleLog is a log holding one entry of each interesting sort.
type bundleLog struct {
	*testLog
	f                                     *stateFixture
	enroll1, enroll3, sbom, att1, att2    uint64
	enroll2, revocation, fieldAction      uint64
	badSig, strangerRevocation, strangerE uint64
	sbomPayload                           []byte
}

func newBundleLog(t testing.TB) *bundleLog {
	f := newStateFixture(t)
	dev3 := fxNewKey(t, AlgP256)
	l := &bundleLog{testLog: newTestLog(t, testOrigin), f: f}
	l.enroll1, _ = l.add(f.enroll(fxUDI, f.dev1, f.acme))
	l.enroll3, _ = l.add(f.enroll(fxDI+"(21)SN-0003", dev3, f.acme))
	l.sbom, l.sbomPayload = l.add(fxSBOMJSON(t, fxSBOMDocument(t), fxFirmwareA, f.acme))
	l.att1, _ = l.add(f.attest(fxUDI, f.dev1))
	l.att2, _ = l.add(f.attest(fxUDI2, f.dev2)) // before its enrollment
	l.enroll2, _ = l.add(f.enroll(fxUDI2, f.dev2, f.acme))
	l.revocation, _ = l.add(f.revoke(TargetFirmware, fxFirmwareA, f.acme))
	l.fieldAction, _ = l.add(fxSignedJSON(t, fxFieldAction(fxFirmwareA), f.acme2))
	l.badSig, _ = l.add(fxTamper(t, f.revoke(TargetUDI, fxUDI, f.acme)))
	l.strangerRevocation, _ = l.add(f.revoke(TargetUDI, fxUDI, f.stranger))
	l.strangerE, _ = l.add(f.enroll(fxUDI, fxNewKey(t, AlgEd25519), f.stranger))
	return l
}

func TestBundleVerify(t *testing.T) {
	l := newBundleLog(t)
	f := l.f
	otherSigner, _ := newNoteKey(t, testOrigin)
	elsewhereSigner, elsewhereVerifier := newNoteKey(t, "example.com/elsewhere")
	with := func(b *Bundle, mut func(*Bundle)) *Bundle { c := *b; mut(&c); return &c }
	attestation := func(att, enr uint64) *Bundle {
		return with(l.bundle(att), func(b *Bundle) { b.Enrollment = l.bundle(enr) })
	}
	otherRoots, err := ParseTrustRoots(fxRootsJSON(t, fxManufacturer{Name: "Other", Prefixes: []string{fxOtherPrefix}, Keys: []*PrivateKey{f.other}}))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		Index           uint64
		Kind            Kind
		Signer          string
		EnrollmentIndex int64 // -1: none
	}
	tests := []struct {
		name   string
		bundle *Bundle
		opts   func(*VerifyOptions)
		want   result
		err    error
	}{
		{"enrollment", l.bundle(l.enroll1), nil, result{l.enroll1, KindEnrollment, "Acme", -1}, nil},
		{"attestation with its enrollment", attestation(l.att1, l.enroll1), nil, result{l.att1, KindAttestation, fxUDI, int64(l.enroll1)}, nil},
		{"SBOM with the payload supplied", l.bundle(l.sbom), func(o *VerifyOptions) { o.Payload = l.sbomPayload },
			result{l.sbom, KindSBOM, "Acme", -1}, nil},
		{"SBOM with the payload embedded", with(l.bundle(l.sbom), func(b *Bundle) { b.Payload = l.sbomPayload }), nil,
			result{l.sbom, KindSBOM, "Acme", -1}, nil},
		{"revocation", l.bundle(l.revocation), nil, result{l.revocation, KindRevocation, "Acme", -1}, nil},
		{"field action", l.bundle(l.fieldAction), nil, result{l.fieldAction, KindFieldAction, "Acme", -1}, nil},

		// Inclusion.
		{"tampered leaf", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Extra[len(p.Extra)-1] ^= 1 }), nil, result{}, ErrNotIncluded},
		{"another leaf of the log", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Extra = l.leaves[l.enroll3] }), nil, result{}, ErrNotIncluded},
		{"tampered proof hash", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Hashes[1][0] ^= 1 }), nil, result{}, ErrNotIncluded},
		{"proof hash missing", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Hashes = p.Hashes[1:] }), nil, result{}, ErrNotIncluded},
		{"proof hash added", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Hashes = append(p.Hashes, p.Hashes[0]) }), nil, result{}, ErrNotIncluded},
		{"wrong index", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Index = l.enroll3 }), nil, result{}, ErrNotIncluded},
		{"index outside the tree", withProof(t, l.bundle(l.strangerE), func(p *TLogProof) { p.Index = l.tree.Size() }), nil, result{}, ErrNotIncluded},
		{"index far outside the tree", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Index = 1 << 40 }), nil, result{}, ErrNotIncluded},
		{"checkpoint signed by another key", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Checkpoint = l.checkpoint(otherSigner) }), nil, result{}, ErrNotIncluded},
		{"checkpoint of another log", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Checkpoint = l.checkpoint(elsewhereSigner) }), nil, result{}, ErrNotIncluded},
		{"verifier of another log", l.bundle(l.enroll1), func(o *VerifyOptions) { o.Log = elsewhereVerifier }, result{}, ErrNotIncluded},
		{"checkpoint body tampered", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) {
			p.Checkpoint = []byte(strings.Replace(string(p.Checkpoint), "\n11\n", "\n12\n", 1))
		}), nil, result{}, ErrNotIncluded},
		{"tlog-proof without the leaf", withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Extra = nil }), nil, result{}, ErrBundle},
		{"malformed tlog-proof", with(l.bundle(l.enroll1), func(b *Bundle) { b.TLogProof = "c2sp.org/tlog-proof@v1\n" }), nil, result{}, ErrMalformedProof},

		// Structure and signatures.
		{"kind does not match the leaf", with(l.bundle(l.enroll1), func(b *Bundle) { b.Kind = "revocation" }), nil, result{}, ErrBundle},
		{"unknown format", with(l.bundle(l.enroll1), func(b *Bundle) { b.Format = "https://vigil.dev/bundle/v2" }), nil, result{}, ErrBundle},
		{"SBOM without payload", l.bundle(l.sbom), nil, result{}, ErrBundle},
		{"SBOM with the wrong payload", l.bundle(l.sbom), func(o *VerifyOptions) { o.Payload = []byte(fxCycloneDX) }, result{}, ErrLeaf},
		{"revocation with a bad signature", l.bundle(l.badSig), nil, result{}, ErrBadSignature},
		{"revocation by an unknown key", l.bundle(l.strangerRevocation), nil, result{}, ErrUnknownKey},
		{"enrollment by an unknown key", l.bundle(l.strangerE), nil, result{}, ErrUnknownKey},
		{"enrollment under other trust roots", l.bundle(l.enroll1), func(o *VerifyOptions) { o.Roots = otherRoots }, result{}, ErrUnknownKey},

		// The enrollment behind an attestation.
		{"attestation without enrollment", l.bundle(l.att1), nil, result{}, ErrBundle},
		{"attestation with another device's enrollment", attestation(l.att1, l.enroll3), nil, result{}, ErrNotEnrolled},
		{"attestation with a later enrollment", attestation(l.att2, l.enroll2), nil, result{}, ErrBundle},
		{"attestation with an SBOM for enrollment", with(l.bundle(l.att1), func(b *Bundle) {
			b.Enrollment = with(l.bundle(l.sbom), func(s *Bundle) { s.Payload = l.sbomPayload })
		}), nil, result{}, ErrBundle},
		{"attestation with an unproven enrollment", with(l.bundle(l.att1), func(b *Bundle) {
			b.Enrollment = withProof(t, l.bundle(l.enroll1), func(p *TLogProof) { p.Hashes[0][0] ^= 1 })
		}), nil, result{}, ErrNotIncluded},
		{"attestation with an enrollment by an unknown key", attestation(l.att1, l.strangerE), nil, result{}, ErrUnknownKey},
		{"enrollment embedding an enrollment", with(l.bundle(l.enroll1), func(b *Bundle) { b.Enrollment = l.bundle(l.enroll3) }), nil, result{}, ErrBundle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := VerifyOptions{Log: l.verifier, Roots: f.roots}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v, err := tc.bundle.Verify(opts)
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("Verify(%s) = %v, want %v", tc.name, err, tc.err)
			}
			if err != nil {
				return
			}
			got := result{v.Index, v.Entry.Kind, v.Signer, -1}
			if v.Enrollment != nil {
				got.EnrollmentIndex = int64(v.Enrollment.Index)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Verify(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
			if string(v.Leaf) != string(l.leaves[v.Index]) {
				t.Errorf("Verify(%s).Leaf is not the log's leaf %d", tc.name, v.Index)
			}
			if v.Checkpoint.Size != l.tree.Size() || string(v.Checkpoint.Hash) != string(l.tree.Hash()) || v.Checkpoint.Origin != testOrigin {
				t.Errorf("Verify(%s).Checkpoint = %+v, want the log's", tc.name, v.Checkpoint)
			}
		})
	}

	for _, opts := range []VerifyOptions{{Roots: f.roots}, {Log: l.verifier}} {
		if _, err := l.bundle(l.enroll1).Verify(opts); err == nil {
			t.Errorf("Verify(%+v) = nil, want an error for the missing option", opts)
		}
	}
}

// TestBundleVerifyAfterGrowth checks a bundle made when the log was smaller
// against that older checkpoint, and a fresh one against the larger tree.
func TestBundleVerifyAfterGrowth(t *testing.T) {
	f := newStateFixture(t)
	l := newTestLog(t, testOrigin)
	i, _ := l.add(f.enroll(fxUDI, f.dev1, f.acme))
	early := l.bundle(i)
	for n := 0; n < 6; n++ {
		l.add(f.revoke(TargetFirmware, fxFirmwareA, f.acme))
	}
	late := l.bundle(i)
	for name, b := range map[string]*Bundle{"size 1": early, "size 7": late} {
		v, err := b.Verify(VerifyOptions{Log: l.verifier, Roots: f.roots})
		if err != nil {
			t.Errorf("Verify(%s) = %v", name, err)
			continue
		}
		if v.Index != i {
			t.Errorf("Verify(%s).Index = %d, want %d", name, v.Index, i)
		}
	}
}

func TestNewBundle(t *testing.T) {
	l := newBundleLog(t)
	b := l.bundle(l.sbom)
	want := &Bundle{Format: BundleFormat, Kind: "sbom", Blob: "sha256:" + sha256Hex(l.sbomPayload)}
	if diff := cmp.Diff(want, b, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".TLogProof" }, cmp.Ignore())); diff != "" {
		t.Errorf("NewBundle(SBOM leaf) mismatch (-want +got):\n%s", diff)
	}
	p, err := ParseTLogProof([]byte(b.TLogProof))
	if err != nil {
		t.Fatalf("ParseTLogProof(bundle.TLogProof) = %v", err)
	}
	if string(p.Extra) != string(l.leaves[l.sbom]) || p.Index != l.sbom {
		t.Errorf("bundle tlog-proof has index %d and extra %x, want %d and the leaf", p.Index, p.Extra, l.sbom)
	}
	if b := l.bundle(l.att1); b.Kind != "attestation" || b.Blob != "" {
		t.Errorf("NewBundle(attestation leaf) kind %q blob %q, want attestation and no blob", b.Kind, b.Blob)
	}
	if _, err := NewBundle([]byte("not a leaf"), 0, nil, l.checkpoint(l.signer)); !errors.Is(err, ErrLeaf) {
		t.Errorf("NewBundle(garbage) = %v, want %v", err, ErrLeaf)
	}
}

func TestBundleMarshal(t *testing.T) {
	l := newBundleLog(t)
	att := l.bundle(l.att1)
	att.Enrollment = l.bundle(l.enroll1)
	sbom := l.bundle(l.sbom)
	sbom.Payload = l.sbomPayload
	for name, b := range map[string]*Bundle{"attestation": att, "sbom": sbom, "enrollment": l.bundle(l.enroll1)} {
		t.Run(name, func(t *testing.T) {
			j, err := b.Marshal()
			if err != nil {
				t.Fatalf("Marshal() = %v", err)
			}
			got, err := ParseBundle(j)
			if err != nil {
				t.Fatalf("ParseBundle(Marshal()) = %v\n%s", err, j)
			}
			if diff := cmp.Diff(b, got); diff != "" {
				t.Errorf("ParseBundle(Marshal()) mismatch (-want +got):\n%s", diff)
			}
			if _, err := got.Verify(VerifyOptions{Log: l.verifier, Roots: l.f.roots}); err != nil {
				t.Errorf("Verify after a round trip = %v", err)
			}
		})
	}
}

func TestParseBundle(t *testing.T) {
	l := newBundleLog(t)
	enc := func(b *Bundle) string {
		j, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return string(j)
	}
	enr := l.bundle(l.enroll1)
	valid := enc(enr)
	nest := func(outer *Bundle, inner *Bundle) *Bundle { c := *outer; c.Enrollment = inner; return &c }
	att := l.bundle(l.att1)
	tests := []struct {
		name string
		in   string
		err  error
	}{
		{"enrollment", valid, nil},
		{"attestation with enrollment", enc(nest(att, enr)), nil},
		{"not JSON", "bundle", ErrMalformedJSON},
		{"unknown field", strings.Replace(valid, `"format"`, `"EVIL":1,"format"`, 1), ErrMalformedJSON},
		{"repeated field", strings.Replace(valid, `"format"`, `"kind":"sbom","format"`, 1), ErrMalformedJSON},
		{"trailing data", valid + "{}", ErrMalformedJSON},
		{"payload not base64", strings.Replace(valid, `"format"`, `"payload":"EVIL!","format"`, 1), ErrMalformedJSON},
		{"enrollment not an object", strings.Replace(valid, `"format"`, `"enrollment":"x","format"`, 1), ErrMalformedJSON},
		{"wrong format", strings.Replace(valid, BundleFormat, "https://vigil.dev/bundle/v0", 1), ErrBundle},
		{"no format", `{"kind":"enrollment","tlogProof":""}`, ErrBundle},
		{"unknown kind", strings.Replace(valid, `"kind": "enrollment"`, `"kind": "EVIL"`, 1), ErrBundle},
		{"enrollment inside an enrollment", enc(nest(enr, enr)), ErrBundle},
		{"enrollment inside an SBOM", enc(nest(l.bundle(l.sbom), enr)), ErrBundle},
		{"nested too deep", enc(nest(att, nest(att, enr))), ErrBundle},
		{"embedded bundle malformed", enc(nest(att, &Bundle{Format: "x", Kind: "enrollment"})), ErrBundle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tc.in))
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("ParseBundle(%.200q) = %v, want %v", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "EVIL") {
				t.Errorf("ParseBundle(%.200q) error %q repeats the input", tc.in, err)
			}
		})
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	l := newTestLog(t, testOrigin)
	l.add(fxSignedJSON(t, fxRevocation(TargetFirmware, fxFirmwareA), fxNewKey(t, AlgEd25519)))
	cp := l.checkpoint(l.signer)
	c, err := VerifyCheckpoint(cp, l.verifier)
	if err != nil {
		t.Fatalf("VerifyCheckpoint = %v", err)
	}
	if c.Origin != testOrigin || c.Size != 1 || string(c.Hash) != string(l.tree.Hash()) {
		t.Errorf("VerifyCheckpoint = %+v, want origin %s, size 1 and the tree's hash", c, testOrigin)
	}
	otherSigner, otherVerifier := newNoteKey(t, testOrigin)
	for _, tc := range []struct {
		name string
		cp   []byte
		v    note.Verifier
	}{
		{"wrong key", l.checkpoint(otherSigner), l.verifier},
		{"wrong verifier", cp, otherVerifier},
		{"unsigned", flog.Checkpoint{Origin: testOrigin, Size: 1, Hash: l.tree.Hash()}.Marshal(), l.verifier},
		{"garbage", []byte("garbage"), l.verifier},
	} {
		if _, err := VerifyCheckpoint(tc.cp, tc.v); !errors.Is(err, ErrNotIncluded) {
			t.Errorf("VerifyCheckpoint(%s) = %v, want %v", tc.name, err, ErrNotIncluded)
		}
	}
}
