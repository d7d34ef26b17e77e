// UDI syntax accepted by ParseUDI and ParseDI
//
// A UDI (Unique Device Identifier, FDA 21 CFR 830 and EU MDR article 27)
// is read here in its human-readable interpretation (HRI), the text printed
// under the barcode. The first byte selects the issuing agency. Inputs longer
// than 256 bytes are refused whatever the agency.
//
// GS1 (first byte '('): a sequence of elements "(" AI ")" value, where AI is
// one of
//
//	01  GTIN: exactly 14 digits, mod-10 check digit verified. A GTIN-8, -12
//	    or -13 must already be padded with leading zeros to 14 digits.
//	11  production date: YYMMDD; month 01-12, day 00 (no day given) or a day
//	    that exists in that month. 29 February needs YY to be a multiple
//	    of 4, which is the leap-year rule for every year from 1904 to 2096
//	    and so for any year GS1's two-digit window can mean before 2100.
//	17  expiry date: YYMMDD, as for 11.
//	10  lot: 1 to 20 characters of GS1 character set 82 except '(' and ')'.
//	21  serial: as for 10.
//
// (01) must come first; the others may follow in any order, each at most
// once, none empty. ParseUDI requires (21); ParseDI accepts (01) alone and
// refuses the others. No whitespace is allowed anywhere. String emits the
// canonical order (01)(11)(17)(10)(21), so
//
//	(01)00614141999996(21)SN-0001(17)300131(10)LOT42
//
// parses to GTIN 00614141999996, Expiry 300131, Lot LOT42, Serial SN-0001,
// and prints back as
//
//	(01)00614141999996(17)300131(10)LOT42(21)SN-0001
//
// HIBCC (first byte '+'), ANSI/HIBC 2.6, the combined single-line format
// with one check character at the end:
//
//	DI:  "+" LIC PCN UoM C
//	UDI: "+" LIC PCN UoM "/$+" SERIAL C
//
// LIC is the Labeler Identification Code (a letter, then 3 letters or
// digits), PCN the product or catalog number (1 to 18 letters or digits),
// UoM the unit of measure (one digit), SERIAL 1 to 18 characters from
// 0-9, A-Z, '-' and '.'. C is the modulo-43 check character over every
// preceding character, the leading '+' and the '/' included, with the HIBC
// values 0-9 = 0-9, A-Z = 10-35, '-' 36, '.' 37, ' ' 38, '$' 39, '/' 40,
// '+' 41, '%' 42. Letters must be uppercase. For the standard's own example
// "+A123BJC5D6E71G" the values sum to 145, 145 mod 43 = 16, which is 'G';
// the DI Code is "A123BJC5D6E71". The same device with serial 12345 is
// "+A123BJC5D6E71/$+12345M".
//
// ICCBBA (first byte '='), ISBT 128:
//
//	DI:  "=/" PRODUCT
//	UDI: "=/" PRODUCT "=," SERIAL
//
// PRODUCT is exactly 11 uppercase letters or digits (the 5-character
// facility identification number, such as A9999, then a 6-character product
// code) and SERIAL exactly 6, for example "=/A9999XYZ100=,000025": DI Code
// "A9999XYZ100", Serial "000025".
//
// Limits. Only the subsets above are accepted; anything else is refused
// with an error that says what is missing or wrong, never an echo of the
// input:
//
//   - GS1: only AIs 01, 10, 11, 17 and 21. Other AIs (for example 240,
//     7240, 8003) and the raw barcode form with FNC1/GS separators are
//     refused; the HRI must use parentheses.
//   - HIBCC: only the "$+" (serial only) secondary flag. Lot and expiry
//     ("$$" and its variants), quantity, supplemental "/" fields and the
//     two-line (primary and secondary symbols with a link character) form
//     are refused. Serials use 0-9, A-Z, '-' and '.' only: the other HIBC
//     characters are flags and separators, and the space would not
//     survive being printed. The one place a space is accepted is the
//     final check character, because the check computes to a space for
//     about one device in 43 and refusing those would make them
//     unregistrable; callers must not trim HIBCC input.
//   - ICCBBA: this is vigil's fixed-length profile, not an ISBT 128
//     reader. It has not been checked against ICCBBA ST-011/ST-017: real
//     ISBT 128 UDIs use the Processor Product Identification Code (data
//     structure 034) and production identifiers in other data structures
//     (donation identification number, divisions, dates, lot), which are
//     refused unless they fit the two shapes above. Keyboard-entry check
//     characters and spaces in the printed HRI are refused too.
//   - Dates are checked for form only; nothing compares expiry with
//     production date or with the clock.

