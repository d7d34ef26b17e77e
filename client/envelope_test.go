package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEnvelope(t *testing.T) {
	keyID := fxZeroKeyID
	// 0xfb 0xff 0xbf encodes as "+/+/" in standard base64 and "-_-_" in URL
	// base64.
	payload := []byte{0xfb, 0xff, 0xbf}
	want := &Envelope{
		PayloadType: PayloadTypeInToto,
		Payload:     payload,
		Signatures:  []Signature{{KeyID: keyID, Sig: []byte{0, 1, 2}}},
	}
	env := func(payloadB64, sigB64 string) string {
		return `{"payloadType":"application/vnd.in-toto+json","payload":"` + payloadB64 +
			`","signatures":[{"keyid":"` + keyID + `","sig":"` + sigB64 + `"}]}`
	}
	valid := env("+/+/", "AAEC")
	tests := []struct {
		name string
		in   string
		want *Envelope
		err  error
	}{
		{"standard base64", valid, want, nil},
		{"URL base64", env("-_-_", "AAEC"), want, nil},
		{"whitespace and member order", "\n{ \"signatures\" : [ { \"sig\" : \"AAEC\" , \"keyid\" : \"" + keyID +
			"\" } ] ,\n\t\"payload\" : \"+/+/\" , \"payloadType\" : \"application/vnd.in-toto+json\" }\n", want, nil},
		{"trailing newline", valid + "\n", want, nil},
		{"two signatures", `{"payloadType":"t","payload":"AA==","signatures":[{"keyid":"a","sig":"AA=="},{"keyid":"b","sig":""}]}`,
			&Envelope{PayloadType: "t", Payload: []byte{0}, Signatures: []Signature{{"a", []byte{0}}, {"b", []byte{}}}}, nil},
		{"no signatures", `{"payloadType":"t","payload":"AA=="}`, &Envelope{PayloadType: "t", Payload: []byte{0}}, nil},

		{"empty", ``, nil, ErrMalformedJSON},
		{"not JSON", `EVIL`, nil, ErrMalformedJSON},
		{"truncated", valid[:len(valid)-2], nil, ErrMalformedJSON},
		{"array", `[` + valid + `]`, nil, ErrMalformedJSON},
		{"unknown field", strings.Replace(valid, `{"payloadType"`, `{"EVIL":1,"payloadType"`, 1), nil, ErrMalformedJSON},
		{"unknown signature field", strings.Replace(valid, `{"keyid"`, `{"EVIL":"x","keyid"`, 1), nil, ErrMalformedJSON},
		{"duplicate field", strings.Replace(valid, `"payload":"+/+/"`, `"payload":"+/+/","payload":"AAAA"`, 1), nil, ErrMalformedJSON},
		{"duplicate field in another case", strings.Replace(valid, `"payload":"+/+/"`, `"payload":"+/+/","Payload":"AAAA"`, 1), nil, ErrMalformedJSON},
		{"trailing object", valid + `{}`, nil, ErrMalformedJSON},
		{"trailing text", valid + ` EVIL`, nil, ErrMalformedJSON},
		{"trailing bracket", valid + `]`, nil, ErrMalformedJSON},
		{"payload of wrong type", `{"payloadType":"t","payload":5}`, nil, ErrMalformedJSON},
		{"signatures of wrong type", `{"payloadType":"t","payload":"AA==","signatures":{}}`, nil, ErrMalformedJSON},
		{"bad base64 payload", env("EVIL!", "AAEC"), nil, ErrMalformedBase64},
		{"unpadded payload", env("aGVsbG8", "AAEC"), nil, ErrMalformedBase64},
		{"mixed alphabets", env("+_+_", "AAEC"), nil, ErrMalformedBase64},
		{"bad base64 signature", env("+/+/", "EVIL!"), nil, ErrMalformedBase64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvelope([]byte(tc.in))
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("ParseEnvelope(%q) = %v, want %v", tc.in, err, tc.err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "EVIL") {
					t.Errorf("ParseEnvelope(%q) error %q repeats the input", tc.in, err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseEnvelope(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestEnvelopeMarshalJSON(t *testing.T) {
	e := &Envelope{
		PayloadType: PayloadTypeInToto,
		Payload:     []byte{0xfb, 0xff, 0xbf, 'x'},
		Signatures:  []Signature{{KeyID: fxZeroKeyID, Sig: []byte{0xfb, 0xff}}},
	}
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON = %v", err)
	}
	want := `{"payloadType":"application/vnd.in-toto+json","payload":"+/+/eA==","signatures":[{"keyid":"` + fxZeroKeyID + `","sig":"+/8="}]}`
	if string(b) != want {
		t.Errorf("MarshalJSON() = %s, want %s", b, want)
	}
	got, err := ParseEnvelope(b)
	if err != nil {
		t.Fatalf("ParseEnvelope(MarshalJSON()) = %v", err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("ParseEnvelope(MarshalJSON()) mismatch (-want +got):\n%s", diff)
	}
	// An envelope without signatures encodes an empty list, not null.
	b, err = (&Envelope{PayloadType: "t", Payload: []byte("p")}).MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"signatures":[]`) {
		t.Errorf("MarshalJSON() of an unsigned envelope = %s, %v, want an empty signatures list", b, err)
	}
}

func TestEnvelopePAE(t *testing.T) {
	// The DSSE v1 pre-authentication encoding, from the DSSE protocol.
	e := &Envelope{PayloadType: PayloadTypeInToto, Payload: []byte("hello world")}
	const want = "DSSEv1 28 application/vnd.in-toto+json 11 hello world"
	if got := string(e.PAE()); got != want {
		t.Errorf("PAE() = %q, want %q", got, want)
	}
}

func TestSignEnvelope(t *testing.T) {
	for _, alg := range []string{AlgEd25519, AlgP256} {
		t.Run(alg, func(t *testing.T) {
			k := fxNewKey(t, alg)
			e, err := SignEnvelope(PayloadTypeInToto, []byte(`{}`), k)
			if err != nil {
				t.Fatalf("SignEnvelope = %v", err)
			}
			if len(e.Signatures) != 1 {
				t.Fatalf("SignEnvelope gave %d signatures, want 1", len(e.Signatures))
			}
			s := e.Signatures[0]
			if s.KeyID != k.Public().ID() {
				t.Errorf("keyid = %s, want the signer's key ID %s", s.KeyID, k.Public().ID())
			}
			if !k.Public().Verify(e.PAE(), s.Sig) {
				t.Errorf("the signature does not verify over the PAE")
			}
			if k.Public().Verify(e.Payload, s.Sig) {
				t.Errorf("the signature verifies over the bare payload, want over the PAE only")
			}
		})
	}
}

func TestDecodeB64(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"", []byte{}, true},
		{"+/8=", []byte{0xfb, 0xff}, true},
		{"-_8=", []byte{0xfb, 0xff}, true},
		{"-_8", nil, false},
		{"+/8", nil, false},
		{"+_8=", nil, false},
		{"====", nil, false},
	}
	for _, tc := range tests {
		got, err := decodeB64(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("decodeB64(%q) error = %v, want ok = %v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && string(got) != string(tc.want) {
			t.Errorf("decodeB64(%q) = %x, want %x", tc.in, got, tc.want)
		}
	}
}
