package client

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatement(t *testing.T) {
	d256 := strings.Repeat("ab", 32)
	stmt := func(subject, rest string) string {
		return `{"_type":"https://in-toto.io/Statement/v1","subject":` + subject + rest + `}`
	}
	sub := `[{"name":"fw.bin","digest":{"sha256":"` + d256 + `"}}]`
	pred := `,"predicateType":"https://vigil.dev/attestation/v1","predicate":{"a":1}`
	valid := stmt(sub, pred)
	want := &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: "fw.bin", Digest: map[string]string{"sha256": d256}}},
		PredicateType: PredicateAttestation,
		Predicate:     json.RawMessage(`{"a":1}`),
	}
	tests := []struct {
		name string
		in   string
		want *Statement
		err  error
	}{
		{"valid", valid, want, nil},
		{"whitespace", "  " + strings.ReplaceAll(valid, ",", " ,\n ") + "\n", &Statement{
			Type: StatementType, Subject: want.Subject, PredicateType: PredicateAttestation,
			Predicate: json.RawMessage(`{"a":1}`)}, nil},
		{"unknown predicate type", stmt(sub, `,"predicateType":"https://example.com/EVIL","predicate":{}`), &Statement{
			Type: StatementType, Subject: want.Subject, PredicateType: "https://example.com/EVIL", Predicate: json.RawMessage(`{}`)}, nil},
		{"all digest algorithms", stmt(`[{"uri":"u","digest":{"sha256":"`+d256+`","sha384":"`+strings.Repeat("cd", 48)+
			`","sha512":"`+strings.Repeat("ef", 64)+`"}}]`, `,"predicateType":"p","predicate":{}`), &Statement{
			Type: StatementType,
			Subject: []Subject{{URI: "u", Digest: map[string]string{
				"sha256": d256, "sha384": strings.Repeat("cd", 48), "sha512": strings.Repeat("ef", 64)}}},
			PredicateType: "p", Predicate: json.RawMessage(`{}`)}, nil},
		{"same names in sibling objects", stmt(`[{"name":"a","digest":{"sha256":"`+d256+`"}},{"name":"b","digest":{"sha256":"`+d256+`"}}]`,
			`,"predicateType":"p","predicate":{"x":{"name":1},"y":{"name":2}}`), &Statement{
			Type:          StatementType,
			Subject:       []Subject{{Name: "a", Digest: map[string]string{"sha256": d256}}, {Name: "b", Digest: map[string]string{"sha256": d256}}},
			PredicateType: "p", Predicate: json.RawMessage(`{"x":{"name":1},"y":{"name":2}}`)}, nil},

		{"not JSON", `EVIL`, nil, ErrMalformedJSON},
		{"unknown field", strings.Replace(valid, `"_type"`, `"EVIL":0,"_type"`, 1), nil, ErrMalformedJSON},
		{"unknown subject field", strings.Replace(valid, `"name"`, `"EVIL":"x","name"`, 1), nil, ErrMalformedJSON},
		{"trailing data", valid + `{}`, nil, ErrMalformedJSON},
		{"subject of wrong type", stmt(`{}`, pred), nil, ErrMalformedJSON},
		{"repeated predicateType", stmt(sub, pred+`,"predicateType":"https://vigil.dev/enrollment/v1"`), nil, ErrMalformedJSON},
		{"repeated predicateType in another case", stmt(sub, pred+`,"PredicateType":"https://vigil.dev/enrollment/v1"`), nil, ErrMalformedJSON},
		{"repeated digest", strings.Replace(valid, `"sha256":"`+d256+`"`, `"sha256":"`+d256+`","sha256":"`+strings.Repeat("cd", 32)+`"`, 1), nil, ErrMalformedJSON},
		{"repeated name inside the predicate", stmt(sub, `,"predicateType":"p","predicate":{"verdict":"fail","verdict":"pass"}`), nil, ErrMalformedJSON},
		{"wrong _type", strings.Replace(valid, "Statement/v1", "Statement/v0.1", 1), nil, ErrStatement},
		{"no _type", strings.Replace(valid, `"_type":"https://in-toto.io/Statement/v1",`, ``, 1), nil, ErrStatement},
		{"no subject", `{"_type":"https://in-toto.io/Statement/v1"` + pred + `}`, nil, ErrStatement},
		{"empty subject", stmt(`[]`, pred), nil, ErrStatement},
		{"null subject", stmt(`null`, pred), nil, ErrStatement},
		{"subject without digest", stmt(`[{"name":"x"}]`, pred), nil, ErrStatement},
		{"subject with empty digest", stmt(`[{"name":"x","digest":{}}]`, pred), nil, ErrStatement},
		{"unknown digest algorithm", stmt(`[{"digest":{"md5":"`+strings.Repeat("ab", 16)+`"}}]`, pred), nil, ErrStatement},
		{"sha1 digest", stmt(`[{"digest":{"sha1":"`+strings.Repeat("ab", 20)+`"}}]`, pred), nil, ErrStatement},
		{"upper-case digest", stmt(`[{"digest":{"sha256":"`+strings.ToUpper(d256)+`"}}]`, pred), nil, ErrStatement},
		{"short digest", stmt(`[{"digest":{"sha256":"`+d256[2:]+`"}}]`, pred), nil, ErrStatement},
		{"non-hex digest", stmt(`[{"digest":{"sha256":"`+strings.Repeat("g", 64)+`"}}]`, pred), nil, ErrStatement},
		{"sha256-sized sha512", stmt(`[{"digest":{"sha512":"`+d256+`"}}]`, pred), nil, ErrStatement},
		{"second subject bad", stmt(`[{"digest":{"sha256":"`+d256+`"}},{"digest":{"sha256":"EVIL"}}]`, pred), nil, ErrStatement},
		{"no predicateType", stmt(sub, `,"predicate":{}`), nil, ErrStatement},
		{"no predicate", stmt(sub, `,"predicateType":"p"`), nil, ErrStatement},
		{"null predicate", stmt(sub, `,"predicateType":"p","predicate":null`), nil, ErrStatement},
		{"array predicate", stmt(sub, `,"predicateType":"p","predicate":[{}]`), nil, ErrStatement},
		{"string predicate", stmt(sub, `,"predicateType":"p","predicate":"{}"`), nil, ErrStatement},
		{"number predicate", stmt(sub, `,"predicateType":"p","predicate":7`), nil, ErrStatement},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatement([]byte(tc.in))
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("ParseStatement(%q) = %v, want %v", tc.in, err, tc.err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "EVIL") {
					t.Errorf("ParseStatement(%q) error %q repeats the input", tc.in, err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStatement(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestIsLowerHex(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"0", false},
		{"00", true},
		{"0123456789abcdef", true},
		{"ABCDEF", false},
		{"0g", false},
		{"0x00", false},
		{" 00", false},
	}
	for _, tc := range tests {
		if got := isLowerHex(tc.in); got != tc.want {
			t.Errorf("isLowerHex(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !isSHA256Hex(fxFirmwareA) || isSHA256Hex(fxFirmwareA[:62]) || isSHA256Hex(fxFirmwareA+"00") {
		t.Errorf("isSHA256Hex accepts only 64 lower-case hex digits")
	}
}

// TestNewStatement checks the subject NewStatement gives each vigil
// predicate, and that NewEntry accepts the signed result.
func TestNewStatement(t *testing.T) {
	mfr := fxNewKey(t, AlgEd25519)
	dev := fxNewKey(t, AlgP256)
	fa := fxFieldAction(fxFirmwareA)
	tests := []struct {
		name     string
		pred     any
		signer   *PrivateKey
		wantName string
		wantSHA  string
	}{
		{"enrollment", fxEnrollment(t, fxDI+"(10)L1(21)SN-0001", dev, mfr), mfr, fxDI + "(10)L1(21)SN-0001", dev.Public().ID()},
		{"attestation", fxAttestation(fxUDI), dev, fxUDI, fxFirmwareA},
		{"device key revocation", fxRevocation(TargetDeviceKey, dev.Public().ID()), mfr, TargetDeviceKey, dev.Public().ID()},
		{"UDI revocation", fxRevocation(TargetUDI, fxUDI), mfr, TargetUDI, sha256Hex([]byte(fxUDI))},
		{"firmware revocation", fxRevocation(TargetFirmware, fxFirmwareB), mfr, TargetFirmware, fxFirmwareB},
		{"field action", fa, mfr, fa.ID, sha256Hex(fxJSON(t, fa))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NewStatement(fxPredicateType(t, tc.pred), tc.pred)
			if err != nil {
				t.Fatalf("NewStatement = %v", err)
			}
			want := []Subject{{Name: tc.wantName, Digest: map[string]string{"sha256": tc.wantSHA}}}
			if diff := cmp.Diff(want, st.Subject); diff != "" {
				t.Errorf("NewStatement subject (-want +got):\n%s", diff)
			}
			if st.Type != StatementType || string(st.Predicate) != string(fxJSON(t, tc.pred)) {
				t.Errorf("NewStatement = %+v, want type %s and the predicate's JSON", st, StatementType)
			}
			e := fxParseEntry(t, fxSignStatement(t, st, tc.signer))
			if e.SignerKeyID() != tc.signer.Public().ID() {
				t.Errorf("signed entry's signer = %s, want %s", e.SignerKeyID(), tc.signer.Public().ID())
			}
		})
	}

	badPEM := fxEnrollment(t, fxUDI, dev, mfr)
	badPEM.DeviceKey = "x"
	badUDI := fxEnrollment(t, fxUDI, dev, mfr)
	badUDI.UDI = "x"
	for _, tc := range []struct {
		name string
		pred any
		want error
	}{
		{"enrollment by value", *fxEnrollment(t, fxUDI, dev, mfr), ErrPredicateType},
		{"not a predicate", map[string]string{}, ErrPredicateType},
		{"enrollment with bad key", badPEM, ErrKey},
		{"enrollment with bad UDI", badUDI, ErrUDI},
		{"attestation with bad UDI", &Attestation{UDI: "x"}, ErrUDI},
	} {
		if _, err := NewStatement(PredicateEnrollment, tc.pred); !errors.Is(err, tc.want) {
			t.Errorf("NewStatement(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestNewSBOMStatement(t *testing.T) {
	k := fxNewKey(t, AlgEd25519)
	st := NewSBOMStatement(PredicateCycloneDX, []byte(fxCycloneDX), "pump-fw.bin", fxFirmwareA)
	e := fxParseEntry(t, fxSignStatement(t, st, k))
	if e.Kind != KindSBOM || e.FirmwareDigest() != fxFirmwareA || e.Statement.Subject[0].Name != "pump-fw.bin" {
		t.Errorf("signed SBOM statement parsed as kind %v, firmware %s, subject %q; want sbom, %s, pump-fw.bin",
			e.Kind, e.FirmwareDigest(), e.Statement.Subject[0].Name, fxFirmwareA)
	}
}
