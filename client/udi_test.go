package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hibcTestAlphabet lists the HIBC characters in value order (0-9 = 0-9,
// A-Z = 10-35, then - . space $ / + %). The tests compute check characters
// from this table rather than through the implementation's hibcCheck, so a
// mistake in one is not hidden by the same mistake in the other.
const hibcTestAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"

// withHIBCCheck appends the HIBC modulo-43 check character to s.
func withHIBCCheck(t *testing.T, s string) string {
	t.Helper()
	sum := 0
	for _, c := range []byte(s) {
		v := strings.IndexByte(hibcTestAlphabet, c)
		if v < 0 {
			t.Fatalf("withHIBCCheck(%q): %q is not an HIBC character", s, c)
		}
		sum += v
	}
	return s + string(hibcTestAlphabet[sum%43])
}

// wrongHIBCCheck appends a check character that is in the HIBC set but is
// not the right one.
func wrongHIBCCheck(t *testing.T, s string) string {
	t.Helper()
	right := withHIBCCheck(t, s)
	c := right[len(right)-1]
	v := (strings.IndexByte(hibcTestAlphabet, c) + 1) % 43
	return s + string(hibcTestAlphabet[v])
}

const (
	testGTIN = "00614141999996" // GS1's example GTIN; check digit 6 is correct
	testLIC  = "A123"
)

var (
	testGS1DI    = DI{Issuer: GS1, Code: testGTIN}
	testHIBCCDI  = DI{Issuer: HIBCC, Code: "A123BJC5D6E71"}
	testICCBBADI = DI{Issuer: ICCBBA, Code: "A9999XYZ100"}
)

func TestHIBCTestTable(t *testing.T) {
	// Pin the test's own table to the example printed in ANSI/HIBC 2.6,
	// whose check character is G.
	if got, want := withHIBCCheck(t, "+A123BJC5D6E71"), "+A123BJC5D6E71G"; got != want {
		t.Fatalf("withHIBCCheck = %q, want %q", got, want)
	}
}

func TestParseUDI(t *testing.T) {
	hibcSerial := withHIBCCheck(t, "+A123BJC5D6E71/$+12345")
	if hibcSerial != "+A123BJC5D6E71/$+12345M" {
		t.Fatalf("HIBCC fixture = %q, want the value in the file comment", hibcSerial)
	}
	tests := []struct {
		name, in string
		want     UDI
		wantErr  bool
	}{
		// GS1.
		{name: "gs1 minimal", in: "(01)00614141999996(21)SN-0001",
			want: UDI{DI: testGS1DI, Serial: "SN-0001"}},
		{name: "gs1 all AIs canonical", in: "(01)00614141999996(11)250115(17)300131(10)LOT42(21)SN-0001",
			want: UDI{DI: testGS1DI, Serial: "SN-0001", Lot: "LOT42", Expiry: "300131", Manufactured: "250115"}},
		{name: "gs1 reordered", in: "(01)00614141999996(21)SN-0001(10)LOT42(17)300131(11)250115",
			want: UDI{DI: testGS1DI, Serial: "SN-0001", Lot: "LOT42", Expiry: "300131", Manufactured: "250115"}},
		{name: "gs1 padded GTIN-12", in: "(01)00000001234565(21)1",
			want: UDI{DI: DI{Issuer: GS1, Code: "00000001234565"}, Serial: "1"}},
		{name: "gs1 indicator digit 1", in: "(01)10614141999993(21)1",
			want: UDI{DI: DI{Issuer: GS1, Code: "10614141999993"}, Serial: "1"}},
		{name: "gs1 day 00", in: "(01)00614141999996(17)301100(21)1",
			want: UDI{DI: testGS1DI, Serial: "1", Expiry: "301100"}},
		{name: "gs1 leap day", in: "(01)00614141999996(17)280229(21)1",
			want: UDI{DI: testGS1DI, Serial: "1", Expiry: "280229"}},
		{name: "gs1 serial of 20", in: "(01)00614141999996(21)ABCDEFGHIJ0123456789",
			want: UDI{DI: testGS1DI, Serial: "ABCDEFGHIJ0123456789"}},
		{name: "gs1 set 82 punctuation", in: `(01)00614141999996(21)!"%&'*+,-./:;<=>?_`,
			want: UDI{DI: testGS1DI, Serial: `!"%&'*+,-./:;<=>?_`}},
		{name: "gs1 lower case serial", in: "(01)00614141999996(21)sn1",
			want: UDI{DI: testGS1DI, Serial: "sn1"}},
		{name: "gs1 wrong check digit", in: "(01)00614141999995(21)1", wantErr: true},
		{name: "gs1 GTIN-13 unpadded", in: "(01)0614141999996(21)1", wantErr: true},
		{name: "gs1 GTIN-14 plus a digit", in: "(01)006141419999960(21)1", wantErr: true},
		{name: "gs1 GTIN with letter", in: "(01)0061414199999A(21)1", wantErr: true},
		{name: "gs1 missing 01", in: "(21)SN1", wantErr: true},
		{name: "gs1 01 not first", in: "(21)SN1(01)00614141999996", wantErr: true},
		{name: "gs1 missing 21", in: "(01)00614141999996(10)LOT42", wantErr: true},
		{name: "gs1 DI only", in: "(01)00614141999996", wantErr: true},
		{name: "gs1 unknown AI", in: "(01)00614141999996(99)X(21)1", wantErr: true},
		{name: "gs1 unknown 3-digit AI", in: "(01)00614141999996(240)X(21)1", wantErr: true},
		{name: "gs1 empty AI", in: "(01)00614141999996()X(21)1", wantErr: true},
		{name: "gs1 duplicate 21", in: "(01)00614141999996(21)A(21)B", wantErr: true},
		{name: "gs1 duplicate 01", in: "(01)00614141999996(01)00614141999996(21)1", wantErr: true},
		{name: "gs1 duplicate 17", in: "(01)00614141999996(17)300101(17)300101(21)1", wantErr: true},
		{name: "gs1 month 13", in: "(01)00614141999996(17)301301(21)1", wantErr: true},
		{name: "gs1 month 00", in: "(01)00614141999996(11)300001(21)1", wantErr: true},
		{name: "gs1 day 32", in: "(01)00614141999996(17)300132(21)1", wantErr: true},
		{name: "gs1 31 April", in: "(01)00614141999996(17)300431(21)1", wantErr: true},
		{name: "gs1 29 February non-leap", in: "(01)00614141999996(17)270229(21)1", wantErr: true},
		{name: "gs1 date of 5 digits", in: "(01)00614141999996(17)30013(21)1", wantErr: true},
		{name: "gs1 date with letter", in: "(01)00614141999996(11)3001A1(21)1", wantErr: true},
		{name: "gs1 serial of 21", in: "(01)00614141999996(21)ABCDEFGHIJ0123456789X", wantErr: true},
		{name: "gs1 lot of 21", in: "(01)00614141999996(10)ABCDEFGHIJ0123456789X(21)1", wantErr: true},
		{name: "gs1 hash in serial", in: "(01)00614141999996(21)SN#1", wantErr: true},
		{name: "gs1 close paren in serial", in: "(01)00614141999996(21)SN)1", wantErr: true},
		{name: "gs1 non-ASCII serial", in: "(01)00614141999996(21)SN\u00e91", wantErr: true},
		{name: "gs1 NUL in serial", in: "(01)00614141999996(21)SN\x001", wantErr: true},
		{name: "gs1 empty lot", in: "(01)00614141999996(10)(21)1", wantErr: true},
		{name: "gs1 empty serial", in: "(01)00614141999996(21)", wantErr: true},
		{name: "gs1 unterminated AI", in: "(01", wantErr: true},
		{name: "gs1 space between elements", in: "(01)00614141999996 (21)1", wantErr: true},
		{name: "gs1 space in serial", in: "(01)00614141999996(21)SN 1", wantErr: true},
		{name: "gs1 trailing newline", in: "(01)00614141999996(21)1\n", wantErr: true},
		{name: "gs1 tab", in: "(01)\t00614141999996(21)1", wantErr: true},
		{name: "gs1 over 256 bytes", in: "(01)00614141999996(21)" + strings.Repeat("A", 235), wantErr: true},

		// HIBCC.
		{name: "hibcc serial", in: hibcSerial,
			want: UDI{DI: testHIBCCDI, Serial: "12345"}},
		{name: "hibcc serial with - and .", in: withHIBCCheck(t, "+A123BJC5D6E71/$+SN-0001.A"),
			want: UDI{DI: testHIBCCDI, Serial: "SN-0001.A"}},
		{name: "hibcc one-character product number", in: withHIBCCheck(t, "+A123P1/$+1"),
			want: UDI{DI: DI{Issuer: HIBCC, Code: "A123P1"}, Serial: "1"}},
		{name: "hibcc check character is a space", in: "+A123BJC5D6E71/$+SNN ",
			want: UDI{DI: testHIBCCDI, Serial: "SNN"}},
		{name: "hibcc bad check character", in: wrongHIBCCheck(t, "+A123BJC5D6E71/$+12345"), wantErr: true},
		{name: "hibcc check character not HIBC", in: "+A123BJC5D6E71/$+12345#", wantErr: true},
		{name: "hibcc no check character", in: "+A123BJC5D6E71/$+12345", wantErr: true},
		{name: "hibcc lowercase", in: "+a123BJC5D6E71/$+12345M", wantErr: true},
		{name: "hibcc lowercase serial", in: "+A123BJC5D6E71/$+sn1X", wantErr: true},
		{name: "hibcc DI only", in: "+A123BJC5D6E71G", wantErr: true},
		{name: "hibcc lot flag", in: withHIBCCheck(t, "+A123BJC5D6E71/$$LOT1"), wantErr: true},
		{name: "hibcc date flag", in: withHIBCCheck(t, "+A123BJC5D6E71/$$3301231LOT1"), wantErr: true},
		{name: "hibcc empty serial", in: withHIBCCheck(t, "+A123BJC5D6E71/$+"), wantErr: true},
		{name: "hibcc serial of 19", in: withHIBCCheck(t, "+A123BJC5D6E71/$+ABCDEFGHIJ012345678"), wantErr: true},
		{name: "hibcc slash in serial", in: withHIBCCheck(t, "+A123BJC5D6E71/$+SN/1"), wantErr: true},
		{name: "hibcc dollar in serial", in: withHIBCCheck(t, "+A123BJC5D6E71/$+SN$1"), wantErr: true},
		{name: "hibcc space in serial", in: withHIBCCheck(t, "+A123BJC5D6E71/$+SN 1"), wantErr: true},
		{name: "hibcc LIC starting with a digit", in: withHIBCCheck(t, "+1123BJC5D6E71/$+1"), wantErr: true},
		{name: "hibcc unit of measure not a digit", in: withHIBCCheck(t, "+A123BJC5D6E7X/$+1"), wantErr: true},
		{name: "hibcc no product number", in: withHIBCCheck(t, "+A1231/$+1"), wantErr: true},
		{name: "hibcc product number of 19", in: withHIBCCheck(t, "+A123ABCDEFGHIJ0123456781/$+1"), wantErr: true},
		{name: "hibcc dash in product number", in: withHIBCCheck(t, "+A123BJ-C51/$+1"), wantErr: true},
		{name: "hibcc just plus", in: "+", wantErr: true},

		// ICCBBA.
		{name: "iccbba", in: "=/A9999XYZ100=,000025",
			want: UDI{DI: testICCBBADI, Serial: "000025"}},
		{name: "iccbba DI only", in: "=/A9999XYZ100", wantErr: true},
		{name: "iccbba short product code", in: "=/A9999XYZ10=,000025", wantErr: true},
		{name: "iccbba long product code", in: "=/A9999XYZ1000=,000025", wantErr: true},
		{name: "iccbba lowercase", in: "=/a9999XYZ100=,000025", wantErr: true},
		{name: "iccbba short serial", in: "=/A9999XYZ100=,00025", wantErr: true},
		{name: "iccbba long serial", in: "=/A9999XYZ100=,0000250", wantErr: true},
		{name: "iccbba punctuation in serial", in: "=/A9999XYZ100=,0000-5", wantErr: true},
		{name: "iccbba wrong flag", in: "=A9999XYZ100=,000025", wantErr: true},
		{name: "iccbba space", in: "=/A9999 XYZ100=,000025", wantErr: true},

		// Neither.
		{name: "empty", in: "", wantErr: true},
		{name: "no agency", in: "00614141999996", wantErr: true},
		{name: "leading space", in: " (01)00614141999996(21)1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUDI(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseUDI(%q) = %v, want error", tt.in, got)
				}
				if !errors.Is(err, ErrUDI) {
					t.Fatalf("ParseUDI(%q) error %v does not wrap ErrUDI", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUDI(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseUDI(%q) = %v, want %v (-want +got):\n%s", tt.in, got, tt.want, diff)
			}
			s := got.String()
			again, err := ParseUDI(s)
			if err != nil {
				t.Fatalf("ParseUDI(%q) (String of ParseUDI(%q)) error: %v", s, tt.in, err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Fatalf("ParseUDI(%q) = %v, want %v (-want +got):\n%s", s, again, got, diff)
			}
		})
	}
}

func TestUDIString(t *testing.T) {
	tests := []struct {
		name, in     string
		want, device string
	}{
		{name: "gs1 canonical order",
			in:     "(01)00614141999996(21)SN-0001(10)LOT42(17)300131(11)250115",
			want:   "(01)00614141999996(11)250115(17)300131(10)LOT42(21)SN-0001",
			device: "(01)00614141999996(21)SN-0001"},
		{name: "gs1 serial only",
			in:     "(01)00614141999996(21)SN-0001",
			want:   "(01)00614141999996(21)SN-0001",
			device: "(01)00614141999996(21)SN-0001"},
		{name: "gs1 lot before serial",
			in:     "(01)00614141999996(21)7(10)L",
			want:   "(01)00614141999996(10)L(21)7",
			device: "(01)00614141999996(21)7"},
		{name: "hibcc",
			in:     "+A123BJC5D6E71/$+12345M",
			want:   "+A123BJC5D6E71/$+12345M",
			device: "+A123BJC5D6E71/$+12345M"},
		{name: "iccbba",
			in:     "=/A9999XYZ100=,000025",
			want:   "=/A9999XYZ100=,000025",
			device: "=/A9999XYZ100=,000025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUDI(tt.in)
			if err != nil {
				t.Fatalf("ParseUDI(%q) error: %v", tt.in, err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("ParseUDI(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			if got := u.DeviceID(); got != tt.device {
				t.Errorf("ParseUDI(%q).DeviceID() = %q, want %q", tt.in, got, tt.device)
			}
		})
	}
}

func TestDeviceIDIgnoresLotAndDates(t *testing.T) {
	a, err := ParseUDI("(01)00614141999996(17)300131(10)LOT42(21)SN-0001")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseUDI("(01)00614141999996(21)SN-0001")
	if err != nil {
		t.Fatal(err)
	}
	if a.DeviceID() != b.DeviceID() {
		t.Errorf("DeviceID() = %q and %q for the same device, want equal", a.DeviceID(), b.DeviceID())
	}
	if a.String() == b.String() {
		t.Errorf("String() = %q for both, want lot and expiry to show in one", a.String())
	}
}

func TestParseDI(t *testing.T) {
	tests := []struct {
		name, in string
		want     DI
		wantErr  bool
	}{
		{name: "gs1", in: "(01)00614141999996", want: testGS1DI},
		{name: "gs1 wrong check digit", in: "(01)00614141999990", wantErr: true},
		{name: "gs1 serial present", in: "(01)00614141999996(21)SN-0001", wantErr: true},
		{name: "gs1 lot present", in: "(01)00614141999996(10)LOT42", wantErr: true},
		{name: "gs1 expiry present", in: "(01)00614141999996(17)300131", wantErr: true},
		{name: "gs1 production date present", in: "(01)00614141999996(11)250115", wantErr: true},
		{name: "gs1 missing 01", in: "(10)LOT42", wantErr: true},
		{name: "gs1 unknown AI", in: "(01)00614141999996(240)X", wantErr: true},
		{name: "gs1 trailing space", in: "(01)00614141999996 ", wantErr: true},
		{name: "hibcc", in: "+A123BJC5D6E71G", want: testHIBCCDI},
		{name: "hibcc check character is a space", in: "+A123BJC5D6E7M1 ",
			want: DI{Issuer: HIBCC, Code: "A123BJC5D6E7M1"}},
		{name: "hibcc bad check character", in: "+A123BJC5D6E71H", wantErr: true},
		{name: "hibcc lowercase", in: "+a123bjc5d6e71G", wantErr: true},
		{name: "hibcc serial present", in: "+A123BJC5D6E71/$+12345M", wantErr: true},
		{name: "hibcc too short", in: withHIBCCheck(t, "+A1231"), wantErr: true},
		{name: "iccbba", in: "=/A9999XYZ100", want: testICCBBADI},
		{name: "iccbba serial present", in: "=/A9999XYZ100=,000025", wantErr: true},
		{name: "iccbba ten characters", in: "=/A9999XYZ10", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDI(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDI(%q) = %v, want error", tt.in, got)
				}
				if !errors.Is(err, ErrUDI) {
					t.Fatalf("ParseDI(%q) error %v does not wrap ErrUDI", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDI(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseDI(%q) = %v, want %v (-want +got):\n%s", tt.in, got, tt.want, diff)
			}
			if s := got.String(); s != tt.in {
				t.Fatalf("ParseDI(%q).String() = %q, want the input back", tt.in, s)
			}
		})
	}
}

func TestParseUDIPrefix(t *testing.T) {
	tests := []struct {
		name, in string
		want     UDIPrefix
		wantErr  bool
	}{
		{name: "gs1", in: "gs1:0614141", want: UDIPrefix{GS1, "0614141"}},
		{name: "gs1 upper-case issuer", in: "GS1:0614141", want: UDIPrefix{GS1, "0614141"}},
		{name: "gs1 4 digits", in: "gs1:0614", want: UDIPrefix{GS1, "0614"}},
		{name: "gs1 12 digits", in: "gs1:061414199999", want: UDIPrefix{GS1, "061414199999"}},
		{name: "gs1 3 digits", in: "gs1:061", wantErr: true},
		{name: "gs1 13 digits", in: "gs1:0614141999996", wantErr: true},
		{name: "gs1 letter", in: "gs1:06141A1", wantErr: true},
		{name: "gs1 empty", in: "gs1:", wantErr: true},
		{name: "hibcc", in: "hibcc:A123", want: UDIPrefix{HIBCC, testLIC}},
		{name: "hibcc mixed-case issuer", in: "HiBcC:A123", want: UDIPrefix{HIBCC, testLIC}},
		{name: "hibcc lowercase LIC", in: "hibcc:a123", wantErr: true},
		{name: "hibcc LIC starts with a digit", in: "hibcc:1123", wantErr: true},
		{name: "hibcc 3 characters", in: "hibcc:A12", wantErr: true},
		{name: "hibcc 5 characters", in: "hibcc:A1234", wantErr: true},
		{name: "iccbba", in: "iccbba:A9999", want: UDIPrefix{ICCBBA, "A9999"}},
		{name: "iccbba full product code", in: "ICCBBA:A9999XYZ100", want: UDIPrefix{ICCBBA, "A9999XYZ100"}},
		{name: "iccbba 12 characters", in: "iccbba:A9999XYZ1000", wantErr: true},
		{name: "iccbba lowercase", in: "iccbba:a9999", wantErr: true},
		{name: "iccbba empty", in: "iccbba:", wantErr: true},
		{name: "unknown issuer", in: "ifa:0614141", wantErr: true},
		{name: "no colon", in: "0614141", wantErr: true},
		{name: "space", in: "gs1: 0614141", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUDIPrefix(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseUDIPrefix(%q) = %v, want error", tt.in, got)
				}
				if !errors.Is(err, ErrUDI) {
					t.Fatalf("ParseUDIPrefix(%q) error %v does not wrap ErrUDI", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUDIPrefix(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseUDIPrefix(%q) = %v, want %v (-want +got):\n%s", tt.in, got, tt.want, diff)
			}
			if again, err := ParseUDIPrefix(got.String()); err != nil || again != got {
				t.Fatalf("ParseUDIPrefix(%q) = %v, %v, want %v", got.String(), again, err, got)
			}
		})
	}
}

func TestUDIPrefixString(t *testing.T) {
	for _, tt := range []struct {
		p    UDIPrefix
		want string
	}{
		{UDIPrefix{GS1, "0614141"}, "gs1:0614141"},
		{UDIPrefix{HIBCC, testLIC}, "hibcc:A123"},
		{UDIPrefix{ICCBBA, "A9999"}, "iccbba:A9999"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestUDIPrefixMatches(t *testing.T) {
	tests := []struct {
		name   string
		prefix UDIPrefix
		di     DI
		want   bool
	}{
		{"gs1 company prefix", UDIPrefix{GS1, "0614141"}, testGS1DI, true},
		{"gs1 other packaging level", UDIPrefix{GS1, "0614141"}, DI{GS1, "10614141999993"}, true},
		{"gs1 full item reference", UDIPrefix{GS1, "061414199999"}, testGS1DI, true},
		// "0061414" is a prefix of the whole GTIN-14 "00614141999996"
		// but not of what follows its indicator digit.
		{"gs1 prefix covering the indicator digit", UDIPrefix{GS1, "0061414"}, testGS1DI, false},
		{"gs1 other company", UDIPrefix{GS1, "0614142"}, testGS1DI, false},
		{"gs1 prefix against HIBCC DI", UDIPrefix{GS1, "0614141"}, testHIBCCDI, false},
		{"gs1 empty prefix", UDIPrefix{GS1, ""}, testGS1DI, false},
		{"gs1 prefix too short", UDIPrefix{GS1, "0"}, testGS1DI, false},
		{"gs1 DI of wrong length", UDIPrefix{GS1, "0614"}, DI{GS1, "0"}, false},
		{"hibcc LIC", UDIPrefix{HIBCC, testLIC}, testHIBCCDI, true},
		{"hibcc other LIC", UDIPrefix{HIBCC, "A124"}, testHIBCCDI, false},
		{"hibcc LIC against GS1 DI", UDIPrefix{HIBCC, testLIC}, DI{GS1, "A123BJC5D6E71"}, false},
		{"hibcc short DI", UDIPrefix{HIBCC, testLIC}, DI{HIBCC, "A12"}, false},
		{"iccbba facility", UDIPrefix{ICCBBA, "A9999"}, testICCBBADI, true},
		{"iccbba whole product code", UDIPrefix{ICCBBA, "A9999XYZ100"}, testICCBBADI, true},
		{"iccbba other facility", UDIPrefix{ICCBBA, "B9999"}, testICCBBADI, false},
		{"iccbba against HIBCC DI", UDIPrefix{ICCBBA, "A"}, DI{HIBCC, "A123BJC5D6E71"}, false},
		{"zero prefix, zero DI", UDIPrefix{}, DI{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.prefix.Matches(tt.di); got != tt.want {
				t.Errorf("%v.Matches(%v) = %v, want %v", tt.prefix, tt.di, got, tt.want)
			}
		})
	}
}

// TestUDIErrors checks that every refusal wraps ErrUDI and that no error
// text repeats the caller's bytes: each input carries the marker QZXJ,
// which appears in no message of udi.go.
func TestUDIErrors(t *testing.T) {
	const m = "QZXJ"
	inputs := []string{
		"",
		m,
		"(" + m + ")1(21)1",
		"(01)" + m + "(21)1",
		"(01)00614141999995(21)" + m,
		"(01)00614141999996(10)" + m,
		"(01)00614141999996(10)" + m + "#(21)1",
		"(01)00614141999996(11)" + m + "(21)1",
		"(01)00614141999996(17)" + m + "01(21)1",
		"(01)00614141999996(21)" + m + strings.Repeat("A", 20),
		"(01)00614141999996(21)" + m + "(21)" + m,
		"(01)00614141999996(21)" + m + " ",
		"(21)" + m,
		"(01)00614141999996(21)" + strings.Repeat(m, 70),
		"+" + m + "1X",
		"+A123" + m + "1/$+" + m + "X",
		"+A123" + m + "1/$$" + m + "X",
		"+A123" + strings.ToLower(m) + "1X",
		"=/" + m + "XYZ100=," + m + "00",
		"=/" + m + "XYZ100",
		"=/A9999XYZ100=," + m + "0",
	}
	check := func(call, in string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s(%q) succeeded, want error", call, in)
			return
		}
		if !errors.Is(err, ErrUDI) {
			t.Errorf("%s(%q) error %v does not wrap ErrUDI", call, in, err)
		}
		if strings.Contains(strings.ToUpper(err.Error()), m) {
			t.Errorf("%s(%q) error %q repeats the input", call, in, err)
		}
	}
	for _, in := range inputs {
		_, err := ParseUDI(in)
		check("ParseUDI", in, err)
		_, err = ParseDI(in)
		check("ParseDI", in, err)
	}
	for _, in := range []string{
		"", m, "gs1:" + m, m + ":0614141", "hibcc:" + m + "1", "iccbba:" + strings.ToLower(m), strings.Repeat(m, 70),
	} {
		_, err := ParseUDIPrefix(in)
		check("ParseUDIPrefix", in, err)
	}
}
