package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The fuzz targets below check that the parsers never panic, refuse only
// with the errors they document, and, where a marshaller exists, that what
// they accept survives a round trip. Besides the inputs added here, each
// reads the seed corpus in testdata/fuzz/<FuzzName>: valid inputs of every
// kind, made by fuzzWorld (see TestFuzzSeeds), and any crashers found.

// entryErrors are the errors ParseEntry may wrap.
var entryErrors = []error{
	ErrMalformedJSON, ErrMalformedBase64, ErrPayloadType, ErrStatement, ErrPredicateType,
	ErrPredicate, ErrUDI, ErrKey, ErrSBOM, ErrSignatureCount,
}

func wrapsOneOf(err error, sentinels ...error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// seedReader is a deterministic stream of bytes derived from a seed, so
// that keys made from it are the same on every run.
type seedReader struct {
	state [32]byte
	buf   []byte
}

func newSeedReader(seed string) *seedReader { return &seedReader{state: sha256.Sum256([]byte(seed))} }

func (r *seedReader) Read(p []byte) (int, error) {
	for i := range p {
		if len(r.buf) == 0 {
			r.state = sha256.Sum256(r.state[:])
			r.buf = r.state[:]
		}
		p[i], r.buf = r.buf[0], r.buf[1:]
	}
	return len(p), nil
}

// fuzzWorld is a log with one entry of each kind, made with keys derived
// from fixed seeds, so that bundles in the seed corpus verify under its
// log key and trust roots on every run.
type fuzzWorld struct {
	roots     *TrustRoots
	rootsJSON []byte
	log       *testLog
	// envelopes and payloads, by kind, of the log's entries.
	envelopes map[Kind][]byte
	indexes   map[Kind]uint64
	payloads  map[Kind][]byte
}

func newFuzzWorld(t testing.TB) *fuzzWorld {
	t.Helper()
	acme := fxSeededKey(t, AlgEd25519, "fuzz acme")
	dev := fxSeededKey(t, AlgP256, "fuzz device")
	w := &fuzzWorld{
		rootsJSON: fxRootsJSON(t, fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{acme}}),
		log:       newTestLogFrom(t, testOrigin, newSeedReader("fuzz log")),
		envelopes: map[Kind][]byte{},
		indexes:   map[Kind]uint64{},
		payloads:  map[Kind][]byte{},
	}
	var err error
	if w.roots, err = ParseTrustRoots(w.rootsJSON); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		kind Kind
		env  []byte
	}{
		{KindEnrollment, fxSignedJSON(t, fxEnrollment(t, fxUDI, dev, acme), acme)},
		{KindSBOM, fxSBOMJSON(t, []byte(fxCycloneDX), fxFirmwareA, acme)},
		{KindAttestation, fxSignedJSON(t, fxAttestation(fxUDI), dev)},
		{KindRevocation, fxSignedJSON(t, fxRevocation(TargetFirmware, fxFirmwareA), acme)},
		{KindFieldAction, fxSignedJSON(t, fxFieldAction(fxFirmwareA), acme)},
	} {
		w.envelopes[x.kind] = x.env
		w.indexes[x.kind], w.payloads[x.kind] = w.log.add(x.env)
	}
	return w
}

func (w *fuzzWorld) verifyOptions() VerifyOptions {
	return VerifyOptions{Log: w.log.verifier, Roots: w.roots}
}

// addEnvelopes adds a few envelopes as seeds, beyond the corpus files.
func addEnvelopes(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"` + fxZeroKeyID + `","sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"-_-_","signatures":[]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":null}`))
	f.Add([]byte(`{"payloadType":"x","payload":"AA==","payload":"AQ=="}`))
	f.Add([]byte(`[]`))
}

func FuzzParseEnvelope(f *testing.F) {
	addEnvelopes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			if !wrapsOneOf(err, ErrMalformedJSON, ErrMalformedBase64) {
				t.Fatalf("ParseEnvelope(%q) = %v, want an error wrapping ErrMalformedJSON or ErrMalformedBase64", data, err)
			}
			return
		}
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON() = %v", err)
		}
		again, err := ParseEnvelope(b)
		if err != nil {
			t.Fatalf("ParseEnvelope(MarshalJSON()) = %v\n%s", err, b)
		}
		if diff := cmp.Diff(e, again, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ParseEnvelope(MarshalJSON()) mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + fxFirmwareA + `"}}],"predicateType":"p","predicate":{}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha512":"` + strings.Repeat("0", 128) + `"},"annotations":null}],"predicateType":"p","predicate":{"a":[1e400]}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p","predicate":{},"PredicateType":"q"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStatement(data)
		if err != nil {
			if !wrapsOneOf(err, ErrMalformedJSON, ErrStatement) {
				t.Fatalf("ParseStatement(%q) = %v, want an error wrapping ErrMalformedJSON or ErrStatement", data, err)
			}
			return
		}
		if st.Type != StatementType || len(st.Subject) == 0 || st.PredicateType == "" || st.Predicate[0] != '{' {
			t.Fatalf("ParseStatement(%q) accepted %+v", data, st)
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("json.Marshal(statement) = %v", err)
		}
		again, err := ParseStatement(b)
		if err != nil {
			t.Fatalf("ParseStatement(json.Marshal(statement)) = %v\n%s", err, b)
		}
		b2, err := json.Marshal(again)
		if err != nil || !bytes.Equal(b, b2) {
			t.Errorf("statement encoding is not stable:\n%s\n%s", b, b2)
		}
	})
}

