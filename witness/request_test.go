package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// exampleCheckpoint is a checkpoint signed by the key of vkeyA, the one in
// the package documentation and testdata/add-checkpoint/growth.txt.
const exampleCheckpoint = "example.com/log\n7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=\n\n" +
	"— example.com/log pbAbU9BptxHJ3WmOT/HkThGmK3gSB/7rOSk+vih6tAak4z/k2svXWP36LDZPag50mTQV5FSVMMazPGFKKtX73ETImwc=\n"

const exampleProofLine = "lK+4osoFHAVFjqOdzRmxvWjn4zUp8QtDnSphWlH2NuI="

func TestParseAddCheckpoint(t *testing.T) {
	hash := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var proof63 [][]byte
	for range 63 {
		proof63 = append(proof63, hash(exampleProofLine))
	}
	sigLine := "— example.com/log pbAbU9BptxHJ3WmOT/HkThGmK3gSB/7rOSk+vih6tAak4z/k2svXWP36LDZPag50mTQV5FSVMMazPGFKKtX73ETImwc=\n"
	for _, tc := range []struct {
		name, in string
		want     *AddCheckpointRequest
	}{
		{"growth", "old 4\n" + exampleProofLine + "\n\n" + exampleCheckpoint,
			&AddCheckpointRequest{Old: 4, Proof: [][]byte{hash(exampleProofLine)}, Checkpoint: []byte(exampleCheckpoint)}},
		{"first", "old 0\n\n" + exampleCheckpoint,
			&AddCheckpointRequest{Old: 0, Checkpoint: []byte(exampleCheckpoint)}},
		{"largest old", "old 18446744073709551615\n\n" + exampleCheckpoint,
			&AddCheckpointRequest{Old: 1<<64 - 1, Checkpoint: []byte(exampleCheckpoint)}},
		{"63 proof lines", "old 4\n" + strings.Repeat(exampleProofLine+"\n", 63) + "\n" + exampleCheckpoint,
			&AddCheckpointRequest{Old: 4, Proof: proof63, Checkpoint: []byte(exampleCheckpoint)}},
		{"extension lines and other signatures", "old 0\n\nexample.com/log\n7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=\next 1\next 2\n\n" + sigLine + "— w AAAAAAA=\n",
			&AddCheckpointRequest{Checkpoint: []byte("example.com/log\n7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=\next 1\next 2\n\n" + sigLine + "— w AAAAAAA=\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAddCheckpoint([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseAddCheckpoint(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseAddCheckpoint(%q) (-want +got):\n%s", tc.in, diff)
			}
			if m := got.Marshal(); string(m) != tc.in {
				t.Errorf("Marshal() = %q, want the parsed body %q", m, tc.in)
			}
		})
	}
}