package client

import (
	"fmt"
	"strings"
)

// Issuer names a UDI issuing agency.
type Issuer string

// The three issuing agencies the FDA accredits for UDIs. The values are
// the lower-case words used in UDIPrefix text.
const (
	GS1    Issuer = "gs1"
	HIBCC  Issuer = "hibcc"
	ICCBBA Issuer = "iccbba"
)

// DI is a UDI device identifier (the model/version part).
type DI struct {
	Issuer Issuer
	// Code identifies the model. GS1: the 14-digit GTIN (a GTIN-8/12/13
	// given in (01) must already be padded to 14 by the HRI). HIBCC: LIC +
	// product/catalog number + unit of measure (the primary data without
	// its leading '+' and without the check character). ICCBBA: the product
	// code as printed after "=/".
	Code string
}

// UDI is a parsed UDI: a DI plus production identifiers. vigil tracks
// individual devices, so Serial is required.
type UDI struct {
	DI
	// Serial is the serial number: GS1 AI 21, HIBCC "$+", ICCBBA "=,".
	Serial string
	// Lot is the lot or batch number (GS1 AI 10); optional, GS1 only.
	Lot string
	// Expiry is the expiry date, YYMMDD as in the HRI (GS1 AI 17);
	// optional, GS1 only.
	Expiry string
	// Manufactured is the production date, YYMMDD (GS1 AI 11); optional,
	// GS1 only.
	Manufactured string
}

// udiMaxLen bounds every input, so a hostile submission cannot make the
// parser or the error path do unbounded work.
const udiMaxLen = 256

// udiErr returns an error wrapping ErrUDI. msg must be a constant: it
// describes what is wrong and never quotes the input.
func udiErr(msg string) error {
	return fmt.Errorf("%w: %s", ErrUDI, msg)
}

// ParseUDI parses the human-readable form of a UDI with a serial number, in
// the grammar described at the top of this file. It accepts exactly what
// UDI.String produces, and for GS1 also the same elements in another order.
// Every error wraps ErrUDI.
func ParseUDI(s string) (UDI, error) {
	return udiParse(s, true)
}

// ParseDI parses the human-readable form of a UDI device identifier alone:
// "(01)" and a GTIN-14, "+" HIBCC primary data and its check character, or
// "=/" and an ICCBBA product code. A serial number, and for GS1 any other
// production identifier (lot, dates), is refused rather than dropped. Every
// error wraps ErrUDI.
func ParseDI(s string) (DI, error) {
	u, err := udiParse(s, false)
	if err != nil {
		return DI{}, err
	}
	return u.DI, nil
}

func udiParse(s string, wantSerial bool) (UDI, error) {
	switch {
	case s == "":
		return UDI{}, udiErr("empty UDI")
	case len(s) > udiMaxLen:
		return UDI{}, udiErr("UDI longer than 256 bytes")
	}
	switch s[0] {
	case '(':
		return gs1Parse(s, wantSerial)
	case '+':
		return hibcParse(s, wantSerial)
	case '=':
		return iccbbaParse(s, wantSerial)
	}
	return UDI{}, udiErr(`unrecognized UDI syntax: expected GS1 "(01)", HIBCC "+" or ICCBBA "=/"`)
}

// String returns the canonical human-readable form of the DI alone, so that
// ParseDI(d.String()) == d for every d ParseDI returns. For a DI that is not
// valid the result is unspecified but String does not panic.
func (d DI) String() string {
	switch d.Issuer {
	case GS1:
		return "(01)" + d.Code
	case HIBCC:
		body := "+" + d.Code
		return body + string(hibcCheck(body))
	case ICCBBA:
		return "=/" + d.Code
	}
	return ""
}

