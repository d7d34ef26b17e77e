package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// specProof is the example of the c2sp.org/tlog-proof specification.
const specProof = `c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
— witness2.example TnKKVHLX[...]xwYwrSjgow==
— witness3.example S4X82uH5[...]3oEcROGLFQ==
`

func TestParseTLogProofSpecExample(t *testing.T) {
	p, err := ParseTLogProof([]byte(specProof))
	if err != nil {
		t.Fatalf("ParseTLogProof(spec example) = %v", err)
	}
	b64 := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := &TLogProof{
		Extra: b64("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ"),
		Index: 73894,
		Hashes: [][]byte{
			b64("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="),
			b64("B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA="),
			b64("EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs="),
			b64("RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes="),
			b64("AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk="),
		},
		Checkpoint: []byte(specProof[strings.Index(specProof, "example.com/fancylog\n"):]),
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("ParseTLogProof(spec example) mismatch (-want +got):\n%s", diff)
	}
	if got := p.Marshal(); string(got) != specProof {
		t.Errorf("Marshal() of the spec example = %q, want %q", got, specProof)
	}
}

func TestTLogProofRoundTrip(t *testing.T) {
	h := func(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }
	cp := []byte("example.com/log\n3\n" + base64.StdEncoding.EncodeToString(h("root")) + "\n\n— example.com/log AAAA\n")
	tests := []struct {
		name  string
		proof *TLogProof
		want  string
	}{
		{"with extra", &TLogProof{Extra: []byte("leaf"), Index: 2, Hashes: [][]byte{h("a"), h("b")}, Checkpoint: cp},
			"c2sp.org/tlog-proof@v1\nextra bGVhZg==\nindex 2\n" + base64.StdEncoding.EncodeToString(h("a")) + "\n" +
				base64.StdEncoding.EncodeToString(h("b")) + "\n\n" + string(cp)},
		{"without extra", &TLogProof{Index: 1, Hashes: [][]byte{h("a")}, Checkpoint: cp},
			"c2sp.org/tlog-proof@v1\nindex 1\n" + base64.StdEncoding.EncodeToString(h("a")) + "\n\n" + string(cp)},
		{"no hashes", &TLogProof{Extra: []byte{0}, Index: 0, Checkpoint: cp},
			"c2sp.org/tlog-proof@v1\nextra AA==\nindex 0\n\n" + string(cp)},
		{"largest index", &TLogProof{Index: 1<<64 - 1, Checkpoint: []byte("x")},
			"c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n\nx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.proof.Marshal()
			if string(b) != tc.want {
				t.Errorf("Marshal() = %q, want %q", b, tc.want)
			}
			got, err := ParseTLogProof(b)
			if err != nil {
				t.Fatalf("ParseTLogProof(%q) = %v", b, err)
			}
			if diff := cmp.Diff(tc.proof, got); diff != "" {
				t.Errorf("ParseTLogProof(Marshal()) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTLogProofMalformed(t *testing.T) {
	hash := base64.StdEncoding.EncodeToString(make([]byte, 32))
	const cp = "example.com/log\n1\nAAAA\n\n— example.com/log AAAA\n"
	valid := "c2sp.org/tlog-proof@v1\nextra AA==\nindex 1\n" + hash + "\n\n" + cp
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"no newline", "c2sp.org/tlog-proof@v1"},
		{"wrong header", strings.Replace(valid, "@v1", "@v2", 1)},
		{"header with CR", strings.Replace(valid, "@v1\n", "@v1\r\n", 1)},
		{"leading blank line", "\n" + valid},
		{"only the header", "c2sp.org/tlog-proof@v1\n"},
		{"no index", "c2sp.org/tlog-proof@v1\n" + hash + "\n\n" + cp},
		{"extra after index", "c2sp.org/tlog-proof@v1\nindex 1\nextra AA==\n\n" + cp},
		{"empty extra", strings.Replace(valid, "extra AA==", "extra ", 1)},
		{"unpadded extra", strings.Replace(valid, "extra AA==", "extra AA", 1)},
		{"URL base64 extra", strings.Replace(valid, "extra AA==", "extra -_8=", 1)},
		{"extra with non-zero padding bits", strings.Replace(valid, "extra AA==", "extra AB==", 1)},
		{"extra with CR", strings.Replace(valid, "extra AA==", "extra AA==\r", 1)},
		{"extra with inner CR", strings.Replace(valid, "extra AA==", "extra A\rA==", 1)},
		{"two spaces after extra", strings.Replace(valid, "extra AA==", "extra  AA==", 1)},
		{"index with leading zero", strings.Replace(valid, "index 1", "index 01", 1)},
		{"index 00", strings.Replace(valid, "index 1", "index 00", 1)},
		{"index with plus sign", strings.Replace(valid, "index 1", "index +1", 1)},
		{"negative index", strings.Replace(valid, "index 1", "index -1", 1)},
		{"index overflows", strings.Replace(valid, "index 1", "index 18446744073709551616", 1)},
		{"hex index", strings.Replace(valid, "index 1", "index 0x1", 1)},
		{"index with trailing space", strings.Replace(valid, "index 1", "index 1 ", 1)},
		{"index with CR", strings.Replace(valid, "index 1", "index 1\r", 1)},
		{"no space after index", strings.Replace(valid, "index 1", "index1", 1)},
		{"short hash", strings.Replace(valid, hash, base64.StdEncoding.EncodeToString(make([]byte, 31)), 1)},
		{"long hash", strings.Replace(valid, hash, base64.StdEncoding.EncodeToString(make([]byte, 33)), 1)},
		{"hex hash", strings.Replace(valid, hash, strings.Repeat("00", 32), 1)},
		{"unpadded hash", strings.Replace(valid, hash, strings.TrimRight(hash, "="), 1)},
		{"hash with CR", strings.Replace(valid, hash, hash+"\r", 1)},
		{"hash with inner CR", strings.Replace(valid, hash, hash[:10]+"\r"+hash[10:], 1)},
		{"hash with space", strings.Replace(valid, hash, " "+hash, 1)},
		{"too many hashes", strings.Replace(valid, hash+"\n", strings.Repeat(hash+"\n", maxProofHashes+1), 1)},
		{"missing blank line", "c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "\n"},
		{"missing blank line before checkpoint", "c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "\nexample.com/log\n1\n"},
		{"no checkpoint", "c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "\n\n"},
		{"no checkpoint, no hashes", "c2sp.org/tlog-proof@v1\nindex 1\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTLogProof([]byte(tc.in))
			if !errors.Is(err, ErrMalformedProof) {
				t.Errorf("ParseTLogProof(%q) = %+v, %v, want %v", tc.in, p, err, ErrMalformedProof)
			}
		})
	}
	if _, err := ParseTLogProof([]byte(valid)); err != nil {
		t.Errorf("ParseTLogProof(%q) = %v, want the base case to parse", valid, err)
	}
	many := strings.Replace(valid, hash+"\n", strings.Repeat(hash+"\n", maxProofHashes), 1)
	if p, err := ParseTLogProof([]byte(many)); err != nil || len(p.Hashes) != maxProofHashes {
		t.Errorf("ParseTLogProof(%d hashes) = %v, want them all", maxProofHashes, err)
	}
	// The checkpoint is kept verbatim, whatever it holds.
	odd := "c2sp.org/tlog-proof@v1\nindex 0\n\nnot\r\na checkpoint\n\n\n"
	p, err := ParseTLogProof([]byte(odd))
	if err != nil || !bytes.Equal(p.Checkpoint, []byte("not\r\na checkpoint\n\n\n")) {
		t.Errorf("ParseTLogProof(%q) = %+v, %v, want the checkpoint verbatim", odd, p, err)
	}
}
