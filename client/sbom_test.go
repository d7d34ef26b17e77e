package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readSBOMFixture reads one of the repository's sample SBOMs.
func readSBOMFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "sbom", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustParseSBOM parses a sample SBOM or fails the test.
func mustParseSBOM(t testing.TB, predicateType, name string) *SBOM {
	t.Helper()
	s, err := ParseSBOM(predicateType, readSBOMFixture(t, name))
	if err != nil {
		t.Fatalf("ParseSBOM(%s) = %v", name, err)
	}
	return s
}

func TestParseSBOMGolden(t *testing.T) {
	tests := []struct {
		name          string
		predicateType string
		file          string
		want          *SBOM
	}{
		{
			name:          "cyclonedx",
			predicateType: PredicateCycloneDX,
			file:          "infusion-pump-fw-4.2.1.cdx.json",
			want: &SBOM{
				Format:      "cyclonedx",
				SpecVersion: "1.5",
				Name:        "infusion-pump-fw",
				Version:     "4.2.1",
				Components: []Component{
					{Name: "pump-motor-controller-fw", Version: "1.8.0", PURL: "pkg:generic/example-medical/pump-motor-controller-fw@1.8.0"},
					{Name: "FreeRTOS-Kernel", Version: "10.6.2", PURL: "pkg:github/freertos/freertos-kernel@V10.6.2"},
					{Name: "CMSIS_5", Version: "5.9.0", PURL: "pkg:github/arm-software/cmsis_5@5.9.0"},
					{Name: "u-boot", Version: "2024.01", PURL: "pkg:generic/u-boot@2024.01?download_url=https://ftp.denx.de/pub/u-boot/u-boot-2024.01.tar.bz2", CPE: "cpe:2.3:a:denx:u-boot:2024.01:*:*:*:*:*:*:*"},
					{Name: "linux", Version: "6.1.77", PURL: "pkg:generic/linux@6.1.77?download_url=https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.1.77.tar.xz", CPE: "cpe:2.3:o:linux:linux_kernel:6.1.77:*:*:*:*:*:*:*"},
					{Name: "musl", Version: "1.2.4", PURL: "pkg:generic/musl@1.2.4", CPE: "cpe:2.3:a:musl-libc:musl:1.2.4:*:*:*:*:*:*:*"},
					{Name: "busybox", Version: "1.36.1", PURL: "pkg:generic/busybox@1.36.1", CPE: "cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"},
					{Name: "openssl", Version: "3.0.13", PURL: "pkg:generic/openssl@3.0.13?download_url=https://www.openssl.org/source/openssl-3.0.13.tar.gz", CPE: "cpe:2.3:a:openssl:openssl:3.0.13:*:*:*:*:*:*:*"},
					{Name: "zlib", Version: "1.3.1", PURL: "pkg:generic/zlib@1.3.1", CPE: "cpe:2.3:a:zlib:zlib:1.3.1:*:*:*:*:*:*:*"},
					{Name: "sqlite", Version: "3.45.1", PURL: "pkg:generic/sqlite@3.45.1", CPE: "cpe:2.3:a:sqlite:sqlite:3.45.1:*:*:*:*:*:*:*"},
					{Name: "curl", Version: "8.6.0", PURL: "pkg:generic/curl@8.6.0", CPE: "cpe:2.3:a:haxx:curl:8.6.0:*:*:*:*:*:*:*"},
					{Name: "libxml2", Version: "2.12.5", PURL: "pkg:generic/libxml2@2.12.5", CPE: "cpe:2.3:a:xmlsoft:libxml2:2.12.5:*:*:*:*:*:*:*"},
					{Name: "expat", Version: "2.6.0", PURL: "pkg:generic/expat@2.6.0", CPE: "cpe:2.3:a:libexpat_project:libexpat:2.6.0:*:*:*:*:*:*:*"},
					{Name: "dropbear", Version: "2022.83", PURL: "pkg:generic/dropbear@2022.83", CPE: "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2022.83:*:*:*:*:*:*:*"},
				},
			},
		},
		{
			name:          "spdx",
			predicateType: PredicateSPDX + "/v2.3",
			file:          "glucose-monitor-fw-2.0.3.spdx.json",
			want: &SBOM{
				Format:      "spdx",
				SpecVersion: "SPDX-2.3",
				Name:        "glucose-monitor-fw",
				Version:     "2.0.3",
				Components: []Component{
					{Name: "FreeRTOS-Kernel", Version: "10.6.2", PURL: "pkg:github/freertos/freertos-kernel@V10.6.2"},
					{Name: "lwip", Version: "2.2.0", PURL: "pkg:generic/lwip@2.2.0?download_url=https://download.savannah.nongnu.org/releases/lwip/lwip-2.2.0.zip", CPE: "cpe:2.3:a:lwip_project:lwip:2.2.0:*:*:*:*:*:*:*"},
					{Name: "mbedtls", Version: "3.5.2", PURL: "pkg:github/mbed-tls/mbedtls@v3.5.2", CPE: "cpe:2.3:a:arm:mbed_tls:3.5.2:*:*:*:*:*:*:*"},
					{Name: "zlib", Version: "1.3.1", PURL: "pkg:github/madler/zlib@v1.3.1", CPE: "cpe:2.3:a:zlib:zlib:1.3.1:*:*:*:*:*:*:*"},
					{Name: "cJSON", Version: "1.7.17", PURL: "pkg:github/davegamble/cjson@v1.7.17", CPE: "cpe:2.3:a:cjson_project:cjson:1.7.17:*:*:*:*:*:*:*"},
					{Name: "tinycbor", Version: "0.6.0", PURL: "pkg:github/intel/tinycbor@v0.6.0"},
					{Name: "mcuboot", Version: "2.0.0", PURL: "pkg:github/mcu-tools/mcuboot@v2.0.0"},
					{Name: "CMSIS_5", Version: "5.9.0", PURL: "pkg:github/arm-software/cmsis_5@5.9.0"},
					{Name: "mynewt-nimble", Version: "1.6.0", PURL: "pkg:generic/apache/mynewt-nimble@1.6.0"},
					{Name: "newlib", Version: "4.3.0", PURL: "pkg:generic/newlib@4.3.0"},
					{Name: "sqlite", Version: "3.45.1", PURL: "pkg:generic/sqlite@3.45.1", CPE: "cpe:2.3:a:sqlite:sqlite:3.45.1:*:*:*:*:*:*:*"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParseSBOM(t, tt.predicateType, tt.file)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSBOM(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// cdxDoc returns a CycloneDX 1.5 document with the given components JSON
// array.
func cdxDoc(components string) string {
	return `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,` +
		`"metadata":{"component":{"type":"firmware","name":"fw","version":"1.0"}},` +
		`"components":` + components + `}`
}

// spdxDoc returns an SPDX document of the given version whose packages and
// relationships are the given JSON arrays.
func spdxDoc(version, packages, relationships string) string {
	return `{"spdxVersion":"` + version + `","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT",` +
		`"name":"doc","documentNamespace":"https://example.com/doc",` +
		`"creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: test"]},` +
		`"packages":` + packages + `,"relationships":` + relationships + `}`
}

const (
	spdxFW       = `{"name":"fw","SPDXID":"SPDXRef-fw","versionInfo":"1.0","downloadLocation":"NOASSERTION"}`
	spdxLib      = `{"name":"lib","SPDXID":"SPDXRef-lib","versionInfo":"2.0","downloadLocation":"NOASSERTION"}`
	spdxDescribe = `[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-fw"}]`
)

// sbomMalformedCases are predicates ParseSBOM must refuse. The fuzz test
// seeds from them too.
var sbomMalformedCases = []struct {
	name          string
	predicateType string
	input         string
}{
	{"empty", PredicateCycloneDX, ""},
	{"empty spdx", PredicateSPDX, ""},
	{"not JSON", PredicateCycloneDX, "bomFormat: CycloneDX"},
	{"JSON array", PredicateCycloneDX, `[{"bomFormat":"CycloneDX"}]`},
	{"JSON array spdx", PredicateSPDX, `[]`},
	{"JSON null", PredicateCycloneDX, `null`},
	{"JSON string", PredicateSPDX, `"SPDX-2.3"`},
	{"not UTF-8", PredicateCycloneDX, strings.Replace(cdxDoc(`[{"name":"lib"}]`), "lib", "li\xffb", 1)},
	{"trailing data", PredicateCycloneDX, cdxDoc(`[]`) + `{}`},
	{"truncated cyclonedx", PredicateCycloneDX, cdxDoc(`[{"name":"lib"}]`)[:60]},
	{"truncated spdx", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe)[:200]},
	{"unknown predicate type", "https://example.com/bom", cdxDoc(`[]`)},
	{"predicate type with empty version", PredicateCycloneDX + "/v", cdxDoc(`[]`)},
	{"predicate type version mismatch", PredicateCycloneDX + "/v1.4", cdxDoc(`[]`)},
	{"spdx predicate version mismatch", PredicateSPDX + "/v2.2", spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe)},
	{"cyclonedx under spdx type", PredicateSPDX, cdxDoc(`[]`)},
	{"spdx under cyclonedx type", PredicateCycloneDX, spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe)},
	{"wrong bomFormat", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"CycloneDX"`, `"SPDX"`, 1)},
	{"missing bomFormat", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"bomFormat":"CycloneDX",`, ``, 1)},
	{"missing specVersion", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"specVersion":"1.5",`, ``, 1)},
	{"unknown specVersion", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"1.5"`, `"9.9"`, 1)},
	{"specVersion without JSON form", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"1.5"`, `"1.1"`, 1)},
	{"specVersion number", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"1.5"`, `1.5`, 1)},
	{"missing metadata", PredicateCycloneDX, `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}`},
	{"missing metadata.component", PredicateCycloneDX, `{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"timestamp":"2024-01-01T00:00:00Z"}}`},
	{"firmware without name", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"name":"fw",`, ``, 1)},
	{"firmware without version", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `,"version":"1.0"`, ``, 1)},
	{"firmware with blank version", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"version":"1.0"`, `"version":" "`, 1)},
	{"component without name", PredicateCycloneDX, cdxDoc(`[{"type":"library","name":"a"},{"type":"library","version":"1"}]`)},
	{"null component", PredicateCycloneDX, cdxDoc(`[null]`)},
	{"nested component without name", PredicateCycloneDX, cdxDoc(`[{"name":"a","components":[{"name":"b","components":[{"version":"1"}]}]}]`)},
	{"components is an object", PredicateCycloneDX, cdxDoc(`{"name":"a"}`)},
	{"component name is a number", PredicateCycloneDX, cdxDoc(`[{"name":42}]`)},
	{"metadata is a string", PredicateCycloneDX, `{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":"fw"}`},
	{"duplicate member", PredicateCycloneDX, cdxDoc(`[{"name":"openssl","version":"3.0.14","version":"3.0.13"}]`)},
	{"member differing in case", PredicateCycloneDX, cdxDoc(`[{"name":"openssl","version":"3.0.14","Version":"3.0.13"}]`)},
	{"member name in another case", PredicateCycloneDX, cdxDoc(`[{"name":"openssl","Version":"3.0.13"}]`)},
	{"member name with a folding non-ASCII letter", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"specVersion"`, `"ſpecVersion"`, 1)},
	{"spdx member name in another case", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"spdxVersion"`, `"SPDXVersion"`, 1)},
	{"escaped duplicate member", PredicateCycloneDX, cdxDoc(`[{"name":"openssl","\u0076ersion":"3.0.14","version":"3.0.13"}]`)},
	{"spdx missing spdxVersion", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"spdxVersion":"SPDX-2.3",`, ``, 1)},
	{"spdx spdxVersion number", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"SPDX-2.3"`, `2.3`, 1)},
	{"spdx 2.1", PredicateSPDX, spdxDoc("SPDX-2.1", "["+spdxFW+"]", spdxDescribe)},
	{"spdx missing SPDXID", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"SPDXID":"SPDXRef-DOCUMENT",`, ``, 1)},
	{"spdx SPDXID not DOCUMENT", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"SPDXRef-DOCUMENT",`, `"SPDXRef-DOC",`, 1)},
	{"spdx SPDXID number", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"SPDXRef-DOCUMENT",`, `7,`, 1)},
	{"spdx no packages", PredicateSPDX, spdxDoc("SPDX-2.3", `[]`, `[]`)},
	{"spdx nothing described", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+"]", `[]`)},
	{"spdx described package without version", PredicateSPDX, spdxDoc("SPDX-2.3", "["+strings.Replace(spdxFW, `"versionInfo":"1.0",`, ``, 1)+"]", spdxDescribe)},
	{"spdx described package without name", PredicateSPDX, spdxDoc("SPDX-2.3", "["+strings.Replace(spdxFW, `"name":"fw",`, ``, 1)+"]", spdxDescribe)},
	{"spdx package without name", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+`,{"SPDXID":"SPDXRef-x","downloadLocation":"NOASSERTION"}]`, spdxDescribe)},
	{"spdx package without SPDXID", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+`,{"name":"x","downloadLocation":"NOASSERTION"}]`, spdxDescribe)},
	{"spdx package with malformed SPDXID", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+`,{"name":"x","SPDXID":"SPDXRef-a_b","downloadLocation":"NOASSERTION"}]`, spdxDescribe)},
	{"spdx escaped SPDXID", PredicateSPDX, spdxDoc("SPDX-2.3", "["+strings.Replace(spdxFW, `SPDXRef-fw`, `SPDXRef-f\u0077`, 1)+"]", spdxDescribe)},
	{"spdx escaped relationship id", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+"]", strings.Replace(spdxDescribe, `"SPDXRef-fw"`, `"SPDXRef-f\u0077"`, 1))},
	{"spdx repeated package SPDXID", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+","+strings.Replace(spdxLib, "SPDXRef-lib", "SPDXRef-fw", 1)+"]", spdxDescribe)},
	{"spdx null package", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+",null]", spdxDescribe)},
	{"spdx 2.2 null package", PredicateSPDX, spdxDoc("SPDX-2.2", "["+spdxFW+",null]", spdxDescribe)},
	{"spdx packages is an object", PredicateSPDX, spdxDoc("SPDX-2.3", spdxFW, spdxDescribe)},
	{"spdx versionInfo is a number", PredicateSPDX, spdxDoc("SPDX-2.3", "["+strings.Replace(spdxFW, `"1.0"`, `1.0`, 1)+"]", spdxDescribe)},
	{"spdx duplicate member", PredicateSPDX, spdxDoc("SPDX-2.3", "["+strings.Replace(spdxFW, `"versionInfo":"1.0"`, `"versionInfo":"1.0","versionInfo":"6.6"`, 1)+"]", spdxDescribe)},
}

func TestParseSBOMMalformed(t *testing.T) {
	for _, tt := range sbomMalformedCases {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSBOM(tt.predicateType, []byte(tt.input))
			if !errors.Is(err, ErrSBOM) {
				t.Fatalf("ParseSBOM(%q, %q) = %+v, %v, want ErrSBOM", tt.predicateType, tt.input, s, err)
			}
			if s != nil {
				t.Errorf("ParseSBOM(%q, %q) returned an SBOM with error %v", tt.predicateType, tt.input, err)
			}
		})
	}
}

func TestParseSBOMComponentLimit(t *testing.T) {
	doc := func(n int) []byte {
		return []byte(cdxDoc("[" + strings.TrimSuffix(strings.Repeat(`{"name":"c"},`, n), ",") + "]"))
	}
	s, err := ParseSBOM(PredicateCycloneDX, doc(maxSBOMComponents))
	if err != nil || len(s.Components) != maxSBOMComponents {
		t.Fatalf("ParseSBOM(%d components) = %v", maxSBOMComponents, err)
	}
	if _, err := ParseSBOM(PredicateCycloneDX, doc(maxSBOMComponents+1)); !errors.Is(err, ErrSBOM) {
		t.Fatalf("ParseSBOM(%d components) = %v, want ErrSBOM", maxSBOMComponents+1, err)
	}
}

// TestParseSBOMDecodeBudget checks that documents whose arrays would decode
// to far more memory than their size are refused before decoding.
func TestParseSBOMDecodeBudget(t *testing.T) {
	elements := func(elem string, size int) string {
		return strings.TrimSuffix(strings.Repeat(elem+",", size/(len(elem)+1)), ",")
	}
	tests := []struct {
		name          string
		predicateType string
		input         string
	}{
		{"empty components", PredicateCycloneDX, cdxDoc("[" + elements("{}", 1<<20) + "]")},
		{"null components", PredicateCycloneDX, cdxDoc("[" + elements("null", 2<<20) + "]")},
		{"nested empty components", PredicateCycloneDX, cdxDoc(`[{"name":"a","components":[` + elements("{}", 1<<20) + "]}]")},
		{"empty services", PredicateCycloneDX, strings.Replace(cdxDoc("[]"), `"components"`, `"services":[`+elements("{}", 2<<20)+`],"components"`, 1)},
		{"case-variant name", PredicateCycloneDX, cdxDoc(`[{"name":"a","Pedigree":{"ANCESTORS":[` + elements("{}", 1<<20) + "]}}]")},
		{"empty objects in another array", PredicateCycloneDX, cdxDoc(`[{"name":"a","properties":[` + elements("{}", 4<<20) + "]}]")},
		{"empty packages", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+","+elements("{}", 1<<20)+"]", spdxDescribe)},
		{"empty relationships", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+"]", "["+elements("{}", 3<<20)+"]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.input)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ParseSBOM(tt.predicateType, in)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrSBOM) {
				t.Fatalf("ParseSBOM(%s, %d bytes) = %v, want ErrSBOM", tt.name, len(in), err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("ParseSBOM(%s, %d bytes) allocated %d bytes before refusing: %v", tt.name, len(in), n, err)
			}
		})
	}
}

// TestParseSBOMErrorsDoNotEchoInput checks the rule of errors.go: a refusal
// never repeats the caller's bytes.
func TestParseSBOMErrorsDoNotEchoInput(t *testing.T) {
	const m = "ZZMARKERZZ"
	tests := []struct {
		name          string
		predicateType string
		input         string
	}{
		{"predicate type", PredicateCycloneDX + "/v" + m, cdxDoc(`[]`)},
		{"syntax", PredicateCycloneDX, `{"` + m + `": ` + m + `}`},
		{"bomFormat", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"CycloneDX"`, `"`+m+`"`, 1)},
		{"specVersion", PredicateCycloneDX, strings.Replace(cdxDoc(`[]`), `"1.5"`, `"`+m+`"`, 1)},
		{"type", PredicateCycloneDX, cdxDoc(`[{"name":{"` + m + `":1}}]`)},
		{"duplicate", PredicateCycloneDX, cdxDoc(`[{"name":"a","` + m + `":1,"` + m + `":2}]`)},
		{"spdxVersion", PredicateSPDX, spdxDoc(m, "["+spdxFW+"]", spdxDescribe)},
		{"SPDXID", PredicateSPDX, strings.Replace(spdxDoc("SPDX-2.3", "["+spdxFW+"]", spdxDescribe), `"SPDXRef-DOCUMENT",`, `"`+m+`",`, 1)},
		{"package SPDXID", PredicateSPDX, spdxDoc("SPDX-2.3", "["+strings.Replace(spdxFW, "SPDXRef-fw", m, 1)+"]", spdxDescribe)},
		{"relationship", PredicateSPDX, spdxDoc("SPDX-2.3", "["+spdxFW+"]", strings.Replace(spdxDescribe, `"SPDXRef-fw"`, `"`+m+`"`, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSBOM(tt.predicateType, []byte(tt.input))
			if !errors.Is(err, ErrSBOM) {
				t.Fatalf("ParseSBOM(%q, %q) = %v, want ErrSBOM", tt.predicateType, tt.input, err)
			}
			if strings.Contains(err.Error(), m) {
				t.Errorf("ParseSBOM(%q, %q) = %q, repeats the input", tt.predicateType, tt.input, err)
			}
		})
	}
}

func TestParseSBOMVariants(t *testing.T) {
	lib := Component{Name: "lib", Version: "2.0"}
	tests := []struct {
		name          string
		predicateType string
		input         string
		want          *SBOM
	}{
		{
			name:          "cyclonedx versioned predicate type",
			predicateType: PredicateCycloneDX + "/v1.5",
			input:         cdxDoc(`[{"name":"lib","version":"2.0"}]`),
			want:          &SBOM{Format: "cyclonedx", SpecVersion: "1.5", Name: "fw", Version: "1.0", Components: []Component{lib}},
		},
		{
			name:          "cyclonedx 1.6 without components",
			predicateType: PredicateCycloneDX,
			input:         `{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"component":{"type":"firmware","name":"fw","version":"1.0"}}}`,
			want:          &SBOM{Format: "cyclonedx", SpecVersion: "1.6", Name: "fw", Version: "1.0"},
		},
		{
			name:          "cyclonedx nested depth-first",
			predicateType: PredicateCycloneDX,
			input: `{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"name":"fw","version":"1.0",` +
				`"components":[{"name":"m1","components":[{"name":"m2"}]}]}},` +
				`"components":[{"name":"a","components":[{"name":"b","components":[{"name":"c"}]},{"name":"d"}]},{"name":"e"}]}`,
			want: &SBOM{Format: "cyclonedx", SpecVersion: "1.5", Name: "fw", Version: "1.0", Components: []Component{
				{Name: "m1"}, {Name: "m2"}, {Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"},
			}},
		},
		{
			name:          "same member name in sibling and nested objects",
			predicateType: PredicateCycloneDX,
			input:         cdxDoc(`[{"name":"a","properties":[{"name":"x","value":"{\"name\":1}"}]},{"name":"b"}]`),
			want:          &SBOM{Format: "cyclonedx", SpecVersion: "1.5", Name: "fw", Version: "1.0", Components: []Component{{Name: "a"}, {Name: "b"}}},
		},
		{
			name:          "spdx described package not first",
			predicateType: PredicateSPDX,
			input:         spdxDoc("SPDX-2.3", "["+spdxLib+","+spdxFW+"]", spdxDescribe),
			want:          &SBOM{Format: "spdx", SpecVersion: "SPDX-2.3", Name: "fw", Version: "1.0", Components: []Component{lib}},
		},
		{
			name:          "spdx DESCRIBED_BY",
			predicateType: PredicateSPDX,
			input:         spdxDoc("SPDX-2.3", "["+spdxFW+","+spdxLib+"]", `[{"spdxElementId":"SPDXRef-fw","relationshipType":"DESCRIBED_BY","relatedSpdxElement":"SPDXRef-DOCUMENT"}]`),
			want:          &SBOM{Format: "spdx", SpecVersion: "SPDX-2.3", Name: "fw", Version: "1.0", Components: []Component{lib}},
		},
		{
			name:          "spdx documentDescribes",
			predicateType: PredicateSPDX,
			input:         strings.Replace(spdxDoc("SPDX-2.3", "["+spdxLib+","+spdxFW+"]", `[]`), `"packages"`, `"documentDescribes":["SPDXRef-fw"],"packages"`, 1),
			want:          &SBOM{Format: "spdx", SpecVersion: "SPDX-2.3", Name: "fw", Version: "1.0", Components: []Component{lib}},
		},
		{
			name:          "spdx first described package wins",
			predicateType: PredicateSPDX,
			input: spdxDoc("SPDX-2.3", "["+spdxFW+","+spdxLib+"]",
				`[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"DocumentRef-other:SPDXRef-x"},`+
					`{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-missing"},`+
					`{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-lib"},`+
					`{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-fw"}]`),
			want: &SBOM{Format: "spdx", SpecVersion: "SPDX-2.3", Name: "lib", Version: "2.0", Components: []Component{{Name: "fw", Version: "1.0"}}},
		},
		{
			name:          "spdx 2.2 with underscore category and cpe22",
			predicateType: PredicateSPDX + "/v2.2",
			input: spdxDoc("SPDX-2.2", "["+spdxFW+`,{"name":"lib","SPDXID":"SPDXRef-lib","versionInfo":"2.0","downloadLocation":"NOASSERTION",`+
				`"externalRefs":[{"referenceCategory":"SECURITY","referenceType":"cpe22Type","referenceLocator":"cpe:/a:v:lib:2.0"},`+
				`{"referenceCategory":"PACKAGE_MANAGER","referenceType":"purl","referenceLocator":"pkg:generic/lib@2.0"},`+
				`{"referenceCategory":"PACKAGE_MANAGER","referenceType":"purl","referenceLocator":"pkg:generic/other@9"}]}]`, spdxDescribe),
			want: &SBOM{Format: "spdx", SpecVersion: "SPDX-2.2", Name: "fw", Version: "1.0", Components: []Component{
				{Name: "lib", Version: "2.0", PURL: "pkg:generic/lib@2.0", CPE: "cpe:/a:v:lib:2.0"},
			}},
		},
		{
			name:          "spdx cpe23 preferred to cpe22",
			predicateType: PredicateSPDX,
			input: spdxDoc("SPDX-2.3", "["+spdxFW+`,{"name":"lib","SPDXID":"SPDXRef-lib","downloadLocation":"NOASSERTION",`+
				`"externalRefs":[{"referenceCategory":"SECURITY","referenceType":"cpe22Type","referenceLocator":"cpe:/a:v:lib"},null,`+
				`{"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:v:lib:*:*:*:*:*:*:*:*"}]}]`, spdxDescribe),
			want: &SBOM{Format: "spdx", SpecVersion: "SPDX-2.3", Name: "fw", Version: "1.0", Components: []Component{
				{Name: "lib", CPE: "cpe:2.3:a:v:lib:*:*:*:*:*:*:*:*"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSBOM(tt.predicateType, []byte(tt.input))
			if err != nil {
				t.Fatalf("ParseSBOM(%q, %q) = %v", tt.predicateType, tt.input, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSBOM(%q) mismatch (-want +got):\n%s", tt.input, diff)
			}
		})
	}
}

func TestIsSBOMPredicate(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{PredicateCycloneDX, true},
		{PredicateSPDX, true},
		{"https://cyclonedx.org/bom/v1.5", true},
		{"https://cyclonedx.org/bom/v1.6", true},
		{"https://spdx.dev/Document/v2.3", true},
		{"https://spdx.dev/Document/v2", true},
		{"https://cyclonedx.org/bom/", false},
		{"https://cyclonedx.org/bom/v", false},
		{"https://cyclonedx.org/bom/v1.", false},
		{"https://cyclonedx.org/bom/v.5", false},
		{"https://cyclonedx.org/bom/v1..5", false},
		{"https://cyclonedx.org/bom/v1.5/", false},
		{"https://cyclonedx.org/bom/1.5", false},
		{"https://cyclonedx.org/bom/vX", false},
		{"https://spdx.dev/Document/v2.3-rc1", false},
		{"https://spdx.dev/document", false},
		{"http://cyclonedx.org/bom", false},
		{"https://cyclonedx.org/bomx", false},
		{"https://slsa.dev/provenance/v1", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsSBOMPredicate(tt.in); got != tt.want {
			t.Errorf("IsSBOMPredicate(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestContains(t *testing.T) {
	cdx := mustParseSBOM(t, PredicateCycloneDX, "infusion-pump-fw-4.2.1.cdx.json")
	spdx := mustParseSBOM(t, PredicateSPDX, "glucose-monitor-fw-2.0.3.spdx.json")
	synthetic := &SBOM{Components: []Component{
		{Name: "core", PURL: "pkg:npm/%40angular/core@17.1.0"},
		{Name: "Django", PURL: "pkg:pypi/Django_Extensions@3.2.3"},
		{Name: "no purl"},
		{Name: "bad purl", PURL: "not a purl"},
		{Name: "libssl3", PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=arm64&distro=debian-12"},
		{Name: "sub", PURL: "pkg:golang/github.com/example/mod@v1.2.3#sub/dir"},
	}}
	tests := []struct {
		name string
		s    *SBOM
		purl string
		want bool
	}{
		{"exact with version", cdx, "pkg:generic/busybox@1.36.1", true},
		{"without version", cdx, "pkg:generic/busybox", true},
		{"other version", cdx, "pkg:generic/busybox@1.36.0", false},
		{"component qualifiers ignored", cdx, "pkg:generic/openssl@3.0.13", true},
		{"query qualifiers ignored", cdx, "pkg:generic/zlib@1.3.1?download_url=https://zlib.net/zlib-1.3.1.tar.gz", true},
		{"query subpath ignored", cdx, "pkg:generic/zlib@1.3.1#contrib/minizip", true},
		{"other version of a qualified purl", cdx, "pkg:generic/openssl@3.0.14", false},
		{"nested component", cdx, "pkg:github/freertos/freertos-kernel@V10.6.2", true},
		{"described firmware is not a component", cdx, "pkg:generic/example-medical/infusion-pump-fw@4.2.1", false},
		{"different namespace", spdx, "pkg:github/zlib/zlib@v1.3.1", false},
		{"missing namespace", spdx, "pkg:github/zlib@v1.3.1", false},
		{"different type", spdx, "pkg:generic/madler/zlib@v1.3.1", false},
		{"github case-insensitive", spdx, "pkg:github/Madler/Zlib@v1.3.1", true},
		{"version case-sensitive", spdx, "pkg:github/freertos/freertos-kernel@v10.6.2", false},
		{"type case-insensitive", spdx, "pkg:GitHub/mbed-tls/mbedtls@v3.5.2", true},
		{"scheme with slashes", spdx, "pkg://github/mbed-tls/mbedtls@v3.5.2", true},
		{"generic namespace", spdx, "pkg:generic/apache/mynewt-nimble", true},
		{"generic name without namespace", spdx, "pkg:generic/mynewt-nimble", false},
		{"npm scope escaped", synthetic, "pkg:npm/%40angular/core@17.1.0", true},
		{"npm scope unescaped", synthetic, "pkg:npm/@angular/core", true},
		{"pypi normalized", synthetic, "pkg:pypi/django-extensions@3.2.3", true},
		{"deb with qualifiers", synthetic, "pkg:deb/debian/libssl3@3.0.11-1~deb12u2", true},
		{"deb other arch still same package", synthetic, "pkg:deb/debian/libssl3?arch=amd64", true},
		{"deb other vendor", synthetic, "pkg:deb/ubuntu/libssl3", false},
		{"golang subpath ignored", synthetic, "pkg:golang/github.com/example/mod@v1.2.3", true},
		{"golang namespace", synthetic, "pkg:golang/github.com/other/mod", false},
		{"percent-encoded version", synthetic, "pkg:deb/debian/libssl3@3.0.11-1%7Edeb12u2", true},
		{"not a purl", cdx, "busybox", false},
		{"wrong scheme", cdx, "purl:generic/busybox@1.36.1", false},
		{"no name", cdx, "pkg:generic/", false},
		// The purl library reads a trailing "@" as no version: every busybox matches.
		{"empty version", cdx, "pkg:generic/busybox@", true},
		{"bad escape", cdx, "pkg:generic/busy%zzbox", false},
		{"type starting with a digit", cdx, "pkg:1generic/busybox", false},
		{"empty", cdx, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Contains(tt.purl); got != tt.want {
				t.Errorf("Contains(%q) = %v, want %v", tt.purl, got, tt.want)
			}
		})
	}
}

func TestScanSBOMJSONNames(t *testing.T) {
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 40 {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		b.WriteString(extra + `"end":0}`)
		return b.String()
	}
	tests := []struct {
		in   string
		want bool
	}{
		{`{}`, false},
		{`[]`, false},
		{`"a"`, false},
		{`{"a":1,"b":2}`, false},
		{`{"a":1,"a":2}`, true},
		{`{"a":1,"A":2}`, true},
		{`{"a":1,"\u0041":2}`, true},
		{`{"a\"b":1,"a\"B":2}`, true},
		{`{"k":1,"\u212a":2}`, true},
		{`{"s":1,"ſ":2}`, true},
		{`{"é":1,"É":2}`, true},
		{`{"a":{"a":1}}`, false},
		{`{"a":{"b":1},"b":2}`, false},
		{`[{"a":1},{"a":1}]`, false},
		{`{"a":[{"b":1}],"b":[{"a":1,"b":2,"a":3}]}`, true},
		{`{"a":"{\"a\":1,\"a\":2}","b":"a"}`, false},
		{`{"a":"x","b":"a","c":"a"}`, false},
		{`{"a":["a","a"],"b":1}`, false},
		{many(""), false},
		{many(`"K7":1,`), true},
		{many(`"x":{"k7":1},`), false},
		{`{"a":{` + strings.TrimPrefix(many(""), "{") + `,"A":1}`, true},
	}
	for _, tt := range tests {
		if err := scanJSON([]byte(tt.in), nil, 0); (err != nil) != tt.want || err != nil && !errors.Is(err, ErrSBOM) {
			t.Errorf("scanJSON(%s) = %v, want error %v", tt.in, err, tt.want)
		}
	}
	// Not JSON: refused or not, but never a panic (decodeStrict relies on it).
	for _, in := range []string{`"abc`, `}`, `]]`, `{"a`, `{"a\`, `{"a":"\`, `{"a":1,"a`, `\`} {
		_ = repeatsName([]byte(in))
	}
	read := sbomReadNames["spdx"]
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}`, false},
		{`{"spdXVersion":"SPDX-2.3"}`, true},
		{`{"spdxversion":"SPDX-2.3","spdxVersion":"SPDX-2.3"}`, true},
		{`{"\u0073pdxVersion":"SPDX-2.3"}`, false},
		{`{"ſpdxVersion":"SPDX-2.3"}`, true},
		{`{"packages":[{"NAME":"x"}]}`, true},
		{`{"packages":[{"name":"x","comment":"Name"}]}`, false},
		{`{"annotations":[{"annotator":"x"}],"Annotations":1}`, true},
		{`{"Annotations":1}`, false},
	} {
		if err := scanJSON([]byte(tt.in), read, 0); (err != nil) != tt.want || err != nil && !errors.Is(err, ErrSBOM) {
			t.Errorf("scanJSON(%s, spdx names) = %v, want error %v", tt.in, err, tt.want)
		}
	}
}
