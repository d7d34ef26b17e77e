package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLeafEncoding pins the version 1 leaf encoding byte for byte.
func TestLeafEncoding(t *testing.T) {
	sig := Signature{KeyID: fxZeroKeyID, Sig: []byte{0xaa, 0xbb}}
	zeros := strings.Repeat("00", 32)
	sum := sha256.Sum256([]byte("pq"))
	tests := []struct {
		name string
		leaf *Leaf
		want string // hex
	}{
		{
			"inline",
			&Leaf{Kind: KindAttestation, PayloadType: "t", Payload: []byte("pq"), Signature: sig},
			"76676c01" + "03" + "00" + "0174" + "00027071" + "01" + zeros + "02aabb",
		},
		{
			"blob",
			&Leaf{Kind: KindSBOM, PayloadType: "t", PayloadSHA256: sum, PayloadSize: 2, Signature: sig},
			"76676c01" + "02" + "01" + "0174" + hex.EncodeToString(sum[:]) + "00000002" + "01" + zeros + "02aabb",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.leaf.Marshal()
			if err != nil {
				t.Fatalf("Marshal() = %v", err)
			}
			if got := hex.EncodeToString(b); got != tc.want {
				t.Errorf("Marshal() = %s, want %s", got, tc.want)
			}
			got, err := ParseLeaf(b)
			if err != nil {
				t.Fatalf("ParseLeaf(%x) = %v", b, err)
			}
			want := *tc.leaf
			if !want.InBlob() {
				want.PayloadSHA256, want.PayloadSize = sha256.Sum256(want.Payload), uint32(len(want.Payload))
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("ParseLeaf(%x) mismatch (-want +got):\n%s", b, diff)
			}
		})
	}
}

func TestLeafRoundTrip(t *testing.T) {
	mfr := fxNewKey(t, AlgEd25519)
	dev := fxNewKey(t, AlgP256)
	sbomEnv := fxSBOMJSON(t, fxSBOMDocument(t), fxFirmwareA, mfr)
	tests := []struct {
		name   string
		env    []byte
		inBlob bool
	}{
		{"enrollment", fxSignedJSON(t, fxEnrollment(t, fxUDI, dev, mfr), mfr), false},
		{"attestation", fxSignedJSON(t, fxAttestation(fxUDI), dev), false},
		{"revocation", fxSignedJSON(t, fxRevocation(TargetUDI, fxUDI), mfr), false},
		{"field action", fxSignedJSON(t, fxFieldAction(fxFirmwareA), mfr), false},
		{"sbom", sbomEnv, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := fxParseEntry(t, tc.env)
			l := e.Leaf()
			if l.InBlob() != tc.inBlob {
				t.Errorf("Leaf().InBlob() = %v, want %v", l.InBlob(), tc.inBlob)
			}
			if got, want := l.BlobDigest(), e.PayloadDigest(); got != want {
				t.Errorf("Leaf().BlobDigest() = %s, want the payload digest %s", got, want)
			}
			b, err := l.Marshal()
			if err != nil {
				t.Fatalf("Marshal() = %v", err)
			}
			got, err := ParseLeaf(b)
			if err != nil {
				t.Fatalf("ParseLeaf(Marshal()) = %v", err)
			}
			if diff := cmp.Diff(l, got); diff != "" {
				t.Errorf("ParseLeaf(Marshal()) mismatch (-want +got):\n%s", diff)
			}
			var blob []byte
			if tc.inBlob {
				blob = e.Envelope.Payload
			}
			env, err := got.Envelope(blob)
			if err != nil {
				t.Fatalf("Envelope() = %v", err)
			}
			if diff := cmp.Diff(e.Envelope, env); diff != "" {
				t.Errorf("Envelope() does not rebuild the envelope (-want +got):\n%s", diff)
			}
			again, err := NewEntry(env)
			if err != nil {
				t.Fatalf("NewEntry(rebuilt envelope) = %v", err)
			}
			if again.Kind != e.Kind {
				t.Errorf("NewEntry(rebuilt envelope).Kind = %v, want %v", again.Kind, e.Kind)
			}
		})
	}
}