// String returns the canonical human-readable form of u: for GS1 the AIs in
// the order (01)(11)(17)(10)(21), empty ones left out. ParseUDI(u.String())
// == u for every u ParseUDI returns. HIBCC and ICCBBA UDIs carry no lot or
// dates in the syntax accepted here, so those fields are not printed for
// them. For a UDI that is not valid the result is unspecified but String
// does not panic.
func (u UDI) String() string {
	switch u.Issuer {
	case GS1:
		var b strings.Builder
		b.WriteString("(01)")
		b.WriteString(u.Code)
		for _, e := range []struct{ ai, v string }{
			{"11", u.Manufactured},
			{"17", u.Expiry},
			{"10", u.Lot},
			{"21", u.Serial},
		} {
			if e.v != "" {
				b.WriteString("(" + e.ai + ")" + e.v)
			}
		}
		return b.String()
	case HIBCC:
		body := "+" + u.Code + "/$+" + u.Serial
		return body + string(hibcCheck(body))
	case ICCBBA:
		return "=/" + u.Code + "=," + u.Serial
	}
	return ""
}

// DeviceID returns the canonical human-readable form of the DI and serial
// only, without lot or dates: the identity of one physical device, which
// stays the same whether or not a label or a submitter includes the lot
// and expiry.
func (u UDI) DeviceID() string {
	return UDI{DI: u.DI, Serial: u.Serial}.String()
}

// DeviceIDOf returns the DeviceID of a UDI in text form, or "" if it does
// not parse.
func DeviceIDOf(udi string) string {
	u, err := ParseUDI(udi)
	if err != nil {
		return ""
	}
	return u.DeviceID()
}

// UDIPrefix is a range of device identifiers that one labeler controls, as
// listed in a manufacturer's trust root.
type UDIPrefix struct {
	Issuer Issuer
	// Prefix is a GS1 company prefix (4 to 12 digits), a HIBCC Labeler
	// Identification Code (4 characters) or an ICCBBA facility/product
	// prefix (1 to 11 uppercase letters or digits).
	Prefix string
}

// ParseUDIPrefix parses "issuer:prefix": "gs1:0614141" (a GS1 company
// prefix, 4 to 12 digits), "hibcc:A123" (a HIBCC Labeler Identification
// Code: a letter, then 3 uppercase letters or digits) or "iccbba:A9999" (a
// prefix of the 11-character ICCBBA product code, uppercase letters and
// digits). The issuer word is case-insensitive; the prefix is not. Every
// error wraps ErrUDI.
func ParseUDIPrefix(s string) (UDIPrefix, error) {
	if len(s) > udiMaxLen {
		return UDIPrefix{}, udiErr("UDI prefix longer than 256 bytes")
	}
	word, prefix, ok := strings.Cut(s, ":")
	if !ok {
		return UDIPrefix{}, udiErr(`UDI prefix must be "issuer:prefix"`)
	}
	var p UDIPrefix
	switch {
	case strings.EqualFold(word, string(GS1)):
		p = UDIPrefix{GS1, prefix}
	case strings.EqualFold(word, string(HIBCC)):
		p = UDIPrefix{HIBCC, prefix}
	case strings.EqualFold(word, string(ICCBBA)):
		p = UDIPrefix{ICCBBA, prefix}
	default:
		return UDIPrefix{}, udiErr("unknown UDI issuer: must be gs1, hibcc or iccbba")
	}
	if err := p.check(); err != nil {
		return UDIPrefix{}, err
	}
	return p, nil
}

func (p UDIPrefix) check() error {
	switch p.Issuer {
	case GS1:
		if len(p.Prefix) < 4 || len(p.Prefix) > 12 || !udiAll(p.Prefix, udiIsDigit) {
			return udiErr("GS1 company prefix must be 4 to 12 digits")
		}
	case HIBCC:
		if !hibcIsLIC(p.Prefix) {
			return udiErr("HIBCC labeler identification code must be an uppercase letter then 3 uppercase letters or digits")
		}
	case ICCBBA:
		if p.Prefix == "" || len(p.Prefix) > iccbbaCodeLen || !udiAll(p.Prefix, udiIsUpperAlnum) {
			return udiErr("ICCBBA prefix must be 1 to 11 uppercase letters or digits")
		}
	default:
		return udiErr("unknown UDI issuer: must be gs1, hibcc or iccbba")
	}
	return nil
}

