package client

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseUDI checks that ParseUDI, ParseDI and ParseUDIPrefix never
// panic, refuse only with errors wrapping ErrUDI, and that whatever they
// accept survives a round trip through String unchanged.
func FuzzParseUDI(f *testing.F) {
	for _, s := range []string{
		"",
		"(01)00614141999996",
		"(01)00614141999996(21)SN-0001",
		"(01)00614141999996(11)250115(17)300131(10)LOT42(21)SN-0001",
		"(01)00614141999996(21)SN-0001(10)LOT42(17)300131(11)250115",
		`(01)00614141999996(21)!"%&'*+,-./:;<=>?_`,
		"(01)00614141999996(17)280229(21)1",
		"(01)00614141999995(21)1",
		"(01)00614141999996(21)A(21)B",
		"(01)00614141999996(240)X(21)1",
		"(01",
		"(21)SN1",
		"+A123BJC5D6E71G",
		"+A123BJC5D6E71/$+12345M",
		"+A123BJC5D6E71/$+SNN ",
		"+A123BJC5D6E7M1 ",
		"+A123BJC5D6E71/$$LOT1.",
		"+",
		"=/A9999XYZ100",
		"=/A9999XYZ100=,000025",
		"=/a9999XYZ100=,000025",
		"gs1:0614141",
		"HIBCC:A123",
		"iccbba:A9999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUDI(s)
		if err != nil {
			if !errors.Is(err, ErrUDI) {
				t.Fatalf("ParseUDI(%q) error %v does not wrap ErrUDI", s, err)
			}
		} else {
			c := u.String()
			u2, err := ParseUDI(c)
			if err != nil {
				t.Fatalf("ParseUDI(%q) (String of ParseUDI(%q)) error: %v", c, s, err)
			}
			if diff := cmp.Diff(u, u2); diff != "" {
				t.Fatalf("ParseUDI(%q) = %v, want %v (-want +got):\n%s", c, u2, u, diff)
			}
			if c2 := u2.String(); c2 != c {
				t.Fatalf("String() = %q then %q, want a fixed point", c, c2)
			}
			id := u.DeviceID()
			d, err := ParseUDI(id)
			if err != nil {
				t.Fatalf("ParseUDI(%q) (DeviceID of ParseUDI(%q)) error: %v", id, s, err)
			}
			if want := (UDI{DI: u.DI, Serial: u.Serial}); d != want {
				t.Fatalf("ParseUDI(%q) = %v, want %v", id, d, want)
			}
			di, err := ParseDI(u.DI.String())
			if err != nil || di != u.DI {
				t.Fatalf("ParseDI(%q) = %v, %v, want %v", u.DI.String(), di, err, u.DI)
			}
		}

		d, err := ParseDI(s)
		if err != nil {
			if !errors.Is(err, ErrUDI) {
				t.Fatalf("ParseDI(%q) error %v does not wrap ErrUDI", s, err)
			}
		} else {
			c := d.String()
			d2, err := ParseDI(c)
			if err != nil {
				t.Fatalf("ParseDI(%q) (String of ParseDI(%q)) error: %v", c, s, err)
			}
			if d2 != d {
				t.Fatalf("ParseDI(%q) = %v, want %v", c, d2, d)
			}
		}

		p, err := ParseUDIPrefix(s)
		if err != nil {
			if !errors.Is(err, ErrUDI) {
				t.Fatalf("ParseUDIPrefix(%q) error %v does not wrap ErrUDI", s, err)
			}
		} else {
			p2, err := ParseUDIPrefix(p.String())
			if err != nil || p2 != p {
				t.Fatalf("ParseUDIPrefix(%q) = %v, %v, want %v", p.String(), p2, err, p)
			}
		}
	})
}