func TestLeafEnvelopeBlob(t *testing.T) {
	payload := []byte("the signed statement")
	l := &Leaf{
		Kind: KindSBOM, PayloadType: PayloadTypeInToto,
		PayloadSHA256: sha256.Sum256(payload), PayloadSize: uint32(len(payload)),
		Signature: Signature{KeyID: fxZeroKeyID, Sig: []byte{1}},
	}
	tests := []struct {
		name string
		blob []byte
		want error
	}{
		{"right blob", payload, nil},
		{"no blob", nil, ErrLeaf},
		{"wrong digest", []byte("the signed statemenT"), ErrLeaf},
		{"longer", append(append([]byte(nil), payload...), 0), ErrLeaf},
		{"prefix", payload[:len(payload)-1], ErrLeaf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := l.Envelope(tc.blob)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Fatalf("Envelope(%q) = %v, want %v", tc.blob, err, tc.want)
			}
			if err == nil && !bytes.Equal(env.Payload, payload) {
				t.Errorf("Envelope(%q).Payload = %q, want %q", tc.blob, env.Payload, payload)
			}
		})
	}
	// An inline leaf ignores the argument.
	inline := &Leaf{Kind: KindAttestation, PayloadType: "t", Payload: payload, Signature: l.Signature}
	env, err := inline.Envelope([]byte("something else"))
	if err != nil || !bytes.Equal(env.Payload, payload) {
		t.Errorf("inline Envelope(other) = %v, %v, want the inline payload", env, err)
	}
}

func TestLeafTooLarge(t *testing.T) {
	sig := Signature{KeyID: fxZeroKeyID, Sig: make([]byte, 64)}
	// Everything but the payload: magic, kind, mode, payload type with its
	// length, payload length, signature count, key ID, signature with its
	// length.
	overhead := 4 + 1 + 1 + 1 + len(PayloadTypeInToto) + 2 + 1 + 32 + 1 + len(sig.Sig)
	inline := func(n int) *Leaf {
		return &Leaf{Kind: KindAttestation, PayloadType: PayloadTypeInToto, Payload: bytes.Repeat([]byte{'x'}, n), Signature: sig}
	}
	tests := []struct {
		name string
		leaf *Leaf
		want error
	}{
		{"largest inline", inline(MaxLeafSize - overhead), nil},
		{"one byte over", inline(MaxLeafSize - overhead + 1), ErrLeafTooLarge},
		{"payload of 64 KiB", inline(MaxLeafSize), ErrLeafTooLarge},
		{"payload over 64 KiB", inline(MaxLeafSize + 1000), ErrLeafTooLarge},
		{"signature over 255 bytes", &Leaf{Kind: KindAttestation, PayloadType: "t", Payload: []byte("p"),
			Signature: Signature{KeyID: fxZeroKeyID, Sig: make([]byte, 256)}}, ErrLeafTooLarge},
		{"payload type over 255 bytes", &Leaf{Kind: KindAttestation, PayloadType: strings.Repeat("t", 256), Payload: []byte("p"),
			Signature: sig}, ErrLeafTooLarge},
		{"key ID not hex", &Leaf{Kind: KindAttestation, PayloadType: "t", Payload: []byte("p"),
			Signature: Signature{KeyID: "key-1", Sig: []byte{1}}}, ErrLeaf},
		{"short key ID", &Leaf{Kind: KindAttestation, PayloadType: "t", Payload: []byte("p"),
			Signature: Signature{KeyID: "00", Sig: []byte{1}}}, ErrLeaf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.leaf.Marshal()
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Fatalf("Marshal() = %v, want %v", err, tc.want)
			}
			if err == nil && len(b) != MaxLeafSize {
				t.Errorf("Marshal() gave %d bytes, want %d", len(b), MaxLeafSize)
			}
		})
	}

	// A schema-valid attestation can still be too large for a leaf.
	dev := fxNewKey(t, AlgEd25519)
	a := fxAttestation(fxUDI)
	a.Measurements = nil
	for i := 0; i < 64; i++ {
		a.Measurements = append(a.Measurements, Measurement{Name: fmt.Sprintf("%04d", i) + strings.Repeat("m", maxText-4), Digest: fxConfigDigest})
	}
	e := fxSignedEntry(t, a, dev)
	if _, err := e.Leaf().Marshal(); !errors.Is(err, ErrLeafTooLarge) {
		t.Errorf("Leaf().Marshal() of a %d-byte attestation = %v, want %v", len(e.Envelope.Payload), err, ErrLeafTooLarge)
	}
}