// String returns p as "issuer:prefix" with the issuer in lower case, the
// form ParseUDIPrefix reads.
func (p UDIPrefix) String() string {
	return string(p.Issuer) + ":" + p.Prefix
}

// Matches reports whether d lies in the range p names. The issuers must be
// equal. GS1: the company prefix follows the GTIN-14's packaging indicator
// digit, that is d.Code[1:] begins with p.Prefix. HIBCC: the LIC (the first
// 4 characters of d.Code) equals p.Prefix. ICCBBA: d.Code begins with
// p.Prefix. A p that ParseUDIPrefix would refuse (the zero UDIPrefix, an
// empty prefix, a one-digit GS1 prefix) matches nothing, so a malformed
// trust root cannot grant authority over every device.
func (p UDIPrefix) Matches(d DI) bool {
	if p.Issuer != d.Issuer || p.check() != nil {
		return false
	}
	switch p.Issuer {
	case GS1:
		return len(d.Code) == 14 && strings.HasPrefix(d.Code[1:], p.Prefix)
	case HIBCC:
		return len(d.Code) >= 4 && d.Code[:4] == p.Prefix
	case ICCBBA:
		return strings.HasPrefix(d.Code, p.Prefix)
	}
	return false
}

// GS1.

func gs1Parse(s string, wantSerial bool) (UDI, error) {
	if udiHasSpace(s) {
		return UDI{}, udiErr("whitespace is not allowed in a GS1 UDI")
	}
	u := UDI{DI: DI{Issuer: GS1}}
	for s != "" {
		if s[0] != '(' {
			return UDI{}, udiErr(`GS1 element must start with "(" and an AI`)
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return UDI{}, udiErr(`GS1 AI without closing ")"`)
		}
		ai := s[1:end]
		s = s[end+1:]
		n := strings.IndexByte(s, '(')
		if n < 0 {
			n = len(s)
		}
		v := s[:n]
		s = s[n:]

		// Every accepted value is non-empty, so a field already set
		// means its AI was repeated.
		var field *string
		var what string
		switch ai {
		case "01":
			field, what = &u.Code, "GTIN (AI 01)"
		case "11":
			field, what = &u.Manufactured, "production date (AI 11)"
		case "17":
			field, what = &u.Expiry, "expiry date (AI 17)"
		case "10":
			field, what = &u.Lot, "lot (AI 10)"
		case "21":
			field, what = &u.Serial, "serial number (AI 21)"
		default:
			return UDI{}, udiErr("unknown or unsupported GS1 AI: only 01, 10, 11, 17 and 21 are accepted")
		}
		switch {
		case u.Code == "" && ai != "01":
			return UDI{}, udiErr("missing GTIN (AI 01) as the first element")
		case *field != "":
			return UDI{}, udiErr("repeated " + what)
		case v == "":
			return UDI{}, udiErr("empty value for " + what)
		case !wantSerial && ai != "01":
			return UDI{}, udiErr(what + " is not allowed in a DI")
		}
		var err error
		switch ai {
		case "01":
			err = gs1CheckGTIN(v)
		case "11", "17":
			err = gs1CheckDate(v, what)
		case "10", "21":
			err = gs1CheckText(v, what)
		}
		if err != nil {
			return UDI{}, err
		}
		*field = v
	}
	if wantSerial && u.Serial == "" {
		return UDI{}, udiErr("missing serial number (AI 21)")
	}
	return u, nil
}

// gs1CheckGTIN checks a GTIN-14: 14 digits whose last is the GS1 mod-10
// check digit.
func gs1CheckGTIN(v string) error {
	if len(v) != 14 || !udiAll(v, udiIsDigit) {
		return udiErr("GTIN (AI 01) must be exactly 14 digits")
	}
	if full, _ := CompleteGTIN(v[:13]); full != v {
		return udiErr("GTIN check digit mismatch")
	}
	return nil
}