// malformedBodies are add-checkpoint bodies that do not parse, for the
// parser's table and the HTTP test's.
func malformedBodies() []struct{ name, body string } {
	cp := exampleCheckpoint
	sig := cp[strings.Index(cp, "\n\n"):]
	return []struct{ name, body string }{
		{"empty", ""},
		{"only the old line", "old 4\n"},
		{"no blank line", "old 4\n" + exampleProofLine + "\n"},
		{"no newline at all", "old 4"},
		{"no old line", "\n" + cp},
		{"proof before old", exampleProofLine + "\nold 4\n\n" + cp},
		{"older keyword", "older 4\n\n" + cp},
		{"capital Old", "Old 4\n\n" + cp},
		{"two spaces", "old  4\n\n" + cp},
		{"trailing space", "old 4 \n\n" + cp},
		{"empty old size", "old \n\n" + cp},
		{"negative", "old -1\n\n" + cp},
		{"plus sign", "old +4\n\n" + cp},
		{"leading zeroes", "old 04\n" + exampleProofLine + "\n\n" + cp},
		{"zero as 00", "old 00\n\n" + cp},
		{"hexadecimal", "old 0x4\n\n" + cp},
		{"old overflows 64 bits", "old 18446744073709551616\n\n" + cp},
		{"crlf", "old 4\r\n" + exampleProofLine + "\r\n\r\n" + cp},
		{"proof line not base64", "old 4\n!!!not base64!!!\n\n" + cp},
		{"proof line unpadded", "old 4\n" + strings.TrimSuffix(exampleProofLine, "=") + "\n\n" + cp},
		{"proof line not canonical", "old 4\nlK+4osoFHAVFjqOdzRmxvWjn4zUp8QtDnSphWlH2NuJ=\n\n" + cp},
		{"proof line with a carriage return", "old 4\n" + exampleProofLine[:10] + "\r" + exampleProofLine[10:] + "\n\n" + cp},
		{"proof hash of 31 bytes", "old 4\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n\n" + cp},
		{"proof hash of 33 bytes", "old 4\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n\n" + cp},
		{"proof line with spaces", "old 4\n " + exampleProofLine + "\n\n" + cp},
		{"64 proof lines", "old 4\n" + strings.Repeat(exampleProofLine+"\n", 64) + "\n" + cp},
		{"oversized body", "old 4\n" + strings.Repeat(exampleProofLine+"\n", 63) + "\n" + cp + strings.Repeat("— w AAAAAAA=\n", MaxRequestSize/13)},
		{"no checkpoint", "old 4\n\n"},
		{"checkpoint not a note", "old 4\n\nexample.com/log\n7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=\n"},
		{"checkpoint with a bad signature line", "old 4\n\n" + strings.Replace(cp, "— ", "- ", 1)},
		{"checkpoint with a control character", "old 4\n\n" + strings.Replace(cp, "example.com", "example\x01com", 1)},
		{"checkpoint without root", "old 4\n\nexample.com/log\n7" + sig},
		{"checkpoint size with leading zero", "old 4\n\nexample.com/log\n07\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=" + sig},
		{"checkpoint size negative", "old 4\n\nexample.com/log\n-7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=" + sig},
		{"checkpoint root of 31 bytes", "old 4\n\nexample.com/log\n7\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + sig},
		{"checkpoint empty origin", "old 4\n\n\n7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=" + sig},
		{"checkpoint empty extension line", "old 4\n\nexample.com/log\n7\nmMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=\n\next" + sig},
		{"two checkpoints", "old 4\n\n" + cp + "\n" + cp},
		{"invalid UTF-8", "old 4\n\n" + strings.Replace(cp, "example", "ex\xffample", 1)},
	}
}

func TestParseAddCheckpointMalformed(t *testing.T) {
	for _, tc := range malformedBodies() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAddCheckpoint([]byte(tc.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAddCheckpoint(%.100q) = %+v, %v; want ErrMalformed", tc.body, got, err)
			}
			// The error is one of a fixed set: it never repeats the body.
			if msg := err.Error(); len(msg) > 100 || strings.Contains(msg, "example.com") || strings.Contains(msg, "\n") {
				t.Errorf("ParseAddCheckpoint(%.100q) error %q repeats the input", tc.body, msg)
			}
		})
	}
}

func FuzzParseAddCheckpoint(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "add-checkpoint", "*"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range malformedBodies() {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseAddCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || r != nil {
				t.Fatalf("ParseAddCheckpoint(%q) = %v, %v; want nil, ErrMalformed", b, r, err)
			}
			return
		}
		// The grammar is strict, so a parsed body has one encoding.
		m := r.Marshal()
		if !bytes.Equal(m, b) {
			t.Fatalf("ParseAddCheckpoint(%q).Marshal() = %q", b, m)
		}
		if r.Old != 0 && len(r.Proof) > maxProofLines {
			t.Fatalf("ParseAddCheckpoint(%q) has %d proof lines", b, len(r.Proof))
		}
		for _, h := range r.Proof {
			if len(h) != hashSize {
				t.Fatalf("ParseAddCheckpoint(%q) has a proof hash of %d bytes", b, len(h))
			}
		}
		again, err := ParseAddCheckpoint(m)
		if err != nil || !cmp.Equal(r, again) {
			t.Fatalf("ParseAddCheckpoint(Marshal()) = %+v, %v; want %+v", again, err, r)
		}
	})
}

// TestSpecExampleRequest parses the example request body of C2SP
// tlog-witness byte for byte and encodes it back identically.
func TestSpecExampleRequest(t *testing.T) {
	const body = "old 20852014\n" +
		"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" +
		"jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n" +
		"5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n" +
		"/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n" +
		"\n" +
		"example.com/behind-the-sofa\n" +
		"20852163\n" +
		"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n" +
		"\n" +
		"— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n" +
		"— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
	r, err := ParseAddCheckpoint([]byte(body))
	if err != nil {
		t.Fatalf("ParseAddCheckpoint(spec example) = %v", err)
	}
	if r.Old != 20852014 || len(r.Proof) != 4 || !strings.HasPrefix(string(r.Checkpoint), "example.com/behind-the-sofa\n20852163\n") {
		t.Errorf("ParseAddCheckpoint(spec example) = old %d, %d proof lines, checkpoint %q", r.Old, len(r.Proof), r.Checkpoint)
	}
	if got := string(r.Marshal()); got != body {
		t.Errorf("Marshal() differs from the spec example:\n%s", got)
	}
}