func TestParseLeafMalformed(t *testing.T) {
	sig := Signature{KeyID: fxZeroKeyID, Sig: []byte{0xaa}}
	inline, err := (&Leaf{Kind: KindAttestation, PayloadType: "t", Payload: []byte("p"), Signature: sig}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := (&Leaf{Kind: KindSBOM, PayloadType: "t", PayloadSHA256: sha256.Sum256([]byte("p")), PayloadSize: 1, Signature: sig}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	set := func(b []byte, i int, v byte) []byte {
		c := append([]byte(nil), b...)
		c[i] = v
		return c
	}
	hexLeaf := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	zeros := strings.Repeat("00", 32)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"garbage", []byte("this is not a leaf")},
		{"JSON envelope", []byte(`{"payloadType":"t","payload":"cA==","signatures":[]}`)},
		{"bad magic", set(inline, 0, 'V')},
		{"version 2", set(inline, 3, 2)},
		{"kind 0", set(inline, 4, 0)},
		{"kind 6", set(inline, 4, 6)},
		{"mode 2", set(inline, 5, 2)},
		{"blob mode on an inline body", set(inline, 5, payloadBlob)},
		{"inline mode on a blob body", set(blob, 5, payloadInline)},
		{"empty payload type", hexLeaf("76676c01 03 00 00 0001 70 01" + zeros + "01aa")},
		{"empty inline payload", hexLeaf("76676c01 03 00 0174 0000 01" + zeros + "01aa")},
		{"empty blob", hexLeaf("76676c01 02 01 0174" + zeros + "00000000 01" + zeros + "01aa")},
		{"no signature", hexLeaf("76676c01 03 00 0174 0001 70 00")},
		{"two signatures", hexLeaf("76676c01 03 00 0174 0001 70 02" + zeros + "01aa" + zeros + "01aa")},
		{"empty signature", hexLeaf("76676c01 03 00 0174 0001 70 01" + zeros + "00")},
		{"trailing byte", append(append([]byte(nil), inline...), 0)},
		{"trailing leaf", append(append([]byte(nil), inline...), inline...)},
		{"too long", append(append([]byte(nil), inline...), make([]byte, MaxLeafSize)...)},
	}
	for i := range inline {
		tests = append(tests, struct {
			name string
			in   []byte
		}{fmt.Sprintf("inline truncated to %d bytes", i), inline[:i]})
	}
	for i := range blob {
		tests = append(tests, struct {
			name string
			in   []byte
		}{fmt.Sprintf("blob truncated to %d bytes", i), blob[:i]})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseLeaf(tc.in)
			if !errors.Is(err, ErrLeaf) {
				t.Errorf("ParseLeaf(%x) = %+v, %v, want %v", tc.in, l, err, ErrLeaf)
			}
		})
	}
}

// TestLeafDeterminism checks that the leaf depends on the decoded envelope
// only: not on the base64 alphabet or the JSON layout of its submission.
func TestLeafDeterminism(t *testing.T) {
	mfr := fxSeededKey(t, AlgEd25519, "determinism manufacturer")
	dev := fxSeededKey(t, AlgEd25519, "determinism device")
	// Three '~' (0x7e) in a row put one at the end of a 3-byte group, which
	// standard base64 encodes as '+' and URL base64 as '-'.
	payload := fxMutated(t, PredicateEnrollment, fxEnrollment(t, fxUDI, dev, mfr), func(p *Enrollment, _ *Statement) {
		p.Model = "IP-300 ~~~"
	})
	env, err := SignEnvelope(PayloadTypeInToto, payload, mfr)
	if err != nil {
		t.Fatal(err)
	}
	std, err := env.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.URLEncoding.EncodeToString
	url := "{\n  \"signatures\": [\n    {\"sig\": \"" + b64(env.Signatures[0].Sig) + "\", \"keyid\": \"" + env.Signatures[0].KeyID +
		"\"}\n  ],\n  \"payload\": \"" + b64(env.Payload) + "\",\n  \"payloadType\": \"" + env.PayloadType + "\"\n}\n"
	if !strings.Contains(base64.StdEncoding.EncodeToString(env.Payload), "+") {
		t.Fatalf("test setup: the standard base64 form of the payload has no '+'")
	}
	var leaves [][]byte
	for _, in := range [][]byte{std, []byte(url)} {
		e, err := ParseEntry(in)
		if err != nil {
			t.Fatalf("ParseEntry(%q) = %v", in, err)
		}
		l, err := e.Leaf().Marshal()
		if err != nil {
			t.Fatalf("Leaf().Marshal() = %v", err)
		}
		leaves = append(leaves, l)
	}
	if !bytes.Equal(leaves[0], leaves[1]) {
		t.Errorf("leaf of the URL-base64, re-spaced envelope differs:\n%x\nwant\n%x", leaves[1], leaves[0])
	}
	// The same content signed again by Ed25519 gives the same leaf too.
	again, err := SignEnvelope(PayloadTypeInToto, env.Payload, mfr)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEntry(again)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := e.Leaf().Marshal(); err != nil || !bytes.Equal(l, leaves[0]) {
		t.Errorf("leaf of the re-signed envelope = %x, %v, want %x", l, err, leaves[0])
	}
}
