package client

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"
)

// fuzzSBOMPredicateTypes are the predicate types FuzzParseSBOM tries,
// chosen by the fuzzer with an index.
var fuzzSBOMPredicateTypes = []string{
	PredicateCycloneDX,
	PredicateSPDX,
	PredicateCycloneDX + "/v1.5",
	PredicateSPDX + "/v2.3",
}

// FuzzParseSBOM checks that ParseSBOM never panics, that it refuses with
// ErrSBOM only, that what it accepts has a firmware name, version and named
// components, and that an SPDX document it accepts is one tools-golang's own
// json.Read reads the same way (parseSPDX reimplements that reader).
func FuzzParseSBOM(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "sbom", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed SBOMs in testdata/sbom: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for i := range fuzzSBOMPredicateTypes {
			f.Add(uint8(i), b)
		}
	}
	for _, tt := range sbomMalformedCases {
		for i, pt := range fuzzSBOMPredicateTypes {
			if strings.HasPrefix(tt.predicateType, pt) {
				f.Add(uint8(i), []byte(tt.input))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, predicate []byte) {
		predicateType := fuzzSBOMPredicateTypes[int(which)%len(fuzzSBOMPredicateTypes)]
		_ = repeatsName(predicate) // any bytes: must not panic
		s, err := ParseSBOM(predicateType, predicate)
		if err != nil {
			if !errors.Is(err, ErrSBOM) {
				t.Fatalf("ParseSBOM(%q) = %v, not ErrSBOM", predicateType, err)
			}
			if s != nil {
				t.Fatalf("ParseSBOM(%q) returned an SBOM with error %v", predicateType, err)
			}
			return
		}
		if s.Format == "" || strings.TrimSpace(s.Name) == "" || strings.TrimSpace(s.Version) == "" || s.SpecVersion == "" {
			t.Fatalf("ParseSBOM(%q) = %+v: empty format, spec version, name or version", predicateType, s)
		}
		if len(s.Components) > maxSBOMComponents {
			t.Fatalf("ParseSBOM(%q) kept %d components", predicateType, len(s.Components))
		}
		for i, c := range s.Components {
			if strings.TrimSpace(c.Name) == "" {
				t.Fatalf("ParseSBOM(%q): component %d has no name", predicateType, i)
			}
			s.Contains(c.PURL) // must not panic
		}
		if s.Format == "spdx" {
			checkSPDXReader(t, predicate, s)
		}
	})
}

// checkSPDXReader checks that tools-golang's json.Read accepts a document
// ParseSBOM accepted, and that its packages are the firmware plus s's
// components, in order.
func checkSPDXReader(t *testing.T, predicate []byte, s *SBOM) {
	t.Helper()
	var names []string
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		doc, err := spdxjson.Read(bytes.NewReader(predicate))
		if err != nil {
			return err
		}
		for _, p := range doc.Packages {
			names = append(names, p.PackageName+"@"+p.PackageVersion)
		}
		return nil
	}()
	if err != nil {
		t.Fatalf("ParseSBOM accepted an SPDX document that json.Read refuses: %v", err)
	}
	want := map[string]int{s.Name + "@" + s.Version: 1}
	for _, c := range s.Components {
		want[c.Name+"@"+c.Version]++
	}
	for _, n := range names {
		want[n]--
	}
	for n, k := range want {
		if k != 0 {
			t.Fatalf("json.Read and ParseSBOM disagree on package %q (%+d)", n, k)
		}
	}
}

// FuzzParsePURL checks that parsePURL never panics and that what it
// accepts survives a round trip through a canonical rendering: the purl
// normalization is idempotent, which Contains relies on to compare.
func FuzzParsePURL(f *testing.F) {
	for _, s := range []string{
		"pkg:generic/openssl@3.0.13?download_url=https://www.openssl.org/source/openssl-3.0.13.tar.gz",
		"pkg:github/Madler/zlib@v1.3.1",
		"pkg:npm/%40angular/core@17.1.0",
		"pkg:npm/@angular/core",
		"pkg:pypi/Django_Extensions@3.2.3",
		"pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=arm64#sub",
		"pkg://golang/github.com/example/mod@v1.2.3#sub/dir",
		"pkg:generic/a%2Fb@1%401",
		"pkg:generic/",
		"busybox",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := parsePURL(s)
		if !ok {
			return
		}
		if k.typ == "" || k.name == "" || k.typ != strings.ToLower(k.typ) {
			t.Fatalf("parsePURL(%q) = %+v", s, k)
		}
		r := "pkg:" + k.typ + "/"
		if k.namespace != "" {
			for seg := range strings.SplitSeq(k.namespace, "/") {
				r += purlEscape(seg) + "/"
			}
		}
		r += purlEscape(k.name)
		if k.version != "" {
			r += "@" + purlEscape(k.version)
		}
		k2, ok := parsePURL(r)
		if !ok || k2 != k {
			t.Fatalf("parsePURL(%q) = %+v; rendered %q parses to %+v, %v", s, k, r, k2, ok)
		}
	})
}

// purlEscape percent-encodes every byte of s but the unreserved ones.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