func FuzzParseEntry(f *testing.F) {
	addEnvelopes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			if !wrapsOneOf(err, entryErrors...) {
				t.Fatalf("ParseEntry(%q) = %v, want an error wrapping one of %v", data, err, entryErrors)
			}
			return
		}
		l := e.Leaf()
		b, err := l.Marshal()
		if errors.Is(err, ErrLeafTooLarge) {
			return
		}
		if err != nil {
			t.Fatalf("Leaf().Marshal() = %v", err)
		}
		got, err := ParseLeaf(b)
		if err != nil {
			t.Fatalf("ParseLeaf(Leaf().Marshal()) = %v", err)
		}
		if diff := cmp.Diff(l, got); diff != "" {
			t.Fatalf("ParseLeaf(Leaf().Marshal()) mismatch (-want +got):\n%s", diff)
		}
		env, err := got.Envelope(e.Envelope.Payload)
		if err != nil {
			t.Fatalf("Envelope() = %v", err)
		}
		again, err := NewEntry(env)
		if err != nil {
			t.Fatalf("NewEntry(envelope rebuilt from the leaf) = %v", err)
		}
		if again.Kind != e.Kind || again.SignerKeyID() != e.SignerKeyID() || again.PayloadDigest() != e.PayloadDigest() {
			t.Errorf("entry rebuilt from the leaf differs: kind %v signer %s payload %s, want %v %s %s",
				again.Kind, again.SignerKeyID(), again.PayloadDigest(), e.Kind, e.SignerKeyID(), e.PayloadDigest())
		}
	})
}

func FuzzParseLeaf(f *testing.F) {
	sig := Signature{KeyID: fxZeroKeyID, Sig: []byte{1, 2, 3}}
	for _, l := range []*Leaf{
		{Kind: KindAttestation, PayloadType: PayloadTypeInToto, Payload: []byte(`{}`), Signature: sig},
		{Kind: KindSBOM, PayloadType: PayloadTypeInToto, PayloadSHA256: sha256.Sum256([]byte("x")), PayloadSize: 1, Signature: sig},
	} {
		b, err := l.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("vgl\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLeaf(data)
		if err != nil {
			if !errors.Is(err, ErrLeaf) {
				t.Fatalf("ParseLeaf(%x) = %v, want an error wrapping ErrLeaf", data, err)
			}
			return
		}
		b, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal() of a parsed leaf = %v", err)
		}
		if !bytes.Equal(b, data) {
			t.Errorf("Marshal(ParseLeaf(%x)) = %x, want the input", data, b)
		}
	})
}

