package client

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fxManufacturer is one manufacturer of a trust-roots file a test writes.
type fxManufacturer struct {
	Name     string        `json:"name"`
	Prefixes []string      `json:"udiPrefixes"`
	Keys     []*PrivateKey `json:"-"`
	PEMs     []string      `json:"keys"`
}

// fxRootsJSON writes a trust-roots file for ms.
func fxRootsJSON(t testing.TB, ms ...fxManufacturer) []byte {
	t.Helper()
	for i := range ms {
		if ms[i].PEMs == nil {
			for _, k := range ms[i].Keys {
				ms[i].PEMs = append(ms[i].PEMs, string(k.Public().PEM()))
			}
		}
	}
	b, err := json.MarshalIndent(map[string]any{"manufacturers": ms}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trustView is what a test compares of TrustRoots: names, prefixes, key IDs.
type trustView struct {
	Name     string
	Prefixes []string
	KeyIDs   []string
}

func viewRoots(tr *TrustRoots) []trustView {
	var v []trustView
	for _, m := range tr.Manufacturers {
		mv := trustView{Name: m.Name}
		for _, p := range m.UDIPrefixes {
			mv.Prefixes = append(mv.Prefixes, p.String())
		}
		for _, k := range m.Keys {
			mv.KeyIDs = append(mv.KeyIDs, k.ID())
		}
		v = append(v, mv)
	}
	return v
}

func TestParseTrustRoots(t *testing.T) {
	acme := fxNewKey(t, AlgEd25519)
	acme2 := fxNewKey(t, AlgP256)
	other := fxNewKey(t, AlgP256)
	valid := fxRootsJSON(t,
		fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix, "HIBCC:A123"}, Keys: []*PrivateKey{acme, acme2}},
		fxManufacturer{Name: "Other", Prefixes: []string{otherPrefixFor(t)}, Keys: []*PrivateKey{other}},
	)
	wantValid := []trustView{
		{"Acme", []string{fxAcmePrefix, "hibcc:A123"}, []string{acme.Public().ID(), acme2.Public().ID()}},
		{"Other", []string{fxOtherPrefix}, []string{other.Public().ID()}},
	}
	one := func(m fxManufacturer) string { return string(fxRootsJSON(t, m)) }
	acmeWith := func(mut func(*fxManufacturer)) string {
		m := fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{acme}}
		mut(&m)
		return one(m)
	}
	tests := []struct {
		name    string
		in      string
		want    []trustView
		wantErr error // nil with anyErr set: some error, no sentinel promised
		anyErr  bool
	}{
		{"two manufacturers", string(valid), wantValid, nil, false},
		{"no manufacturers", `{"manufacturers":[]}`, nil, nil, false},
		{"empty object", `{}`, nil, nil, false},
		{"no prefixes", acmeWith(func(m *fxManufacturer) { m.Prefixes = nil }), []trustView{{"Acme", nil, []string{acme.Public().ID()}}}, nil, false},

		{"not JSON", `manufacturers: []`, nil, ErrMalformedJSON, true},
		{"unknown field", `{"manufacturers":[],"witnesses":[]}`, nil, ErrMalformedJSON, true},
		{"unknown manufacturer field", strings.Replace(acmeWith(func(*fxManufacturer) {}), `"name"`, `"country":"CH","name"`, 1), nil, ErrMalformedJSON, true},
		{"trailing data", string(valid) + `{"manufacturers":[]}`, nil, ErrMalformedJSON, true},
		{"repeated member", `{"manufacturers":[],"manufacturers":[]}`, nil, ErrMalformedJSON, true},
		{"key not a string", `{"manufacturers":[{"name":"A","udiPrefixes":[],"keys":[1]}]}`, nil, ErrMalformedJSON, true},
		{"bad prefix", acmeWith(func(m *fxManufacturer) { m.Prefixes = []string{"gs1:06"} }), nil, ErrUDI, true},
		{"unknown issuer", acmeWith(func(m *fxManufacturer) { m.Prefixes = []string{"ean:0614141"} }), nil, ErrUDI, true},
		{"bad key", acmeWith(func(m *fxManufacturer) {
			m.PEMs = []string{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}
		}), nil, ErrKey, true},
		{"two keys in one PEM string", acmeWith(func(m *fxManufacturer) {
			m.PEMs = []string{string(acme.Public().PEM()) + string(acme2.Public().PEM())}
		}), nil, ErrKey, true},
		{"no name", acmeWith(func(m *fxManufacturer) { m.Name = "" }), nil, nil, true},
		{"name too long", acmeWith(func(m *fxManufacturer) { m.Name = strings.Repeat("n", maxText+1) }), nil, nil, true},
		{"no keys", acmeWith(func(m *fxManufacturer) { m.Keys = nil }), nil, nil, true},
		{"key listed twice", acmeWith(func(m *fxManufacturer) { m.Keys = []*PrivateKey{acme, acme} }), nil, nil, true},
		{"duplicate name", string(fxRootsJSON(t,
			fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{acme}},
			fxManufacturer{Name: "Acme", Prefixes: []string{fxOtherPrefix}, Keys: []*PrivateKey{other}})), nil, nil, true},
		{"key of two manufacturers", string(fxRootsJSON(t,
			fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{acme}},
			fxManufacturer{Name: "Other", Prefixes: []string{fxOtherPrefix}, Keys: []*PrivateKey{other, acme}})), nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTrustRoots([]byte(tc.in))
			if (err != nil) != tc.anyErr || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("ParseTrustRoots(%.300q) = %v, want error %v (any error: %v)", tc.in, err, tc.wantErr, tc.anyErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, viewRoots(tr)); diff != "" {
				t.Errorf("ParseTrustRoots(%.300q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}

	tr, err := ParseTrustRoots(valid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keyID string
		want  string
	}{
		{acme.Public().ID(), "Acme"},
		{acme2.Public().ID(), "Acme"},
		{other.Public().ID(), "Other"},
		{fxNewKey(t, AlgEd25519).Public().ID(), ""},
		{"", ""},
	} {
		got := ""
		if m := tr.ManufacturerOf(tc.keyID); m != nil {
			got = m.Name
		}
		if got != tc.want {
			t.Errorf("ManufacturerOf(%.12s) = %q, want %q", tc.keyID, got, tc.want)
		}
	}
	if m := tr.Manufacturers[0]; m.key(acme2.Public().ID()) != m.Keys[1] || m.key(other.Public().ID()) != nil {
		t.Errorf("Manufacturer.key finds another manufacturer's key or misses its own")
	}
}

// otherPrefixFor returns fxOtherPrefix after checking that it covers
// fxOtherUDI, so that the fixtures stay consistent.
func otherPrefixFor(t testing.TB) string {
	t.Helper()
	p, err := ParseUDIPrefix(fxOtherPrefix)
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseUDI(fxOtherUDI)
	if err != nil {
		t.Fatalf("ParseUDI(%q) = %v", fxOtherUDI, err)
	}
	if !p.Matches(u.DI) {
		t.Fatalf("%s does not match %s", fxOtherPrefix, fxOtherUDI)
	}
	return fxOtherPrefix
}

func TestTrustRootsMarshal(t *testing.T) {
	in := fxRootsJSON(t,
		fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix, "iccbba:A9999"}, Keys: []*PrivateKey{fxNewKey(t, AlgEd25519), fxNewKey(t, AlgP256)}},
		fxManufacturer{Name: "Keys only", Keys: []*PrivateKey{fxNewKey(t, AlgP256)}},
	)
	tr, err := ParseTrustRoots(in)
	if err != nil {
		t.Fatal(err)
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
	if !strings.HasSuffix(string(b), "}\n") || !strings.Contains(string(b), "\n  ") {
		t.Errorf("Marshal() = %q, want indented JSON ending in a newline", b)
	}
}

func TestManufacturerCovers(t *testing.T) {
	tr, err := ParseTrustRoots(fxRootsJSON(t, fxManufacturer{
		Name: "Acme", Prefixes: []string{fxAcmePrefix, "hibcc:A123"}, Keys: []*PrivateKey{fxNewKey(t, AlgEd25519)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := tr.Manufacturers[0]
	tests := []struct {
		di   string
		want bool
	}{
		{fxDI, true},
		{"(01)10614141999993", true}, // another packaging level, same company prefix
		{fxOtherDI, false},
		{"+A123BJC5D6E71G", true},
		{"=/A9999XYZ100", false},
	}
	for _, tc := range tests {
		d, err := ParseDI(tc.di)
		if err != nil {
			t.Fatalf("ParseDI(%q) = %v", tc.di, err)
		}
		if got := m.Covers(d); got != tc.want {
			t.Errorf("Covers(%q) = %v, want %v", tc.di, got, tc.want)
		}
	}
	if m.Covers(DI{}) {
		t.Errorf("Covers(DI{}) = true, want false")
	}
}