// CompleteGTIN appends the GS1 mod-10 check digit (weights 3 and 1
// alternating from the digit next to it) to the first 13 digits of a GTIN-14.
func CompleteGTIN(first13 string) (string, error) {
	if len(first13) != 13 || !udiAll(first13, udiIsDigit) {
		return "", udiErr("a GTIN-14 without its check digit is 13 digits")
	}
	sum := 0
	for i := 0; i < 13; i++ {
		d := int(first13[i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return first13 + string(rune('0'+(10-sum%10)%10)), nil
}

// gs1CheckDate checks a YYMMDD date. GS1 allows day 00 for "no day"; any
// other day must exist in the month. Years are two digits in a window GS1
// places around the current year, so YY%4 == 0 decides leap years (right
// for every year from 1904 to 2096).
func gs1CheckDate(v, what string) error {
	if len(v) != 6 || !udiAll(v, udiIsDigit) {
		return udiErr(what + " must be 6 digits YYMMDD")
	}
	yy := int(v[0]-'0')*10 + int(v[1]-'0')
	mm := int(v[2]-'0')*10 + int(v[3]-'0')
	dd := int(v[4]-'0')*10 + int(v[5]-'0')
	if mm < 1 || mm > 12 {
		return udiErr(what + " has a month outside 01-12")
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[mm]
	if mm == 2 && yy%4 == 0 {
		days = 29
	}
	if dd > days {
		return udiErr(what + " has a day that does not exist in its month")
	}
	return nil
}

// gs1CheckText checks a lot or serial: 1 to 20 characters of GS1 AI
// encodable character set 82, less the parentheses that delimit AIs in
// the HRI.
func gs1CheckText(v, what string) error {
	if len(v) > 20 {
		return udiErr(what + " is longer than 20 characters")
	}
	for i := 0; i < len(v); i++ {
		if !gs1IsCSet82(v[i]) {
			return udiErr(what + " has a character outside GS1 character set 82 (parentheses excluded)")
		}
	}
	return nil
}

func gs1IsCSet82(c byte) bool {
	if udiIsDigit(c) || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' {
		return true
	}
	return strings.IndexByte(`!"%&'*+,-./:;<=>?_`, c) >= 0
}

// HIBCC.

func hibcParse(s string, wantSerial bool) (UDI, error) {
	// The last byte is the check character, which may legitimately be a
	// space (value 38); everywhere else whitespace is refused.
	if len(s) < 2 {
		return UDI{}, udiErr("HIBCC data too short")
	}
	body, check := s[:len(s)-1], s[len(s)-1]
	if udiHasSpace(body) {
		return UDI{}, udiErr("whitespace is not allowed in HIBCC data except as the check character")
	}
	if udiHasLower(s) {
		return UDI{}, udiErr("HIBCC data must be uppercase")
	}
	primary, secondary, hasSecondary := strings.Cut(body[1:], "/")
	if err := hibcCheckPrimary(primary); err != nil {
		return UDI{}, err
	}
	u := UDI{DI: DI{Issuer: HIBCC, Code: primary}}
	switch {
	case !hasSecondary && wantSerial:
		return UDI{}, udiErr(`missing serial number (HIBCC secondary data "/$+")`)
	case hasSecondary && !wantSerial:
		return UDI{}, udiErr("HIBCC secondary data (serial, lot or dates) is not allowed in a DI")
	case hasSecondary:
		serial, ok := strings.CutPrefix(secondary, "$+")
		if !ok {
			return UDI{}, udiErr(`unsupported HIBCC secondary data: only "/$+" followed by a serial number is accepted`)
		}
		if serial == "" || len(serial) > 18 {
			return UDI{}, udiErr("HIBCC serial number must be 1 to 18 characters")
		}
		for i := 0; i < len(serial); i++ {
			if c := serial[i]; !udiIsUpperAlnum(c) && c != '-' && c != '.' {
				return UDI{}, udiErr("HIBCC serial number has a character other than 0-9, A-Z, '-' and '.'")
			}
		}
		u.Serial = serial
	}
	if hibcValue(check) < 0 {
		return UDI{}, udiErr("HIBCC check character is outside the HIBC character set")
	}
	if hibcCheck(body) != check {
		return UDI{}, udiErr("HIBCC check character mismatch")
	}
	return u, nil
}

// hibcCheckPrimary checks LIC (4) + product/catalog number (1 to 18) + unit
// of measure (1): the unit of measure is the last character, since the
// product number is variable-length.
func hibcCheckPrimary(p string) error {
	if len(p) < 6 || len(p) > 23 {
		return udiErr("HIBCC primary data must be 6 to 23 characters after the '+'")
	}
	if !hibcIsLIC(p[:4]) {
		return udiErr("HIBCC labeler identification code must be an uppercase letter then 3 uppercase letters or digits")
	}
	if !udiAll(p[4:len(p)-1], udiIsUpperAlnum) {
		return udiErr("HIBCC product or catalog number must be uppercase letters and digits")
	}
	if !udiIsDigit(p[len(p)-1]) {
		return udiErr("HIBCC unit of measure must be one digit")
	}
	return nil
}

func hibcIsLIC(s string) bool {
	return len(s) == 4 && 'A' <= s[0] && s[0] <= 'Z' && udiAll(s[1:], udiIsUpperAlnum)
}

// hibcValue returns the HIBC (Code 39) value of c, or -1 if c is not in the
// HIBC character set.
func hibcValue(c byte) int {
	switch {
	case udiIsDigit(c):
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	}
	switch c {
	case '-':
		return 36
	case '.':
		return 37
	case ' ':
		return 38
	case '$':
		return 39
	case '/':
		return 40
	case '+':
		return 41
	case '%':
		return 42
	}
	return -1
}

// hibcCheck returns the modulo-43 check character of s. Characters outside
// the HIBC set count as 0; callers that need a meaningful result validate
// s first.
func hibcCheck(s string) byte {
	sum := 0
	for i := 0; i < len(s); i++ {
		if v := hibcValue(s[i]); v > 0 {
			sum += v
		}
	}
	v := sum % 43
	switch {
	case v < 10:
		return byte('0' + v)
	case v < 36:
		return byte('A' + v - 10)
	}
	return "-. $/+%"[v-36]
}

// ICCBBA.

// iccbbaCodeLen is the length of the ICCBBA product code: a 5-character
// facility identification number and a 6-character product code, as in
// the example "=/A9999XYZ100".
const iccbbaCodeLen = 11

func iccbbaParse(s string, wantSerial bool) (UDI, error) {
	if udiHasSpace(s) {
		return UDI{}, udiErr("whitespace is not allowed in an ICCBBA UDI")
	}
	rest, ok := strings.CutPrefix(s, "=/")
	if !ok {
		return UDI{}, udiErr(`ICCBBA UDI must start with "=/" and the product code`)
	}
	if udiHasLower(s) {
		return UDI{}, udiErr("ICCBBA data must be uppercase")
	}
	if len(rest) < iccbbaCodeLen || !udiAll(rest[:iccbbaCodeLen], udiIsUpperAlnum) {
		return UDI{}, udiErr("ICCBBA product code must be 11 uppercase letters or digits")
	}
	u := UDI{DI: DI{Issuer: ICCBBA, Code: rest[:iccbbaCodeLen]}}
	rest = rest[iccbbaCodeLen:]
	if rest == "" {
		if wantSerial {
			return UDI{}, udiErr(`missing serial number (ICCBBA "=,")`)
		}
		return u, nil
	}
	serial, ok := strings.CutPrefix(rest, "=,")
	if !ok {
		return UDI{}, udiErr(`ICCBBA product code must be exactly 11 characters, followed by nothing or "=," and the serial number`)
	}
	if !wantSerial {
		return UDI{}, udiErr("ICCBBA serial number is not allowed in a DI")
	}
	if len(serial) != 6 || !udiAll(serial, udiIsUpperAlnum) {
		return UDI{}, udiErr("ICCBBA serial number must be 6 uppercase letters or digits")
	}
	u.Serial = serial
	return u, nil
}

// Character classes, named for this file so they cannot collide with
// helpers elsewhere in the package.

func udiIsDigit(c byte) bool { return '0' <= c && c <= '9' }

func udiIsUpperAlnum(c byte) bool { return udiIsDigit(c) || 'A' <= c && c <= 'Z' }

func udiAll(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

func udiHasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return true
		}
	}
	return false
}

func udiHasSpace(s string) bool {
	return strings.ContainsAny(s, " \t\n\v\f\r")
}