func FuzzParseTLogProof(f *testing.F) {
	f.Add([]byte(specProof))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx"))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra AA==\nindex 18446744073709551615\n" + strings.Repeat("A", 43) + "=\n\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseTLogProof(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedProof) {
				t.Fatalf("ParseTLogProof(%q) = %v, want an error wrapping ErrMalformedProof", data, err)
			}
			return
		}
		if b := p.Marshal(); !bytes.Equal(b, data) {
			t.Errorf("Marshal(ParseTLogProof(%q)) = %q, want the input", data, b)
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	w := newFuzzWorld(f)
	f.Add([]byte(`{"format":"https://vigil.dev/bundle/v1","kind":"enrollment","tlogProof":"c2sp.org/tlog-proof@v1\nindex 0\n\nx"}`))
	f.Add([]byte(`{"format":"https://vigil.dev/bundle/v1","kind":"attestation","tlogProof":"","payload":"","enrollment":{"format":"https://vigil.dev/bundle/v1","kind":"enrollment","tlogProof":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			if !wrapsOneOf(err, ErrMalformedJSON, ErrBundle) {
				t.Fatalf("ParseBundle(%q) = %v, want an error wrapping ErrMalformedJSON or ErrBundle", data, err)
			}
			return
		}
		j, err := b.Marshal()
		if err != nil {
			t.Fatalf("Marshal() = %v", err)
		}
		again, err := ParseBundle(j)
		if err != nil {
			t.Fatalf("ParseBundle(Marshal()) = %v\n%s", err, j)
		}
		if diff := cmp.Diff(b, again, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ParseBundle(Marshal()) mismatch (-want +got):\n%s", diff)
		}
		// Verification must not panic, whatever the bundle holds.
		v, err := b.Verify(w.verifyOptions())
		if err == nil && (v.Entry == nil || v.Signer == "" || v.Index >= w.log.tree.Size()) {
			t.Errorf("Verify(%q) = %+v with no error, want a complete result", data, v)
		}
	})
}

func FuzzParseTrustRoots(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "dev", "trust-roots.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"manufacturers":[]}`))
	f.Add([]byte(`{"manufacturers":[{"name":"A","udiPrefixes":["GS1:0614141","hibcc:A123","iccbba:A9999"],"keys":["x"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrustRoots(data)
		if err != nil {
			return // trust roots are configuration: any error will do
		}
		b, err := tr.Marshal()
		if err != nil {
			t.Fatalf("Marshal() = %v", err)
		}
		again, err := ParseTrustRoots(b)
		if err != nil {
			t.Fatalf("ParseTrustRoots(Marshal()) = %v\n%s", err, b)
		}
		if diff := cmp.Diff(viewRoots(tr), viewRoots(again)); diff != "" {
			t.Errorf("ParseTrustRoots(Marshal()) mismatch (-want +got):\n%s", diff)
		}
		for _, m := range tr.Manufacturers {
			for _, k := range m.Keys {
				if tr.ManufacturerOf(k.ID()) != m {
					t.Errorf("ManufacturerOf(key of %q) is another manufacturer", m.Name)
				}
			}
		}
	})
}

func FuzzParsePublicKeyPEM(f *testing.F) {
	for _, name := range []string{"manufacturer.key.pub", "device.key.pub"} {
		if b, err := os.ReadFile(filepath.Join("..", "testdata", "dev", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGG6YJMbv0zxeFw5EYpkPG32ueAG3YGN1jGlLhUYsR28=\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKeyPEM(data)
		if err != nil {
			if !errors.Is(err, ErrKey) {
				t.Fatalf("ParsePublicKeyPEM(%q) = %v, want an error wrapping ErrKey", data, err)
			}
			return
		}
		for name, parse := range map[string]func() (*PublicKey, error){
			"ParsePublicKeyPEM(PEM())": func() (*PublicKey, error) { return ParsePublicKeyPEM(k.PEM()) },
			"ParsePublicKeyDER(DER())": func() (*PublicKey, error) { return ParsePublicKeyDER(k.DER()) },
		} {
			again, err := parse()
			if err != nil || again.ID() != k.ID() || again.Alg() != k.Alg() {
				t.Errorf("%s = %v, want the same key back", name, err)
			}
		}
		if sha256Hex(k.DER()) != k.ID() {
			t.Errorf("ID() is not the SHA-256 of DER()")
		}
	})
}

// readSeed decodes a corpus file in the "go test fuzz v1" format holding
// one []byte.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, rest, _ := strings.Cut(string(b), "\n")
	lit, ok := strings.CutPrefix(strings.TrimSpace(rest), "[]byte(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	if header != "go test fuzz v1" || !ok || !ok2 {
		t.Fatalf("%s is not a go test fuzz v1 file with one []byte", filepath.Base(path))
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return []byte(s)
}

// TestFuzzSeeds checks that the committed seeds named valid-* are still
// valid inputs, so that the fuzzers keep starting deep in each parser, and
// that the bundles among them verify under fuzzWorld's keys.
func TestFuzzSeeds(t *testing.T) {
	w := newFuzzWorld(t)
	checks := map[string]func([]byte) error{
		"FuzzParseEnvelope":  func(b []byte) error { _, err := ParseEnvelope(b); return err },
		"FuzzParseStatement": func(b []byte) error { _, err := ParseStatement(b); return err },
		"FuzzParseEntry":     func(b []byte) error { _, err := ParseEntry(b); return err },
		"FuzzParseLeaf":      func(b []byte) error { _, err := ParseLeaf(b); return err },
		"FuzzParseTLogProof": func(b []byte) error { _, err := ParseTLogProof(b); return err },
		"FuzzParseBundle": func(b []byte) error {
			bu, err := ParseBundle(b)
			if err != nil {
				return err
			}
			_, err = bu.Verify(w.verifyOptions())
			return err
		},
		"FuzzParseTrustRoots":   func(b []byte) error { _, err := ParseTrustRoots(b); return err },
		"FuzzParsePublicKeyPEM": func(b []byte) error { _, err := ParsePublicKeyPEM(b); return err },
	}
	for target, check := range checks {
		paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "valid-*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) == 0 {
			t.Errorf("no valid-* seeds for %s", target)
		}
		for _, p := range paths {
			if err := check(readSeed(t, p)); err != nil {
				t.Errorf("%s seed %s: %v", target, filepath.Base(p), err)
			}
		}
	}
	// The world's own entries verify, which is what the seeds were made of.
	for kind, i := range w.indexes {
		b := w.log.bundle(i)
		if kind == KindAttestation {
			b.Enrollment = w.log.bundle(w.indexes[KindEnrollment])
		}
		if kind == KindSBOM {
			b.Payload = w.payloads[kind]
		}
		if _, err := b.Verify(w.verifyOptions()); err != nil {
			t.Errorf("fuzzWorld %v bundle: Verify = %v", kind, err)
		}
	}
}
