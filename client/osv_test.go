package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readOSVFixture reads one of the sample advisories in testdata/osv.
func readOSVFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "osv", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustParseOSV parses a sample advisory or fails the test.
func mustParseOSV(t testing.TB, name string) *Advisory {
	t.Helper()
	a, err := ParseOSV(readOSVFixture(t, name))
	if err != nil {
		t.Fatalf("ParseOSV(%s) = %v", name, err)
	}
	return a
}

func TestParseOSVFixtures(t *testing.T) {
	date := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		file string
		want *Advisory
	}{
		{"ecosystem.json", &Advisory{
			ID:        "VIGIL-TEST-2024-0001",
			Summary:   "Excessive time spent checking certificate policy constraints",
			Aliases:   []string{"CVE-2099-0001"},
			Modified:  date("2024-03-12T09:30:00Z"),
			Published: date("2024-02-20T16:00:00Z"),
			Affected: []AffectedPackage{
				{
					Ecosystem: "OSS-Fuzz", Name: "openssl", PURL: "pkg:generic/openssl", Key: "pkg:generic/openssl",
					Ranges: []Range{{Type: RangeEcosystem, Events: []Event{
						{Introduced, "3.0.0"}, {Fixed, "3.0.8"}, {Introduced, "3.1.0"}, {Fixed, "3.1.1"},
					}}},
				},
				{
					Ecosystem: "Alpine:v3.19", Name: "openssl", Key: "pkg:apk/alpine/openssl",
					Ranges: []Range{{Type: RangeEcosystem, Events: []Event{{Introduced, "0"}, {Fixed, "3.1.4-r1"}}}},
				},
			},
		}},
		{"semver.json", &Advisory{
			ID:        "VIGIL-TEST-2024-0002",
			Summary:   "HL7 parser reads past the end of a truncated segment",
			Aliases:   []string{"CVE-2099-0002", "GHSA-test-0000-0002"},
			Modified:  date("2024-05-02T11:00:00.5Z"),
			Published: date("2024-04-30T08:15:00Z"),
			Affected: []AffectedPackage{
				{
					Ecosystem: "Go", Name: "example.com/hl7/parser/v2", Key: "pkg:golang/example.com/hl7/parser/v2",
					Ranges: []Range{{Type: RangeSemver, Events: []Event{
						{Introduced, "2.0.0"}, {Fixed, "2.4.1"}, {Introduced, "2.5.0-rc.1"}, {Fixed, "2.5.3"},
					}}},
				},
				{
					Ecosystem: "npm", Name: "@example/hl7-parser", PURL: "pkg:npm/%40example/hl7-parser", Key: "pkg:npm/%40example/hl7-parser",
					Ranges: []Range{{Type: RangeSemver, Events: []Event{{Introduced, "0"}, {Fixed, "1.7.0"}}}},
				},
			},
		}},
		{"versions.json", &Advisory{
			ID:       "VIGIL-TEST-2024-0003",
			Summary:  "DICOM reader accepts oversized pixel data",
			Modified: date("2024-06-18T14:22:41Z"),
			Affected: []AffectedPackage{{
				Ecosystem: "PyPI", Name: "dicom-reader", PURL: "pkg:pypi/dicom-reader", Key: "pkg:pypi/dicom-reader",
				Ranges:   []Range{{Type: RangeEcosystem, Events: []Event{{Introduced, "1.2.0"}, {Fixed, "1.4.2"}}}},
				Versions: []string{"1.2.0", "1.2.1", "1.3.0", "1.3.0rc1", "1.4.0", "1.4.1"},
			}},
		}},
		{"last-affected.json", &Advisory{
			ID:        "VIGIL-TEST-2024-0004",
			Summary:   "XML parser resolves external entities by default",
			Modified:  date("2024-07-01T00:00:00Z"),
			Published: date("2024-07-01T00:00:00Z"),
			Affected: []AffectedPackage{{
				Ecosystem: "Maven", Name: "org.example.medical:fhir-xml", Key: "pkg:maven/org.example.medical/fhir-xml",
				Ranges: []Range{{Type: RangeEcosystem, Events: []Event{{Introduced, "0"}, {LastAffected, "2.1.214"}}}},
			}},
		}},
		{"git.json", &Advisory{
			ID:        "VIGIL-TEST-2024-0005",
			Summary:   "Heap-buffer-overflow in the TCP option parser",
			Modified:  date("2024-08-09T10:11:12Z"),
			Published: date("2024-08-01T00:00:00Z"),
			Affected: []AffectedPackage{{
				Ecosystem: "OSS-Fuzz", Name: "lwip", PURL: "pkg:generic/lwip", Key: "pkg:generic/lwip",
				Ranges: []Range{{Type: RangeGit, Repo: "https://git.example.org/lwip.git", Events: []Event{
					{Introduced, "3b5d1f0c6a9e2d4b8f7a1c3e5d7b9f0a2c4e6a8b"},
					{Fixed, "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"},
				}}},
				Versions: []string{"2.1.2", "2.1.3"},
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := mustParseOSV(t, tt.file)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseOSV(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// osvWith wraps the JSON of one affected entry's members (after the
// package) into an advisory.
func osvWith(affected string) string {
	return `{"id":"T-1","affected":[{"package":{"purl":"pkg:generic/x"}` + affected + `}]}`
}

// osvRanges is an advisory with one affected entry holding the given
// ranges.
func osvRanges(ranges string) string { return osvWith(`,"ranges":[` + ranges + `]`) }

func TestParseOSVRefusals(t *testing.T) {
	// Inputs carry this marker where an error could echo them.
	const secret = "ZZSECRETZZ"
	many := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", ``, "not JSON"},
		{"not JSON", `{"id": ZZSECRETZZ`, "not JSON"},
		{"trailing data", `{"id":"X"} {"id":"ZZSECRETZZ"}`, "not JSON"},
		{"not UTF-8", "{\"id\":\"ZZSECRETZZ\xff\"}", "not UTF-8"},
		{"array", `["ZZSECRETZZ"]`, "not a JSON object"},
		{"string", `"ZZSECRETZZ"`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"too large", `{"id":"X","details":"` + strings.Repeat("a", maxOSVSize) + `"}`, "larger than 4 MiB"},
		{"missing id", `{"summary":"ZZSECRETZZ"}`, "no id"},
		{"empty id", `{"id":"","summary":"ZZSECRETZZ"}`, "no id"},
		{"null id", `{"id":null}`, "no id"},
		{"id not a string", `{"id":5}`, "id has the wrong type"},
		{"summary not a string", `{"id":"X","summary":["ZZSECRETZZ"]}`, "summary has the wrong type"},
		{"aliases not an array", `{"id":"X","aliases":"ZZSECRETZZ"}`, "aliases has the wrong type"},
		{"alias not a string", `{"id":"X","aliases":[{"ZZSECRETZZ":1}]}`, "aliases has the wrong type"},
		{"modified not a time", `{"id":"X","modified":"ZZSECRETZZ"}`, "modified is not an RFC 3339 time"},
		{"published without zone", `{"id":"X","published":"2024-01-02T03:04:05"}`, "published is not an RFC 3339 time"},
		{"withdrawn not a string", `{"id":"X","withdrawn":1}`, "withdrawn has the wrong type"},
		{"repeated name", `{"id":"X","id":"ZZSECRETZZ"}`, "repeats a member name"},
		{"repeated name in affected", osvWith(`,"versions":["1"],"versions":["ZZSECRETZZ"]`), "repeats a member name"},
		{"name differing in case", `{"id":"X","ID":"ZZSECRETZZ"}`, "only in case"},
		{"nested name differing in case", osvWith(`,"Versions":["ZZSECRETZZ"]`), "only in case"},
		{"affected not an array", `{"id":"X","affected":{"ZZSECRETZZ":1}}`, "affected is not an array"},
		{"affected entry not an object", `{"id":"X","affected":["ZZSECRETZZ"]}`, "affected[0] has the wrong type"},
		{"no package", `{"id":"X","affected":[{"versions":["ZZSECRETZZ"]}]}`, "affected[0]: package has neither a purl nor an ecosystem and a name"},
		{"null package", `{"id":"X","affected":[{"package":null}]}`, "affected[0]: package has neither"},
		{"ecosystem without name", `{"id":"X","affected":[{"package":{"ecosystem":"npm"}}]}`, "affected[0]: package has neither"},
		{"name without ecosystem", `{"id":"X","affected":[{"package":{"name":"ZZSECRETZZ"}}]}`, "affected[0]: package has neither"},
		{"package not an object", `{"id":"X","affected":[{"package":"ZZSECRETZZ"}]}`, "affected[0]: package has the wrong type"},
		{"package name not a string", `{"id":"X","affected":[{"package":{"ecosystem":"npm","name":7}}]}`, "affected[0]: package.name has the wrong type"},
		{"invalid purl", `{"id":"X","affected":[{"package":{"purl":"ZZSECRETZZ"}}]}`, "affected[0].package: purl is not a valid package URL"},
		{"invalid purl beside ecosystem", `{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"x","purl":"pkg:ZZSECRETZZ"}}]}`, "affected[0].package: purl is not"},
		{"versions not strings", osvWith(`,"versions":[1]`), "affected[0]: versions has the wrong type"},
		{"ranges not an array", osvWith(`,"ranges":{"ZZSECRETZZ":1}`), "affected[0].ranges is not an array"},
		{"range not an object", osvRanges(`"ZZSECRETZZ"`), "affected[0].ranges[0] has the wrong type"},
		{"range type unknown", osvRanges(`{"type":"ZZSECRETZZ","events":[{"introduced":"0"}]}`), "affected[0].ranges[0]: type is not SEMVER, ECOSYSTEM or GIT"},
		{"range type lowercase", osvRanges(`{"type":"semver","events":[{"introduced":"0"}]}`), "type is not SEMVER"},
		{"range type missing", osvRanges(`{"events":[{"introduced":"0"}]}`), "type is not SEMVER"},
		{"range type not a string", osvRanges(`{"type":1,"events":[{"introduced":"0"}]}`), "affected[0].ranges[0]: type has the wrong type"},
		{"no events", osvRanges(`{"type":"ECOSYSTEM"}`), "affected[0].ranges[0]: no events"},
		{"empty events", osvRanges(`{"type":"ECOSYSTEM","events":[]}`), "affected[0].ranges[0]: no events"},
		{"null events", osvRanges(`{"type":"GIT","events":null}`), "affected[0].ranges[0]: no events"},
		{"events not an array", osvRanges(`{"type":"ECOSYSTEM","events":{"introduced":"ZZSECRETZZ"}}`), "affected[0].ranges[0].events is not an array"},
		{"event not an object", osvRanges(`{"type":"ECOSYSTEM","events":["ZZSECRETZZ"]}`), "affected[0].ranges[0].events[0]: event is not an object"},
		{"event with no key", osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{}]}`), "affected[0].ranges[0].events[1]: event with no key"},
		{"event with two keys", osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"ZZSECRETZZ"}]}`), "affected[0].ranges[0].events[0]: event with several keys"},
		{"event with an unknown key", osvRanges(`{"type":"ECOSYSTEM","events":[{"ZZSECRETZZ":"0"}]}`), "event key is not introduced, fixed, last_affected or limit"},
		{"event key in another case", osvRanges(`{"type":"ECOSYSTEM","events":[{"Introduced":"0"}]}`), "event key is not"},
		{"event value a number", osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":0}]}`), "event value is not a non-empty string"},
		{"event value empty", osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":""}]}`), "event value is not a non-empty string"},
		{"event value an object", osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":{"ZZSECRETZZ":"1"}}]}`), "event value is not"},
		{"event value null", osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":null}]}`), "event value is not"},
		{"no introduced event", osvRanges(`{"type":"ECOSYSTEM","events":[{"fixed":"ZZSECRETZZ"}]}`), "affected[0].ranges[0]: no introduced event"},
		{"SEMVER not a version", osvRanges(`{"type":"SEMVER","events":[{"introduced":"ZZSECRETZZ"}]}`), "affected[0].ranges[0].events[0]: not a semantic version"},
		{"SEMVER with four parts", osvRanges(`{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0.1"}]}`), "events[1]: not a semantic version"},
		{"SEMVER leading zero", osvRanges(`{"type":"SEMVER","events":[{"introduced":"01.2.3"}]}`), "not a semantic version"},
		{
			"place of a later error",
			`{"id":"X","affected":[{"package":{"purl":"pkg:generic/a"}},{"package":{"purl":"pkg:generic/b"},"ranges":[` +
				`{"type":"GIT","events":[{"introduced":"0"}]},{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1"},{"fixed":"2","limit":"ZZSECRETZZ"}]}]}]}`,
			"affected[1].ranges[1].events[2]: event with several keys",
		},
		{
			"too many affected entries",
			`{"id":"X","affected":[` + many(maxOSVItems+1, `{"package":{"purl":"pkg:generic/x"}}`) + `]}`,
			"more than 10000 affected entries",
		},
		{
			"too many events in one range",
			osvRanges(`{"type":"ECOSYSTEM","events":[` + many(maxOSVItems+1, `{"introduced":"0"}`) + `]}`),
			"more than 10000 events",
		},
		{
			"too many events in all",
			`{"id":"X","affected":[` + many(2, `{"package":{"purl":"pkg:generic/x"},"ranges":[`+
				many(2, `{"type":"GIT","events":[`+many(maxOSVItems/4+1, `{"introduced":"0"}`)+`]}`)+`]}`) + `]}`,
			"more than 10000 events",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseOSV([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseOSV(%.80q) = %+v, want an error containing %q", tt.in, a, tt.want)
			}
			if !errors.Is(err, ErrOSV) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseOSV(%.80q) = %v, want ErrOSV containing %q", tt.in, err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("ParseOSV(%.80q) = %v, which repeats the input", tt.in, err)
			}
		})
	}
}

func TestParseOSVAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Advisory
	}{
		{
			"only an id",
			`{"id":"X"}`,
			&Advisory{ID: "X"},
		},
		{
			"unknown members of any type, at every level",
			`{"id":"X","schema_version":"1.6.0","details":7,"severity":[{"type":"CVSS_V3","score":"x"}],"database_specific":{"a":[1,{"b":null}]},` +
				`"affected":[{"package":{"ecosystem":"npm","name":"left-pad","extra":true},"ecosystem_specific":[1],` +
				`"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}],"database_specific":{"x":1}}]}]}`,
			&Advisory{ID: "X", Affected: []AffectedPackage{{
				Ecosystem: "npm", Name: "left-pad", Key: "pkg:npm/left-pad",
				Ranges: []Range{{Type: RangeSemver, Events: []Event{{Introduced, "0"}}}},
			}}},
		},
		{
			"nulls for absent members",
			`{"id":"X","summary":null,"aliases":null,"modified":null,"affected":[{"package":{"purl":"pkg:generic/x"},"ranges":null,"versions":null}]}`,
			&Advisory{ID: "X", Affected: []AffectedPackage{{PURL: "pkg:generic/x", Key: "pkg:generic/x"}}},
		},
		{
			"null affected",
			`{"id":"X","affected":null}`,
			&Advisory{ID: "X"},
		},
		{
			"purl with version, qualifiers and subpath",
			`{"id":"X","affected":[{"package":{"ecosystem":"Debian:12","name":"openssl","purl":"pkg:deb/debian/OpenSSL@3.0.11-1?arch=source#x"}}]}`,
			&Advisory{ID: "X", Affected: []AffectedPackage{{
				Ecosystem: "Debian:12", Name: "openssl", PURL: "pkg:deb/debian/OpenSSL@3.0.11-1?arch=source#x", Key: "pkg:deb/debian/openssl",
			}}},
		},
		{
			"ecosystem without a purl type",
			`{"id":"X","affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"},"versions":["3.0.2-0ubuntu1.10"]}]}`,
			&Advisory{ID: "X", Affected: []AffectedPackage{{
				Ecosystem: "Ubuntu:22.04:LTS", Name: "openssl", Versions: []string{"3.0.2-0ubuntu1.10"},
			}}},
		},
		{
			"SEMVER with v, padding, limits and last_affected",
			osvRanges(`{"type":"SEMVER","events":[{"introduced":"v1.2"},{"last_affected":"1.4.0-rc.1+b"},{"limit":"*"},{"limit":"2"}]}`),
			&Advisory{ID: "T-1", Affected: []AffectedPackage{{
				PURL: "pkg:generic/x", Key: "pkg:generic/x",
				Ranges: []Range{{Type: RangeSemver, Events: []Event{{Introduced, "v1.2"}, {LastAffected, "1.4.0-rc.1+b"}, {Limit, "*"}, {Limit, "2"}}}},
			}}},
		},
		{
			"GIT range without repo, ECOSYSTEM with any strings",
			osvRanges(`{"type":"GIT","events":[{"introduced":"abc"}]},{"type":"ECOSYSTEM","events":[{"introduced":"1:2.0~ä"}]}`),
			&Advisory{ID: "T-1", Affected: []AffectedPackage{{
				PURL: "pkg:generic/x", Key: "pkg:generic/x",
				Ranges: []Range{
					{Type: RangeGit, Events: []Event{{Introduced, "abc"}}},
					{Type: RangeEcosystem, Events: []Event{{Introduced, "1:2.0~ä"}}},
				},
			}}},
		},
		{
			"withdrawn",
			`{"id":"X","modified":"2024-01-02T03:04:05+02:00","withdrawn":"2024-01-03T00:00:00Z"}`,
			&Advisory{
				ID:        "X",
				Modified:  time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC),
				Withdrawn: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC),
			},
		},
		{
			"exactly the bounds",
			`{"id":"X","affected":[` + strings.TrimSuffix(strings.Repeat(`{"package":{"purl":"pkg:generic/x"}},`, maxOSVItems-1), ",") +
				`,{"package":{"purl":"pkg:generic/y"},"ranges":[{"type":"GIT","events":[` +
				strings.TrimSuffix(strings.Repeat(`{"introduced":"0"},`, maxOSVItems), ",") + `]}]}]}`,
			nil, // checked below by counting
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSV([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseOSV(%.80q) = %v", tt.in, err)
			}
			if tt.want == nil {
				if len(got.Affected) != maxOSVItems || len(got.Affected[maxOSVItems-1].Ranges[0].Events) != maxOSVItems {
					t.Errorf("ParseOSV(%.80q): %d affected entries, want %d", tt.in, len(got.Affected), maxOSVItems)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseOSV(%.80q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestPackageKey(t *testing.T) {
	tests := []struct {
		name, purl, key, version string
	}{
		{"exact version", "pkg:generic/openssl@3.0.7", "pkg:generic/openssl", "3.0.7"},
		{"no version", "pkg:generic/openssl", "pkg:generic/openssl", ""},
		{"empty version", "pkg:generic/busybox@", "pkg:generic/busybox", ""},
		{"qualifiers and subpath dropped", "pkg:generic/openssl@3.0.13?download_url=https://www.openssl.org/source/openssl-3.0.13.tar.gz#crypto", "pkg:generic/openssl", "3.0.13"},
		{"namespace kept", "pkg:generic/example-medical/pump-motor-controller-fw@1.8.0", "pkg:generic/example-medical/pump-motor-controller-fw", "1.8.0"},
		{"type lowercased", "pkg:GENERIC/Busybox@1.36.1", "pkg:generic/Busybox", "1.36.1"},
		{"scheme case and slashes", "PKG://generic/busybox", "pkg:generic/busybox", ""},
		{"github lowercased, version not", "pkg:github/Madler/Zlib@V1.3.1", "pkg:github/madler/zlib", "V1.3.1"},
		{"pypi lowercased and '_' as '-'", "pkg:pypi/Django_Extensions@3.2.3", "pkg:pypi/django-extensions", "3.2.3"},
		{"pypi '.' kept", "pkg:pypi/zope.interface@6.0", "pkg:pypi/zope.interface", "6.0"},
		{"golang lowercased", "pkg:golang/github.com/Example/Mod@v1.2.3#sub/dir", "pkg:golang/github.com/example/mod", "v1.2.3"},
		{"deb lowercased, version decoded", "pkg:deb/debian/LibSSL3@3.0.11-1%7Edeb12u2?arch=arm64", "pkg:deb/debian/libssl3", "3.0.11-1~deb12u2"},
		{"maven case kept", "pkg:maven/org.Example/Lib@1.0", "pkg:maven/org.Example/Lib", "1.0"},
		{"npm scope escaped", "pkg:npm/%40angular/core@17.1.0", "pkg:npm/%40angular/core", "17.1.0"},
		{"npm scope unescaped", "pkg:npm/@angular/core", "pkg:npm/%40angular/core", ""},
		{"escaped slash in name", "pkg:generic/a%2Fb@1", "pkg:generic/a%2Fb", "1"},
		{"escaped slash in namespace", "pkg:generic/a%2Fb/c", "pkg:generic/a/b/c", ""},
		{"empty namespace segments dropped", "pkg:generic//a//b", "pkg:generic/a/b", ""},
		{"non-ASCII escaped", "pkg:generic/caf%C3%A9@1%2B2", "pkg:generic/caf%C3%A9", "1+2"},
		{"unreserved and ':' unescaped", "pkg:generic/a%3Ab%7E", "pkg:generic/a:b~", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, version, err := PackageKey(tt.purl)
			if err != nil || key != tt.key || version != tt.version {
				t.Fatalf("PackageKey(%q) = %q, %q, %v, want %q, %q", tt.purl, key, version, err, tt.key, tt.version)
			}
			// A key is its own key.
			if k2, v2, err := PackageKey(key); err != nil || k2 != key || v2 != "" {
				t.Errorf("PackageKey(%q) = %q, %q, %v, want it unchanged", key, k2, v2, err)
			}
		})
	}

	for _, purl := range []string{
		"",
		"openssl",
		"purl:generic/openssl",
		"pkg:generic",
		"pkg:generic/",
		"pkg:/openssl",
		"pkg:1generic/openssl",
		"pkg:gen eric/openssl",
		"pkg:generic/open%zzssl",
		"pkg:generic/openssl@3.0%zz",
		"pkg:generic/openssl?bad%20key=1",
		"pkg:npm/@angular",
		"pkg:julia/Example",
		"pkg:cpan/lower/Some-Dist",
	} {
		t.Run("invalid "+purl, func(t *testing.T) {
			key, version, err := PackageKey(purl)
			if !errors.Is(err, ErrPURL) {
				t.Fatalf("PackageKey(%q) = %q, %q, %v, want ErrPURL", purl, key, version, err)
			}
			if purl != "" && strings.Contains(err.Error(), purl) {
				t.Errorf("PackageKey(%q) = %v, which repeats the input", purl, err)
			}
		})
	}
}

// TestPackageKeyAgreesWithContains checks the promise a server index relies
// on: looking a query purl up by key (and version, if it has one) finds a
// component exactly when SBOM.Contains does.
func TestPackageKeyAgreesWithContains(t *testing.T) {
	sboms := []*SBOM{
		mustParseSBOM(t, PredicateCycloneDX, "infusion-pump-fw-4.2.1.cdx.json"),
		mustParseSBOM(t, PredicateSPDX, "glucose-monitor-fw-2.0.3.spdx.json"),
		{Components: []Component{
			{Name: "core", PURL: "pkg:npm/%40angular/core@17.1.0"},
			{Name: "Django", PURL: "pkg:pypi/Django_Extensions@3.2.3"},
			{Name: "bad purl", PURL: "not a purl"},
			{Name: "libssl3", PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=arm64&distro=debian-12"},
			{Name: "sub", PURL: "pkg:golang/github.com/example/mod@v1.2.3#sub/dir"},
			{Name: "slashes", PURL: "pkg:generic/a%2F/b/c@1"},
		}},
	}
	queries := []string{
		"pkg:generic/busybox@1.36.1", "pkg:generic/busybox", "pkg:generic/busybox@1.36.0", "pkg:generic/openssl@3.0.13",
		"pkg:github/freertos/freertos-kernel@V10.6.2", "pkg:github/freertos/freertos-kernel@v10.6.2",
		"pkg:github/Madler/Zlib@v1.3.1", "pkg:GitHub/mbed-tls/mbedtls@v3.5.2", "pkg://github/mbed-tls/mbedtls",
		"pkg:generic/apache/mynewt-nimble", "pkg:generic/mynewt-nimble", "pkg:npm/@angular/core",
		"pkg:pypi/django-extensions@3.2.3", "pkg:deb/debian/libssl3?arch=amd64", "pkg:deb/ubuntu/libssl3",
		"pkg:golang/github.com/example/mod@v1.2.3", "pkg:generic/a/b/c", "pkg:generic/a%2F/b/c", "pkg:generic/busybox@",
	}
	for i, s := range sboms {
		// The index: versions by key.
		index := map[string][]string{}
		for _, c := range s.Components {
			if key, version, err := PackageKey(c.PURL); err == nil {
				index[key] = append(index[key], version)
			}
		}
		for _, q := range queries {
			key, version, err := PackageKey(q)
			found := err == nil && len(index[key]) > 0 && (version == "" || slices.Contains(index[key], version))
			if want := s.Contains(q); found != want {
				t.Errorf("SBOM %d: index lookup of %q = %v, Contains = %v", i, q, found, want)
			}
		}
	}
}

func TestEcosystemKey(t *testing.T) {
	tests := []struct{ ecosystem, name, want string }{
		{"npm", "lodash", "pkg:npm/lodash"},
		{"npm", "@example/hl7-parser", "pkg:npm/%40example/hl7-parser"},
		{"npm", "@example/", ""},
		{"PyPI", "Dicom_Reader", "pkg:pypi/dicom-reader"},
		{"Go", "github.com/Example/Mod/v2", "pkg:golang/github.com/example/mod/v2"},
		{"Go", "stdlib", "pkg:golang/stdlib"},
		{"Maven", "org.apache.logging.log4j:log4j-core", "pkg:maven/org.apache.logging.log4j/log4j-core"},
		{"Maven:https://maven.google.com", "androidx.core:core", "pkg:maven/androidx.core/core"},
		{"Maven", "log4j-core", ""},
		{"crates.io", "serde_json", "pkg:cargo/serde_json"},
		{"RubyGems", "rails", "pkg:gem/rails"},
		{"NuGet", "Newtonsoft.Json", "pkg:nuget/Newtonsoft.Json"},
		{"Debian", "openssl", "pkg:deb/debian/openssl"},
		{"Debian:12", "OpenSSL", "pkg:deb/debian/openssl"},
		{"Alpine:v3.19", "openssl", "pkg:apk/alpine/openssl"},
		{"Packagist", "Symfony/HTTP-Kernel", "pkg:composer/symfony/http-kernel"},
		{"Hex", "plug", "pkg:hex/plug"},
		{"Pub", "http", "pkg:pub/http"},
		{"crates.io", "a/b", "pkg:cargo/a%2Fb"},
		{"Ubuntu:22.04:LTS", "openssl", ""},
		{"OSS-Fuzz", "openssl", ""},
		{"pypi", "requests", ""},
		{"NPM", "lodash", ""},
	}
	for _, tt := range tests {
		if got := ecosystemKey(tt.ecosystem, tt.name); got != tt.want {
			t.Errorf("ecosystemKey(%q, %q) = %q, want %q", tt.ecosystem, tt.name, got, tt.want)
		}
	}
}

func TestPackageKeys(t *testing.T) {
	a, err := ParseOSV([]byte(`{"id":"X","affected":[` +
		`{"package":{"ecosystem":"npm","name":"b"}},` +
		`{"package":{"purl":"pkg:npm/b?x=1"}},` +
		`{"package":{"ecosystem":"Ubuntu","name":"c"}},` +
		`{"package":{"ecosystem":"PyPI","name":"A_b"}},` +
		`{"package":{"ecosystem":"OSS-Fuzz","name":"a","purl":"pkg:generic/a"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pkg:npm/b", "pkg:pypi/a-b", "pkg:generic/a"}
	if diff := cmp.Diff(want, a.PackageKeys()); diff != "" {
		t.Errorf("PackageKeys() mismatch (-want +got):\n%s", diff)
	}
	if got := (&Advisory{ID: "X"}).PackageKeys(); got != nil {
		t.Errorf("PackageKeys() of no affected entries = %q, want nil", got)
	}
}

func TestAdvisoryMatch(t *testing.T) {
	const (
		eco       = `{"type":"ECOSYSTEM","events":[{"introduced":"3.0.0"},{"fixed":"3.0.8"}]}`
		semverRng = `{"type":"SEMVER","events":[{"introduced":"1.2.0"},{"fixed":"1.4.0"}]}`
	)
	ranges := func(r ...string) string { return osvRanges(strings.Join(r, ",")) }
	x := func(version string) Component { return Component{Name: "x", PURL: "pkg:generic/x@" + version} }
	tests := []struct {
		name     string
		advisory string // JSON, or a fixture's file name
		c        Component
		want     string // AffectedMatch.String(), or "" for no match
		wantAt   [2]int // Affected and Range, when matched
	}{
		{"below introduced", ranges(eco), x("2.9.9"), "", [2]int{}},
		{"introduced is inclusive", ranges(eco), x("3.0.0"), "introduced 3.0.0, fixed 3.0.8", [2]int{0, 0}},
		{"inside", ranges(eco), x("3.0.7"), "introduced 3.0.0, fixed 3.0.8", [2]int{0, 0}},
		{"fixed is exclusive", ranges(eco), x("3.0.8"), "", [2]int{}},
		{"3.0.10 > 3.0.8", ranges(eco), x("3.0.10"), "", [2]int{}},
		{"3.0.9 < 3.0.10", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"3.0.0"},{"fixed":"3.0.10"}]}`), x("3.0.9"), "introduced 3.0.0, fixed 3.0.10", [2]int{0, 0}},
		{"1.9 < 1.10", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.10"}]}`), x("1.9"), "introduced 0, fixed 1.10", [2]int{0, 0}},
		{"1.10 not below 1.10", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.10"}]}`), x("1.10"), "", [2]int{}},
		{"1.0 = 1.0.0 at fixed", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}`), x("1.0.0"), "", [2]int{}},
		{"1.0 = 1.0.0 at introduced", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"}]}`), x("1.0"), "introduced 1.0.0", [2]int{0, 0}},
		{"introduced 0 alone", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}`), x("0.0.1~anything"), "introduced 0", [2]int{0, 0}},
		{"last_affected is inclusive", "last-affected.json", Component{PURL: "pkg:maven/org.example.medical/fhir-xml@2.1.214"}, "introduced 0, last_affected 2.1.214", [2]int{0, 0}},
		{"after last_affected", "last-affected.json", Component{PURL: "pkg:maven/org.example.medical/fhir-xml@2.1.215"}, "", [2]int{}},
		{"maven name is case-sensitive", "last-affected.json", Component{PURL: "pkg:maven/org.example.medical/FHIR-xml@2.1.0"}, "", [2]int{}},
		{"rc before release, inside", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}`), x("1.0.0-rc1"), "introduced 0, fixed 1.0.0", [2]int{0, 0}},
		{"rc before release, below introduced", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"}]}`), x("1.0.0-rc1"), "", [2]int{}},
		{"build after release", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}`), x("1.0.0+build.1"), "", [2]int{}},
		{"dpkg tilde before", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}`), x("3.0.11-1~deb12u1"), "introduced 0, fixed 3.0.11-1~deb12u2", [2]int{0, 0}},
		{"dpkg tilde version after its base", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}`), x("3.0.11-1"), "", [2]int{}},
		{"dpkg plus revisions", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1+deb12u2"}]}`), x("3.0.11-1+deb12u1"), "introduced 0, fixed 3.0.11-1+deb12u2", [2]int{0, 0}},
		{"two intervals, first", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"},{"fixed":"1.0.2"},{"introduced":"3.0.0"},{"fixed":"3.2.5"}]}`), x("1.0.1"), "introduced 1.0.0, fixed 1.0.2", [2]int{0, 0}},
		{"two intervals, between", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"},{"fixed":"1.0.2"},{"introduced":"3.0.0"},{"fixed":"3.2.5"}]}`), x("2.0.0"), "", [2]int{}},
		{"two intervals, second", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"},{"fixed":"1.0.2"},{"introduced":"3.0.0"},{"fixed":"3.2.5"}]}`), x("3.1.0"), "introduced 3.0.0, fixed 3.2.5", [2]int{0, 0}},
		{"events out of order", ranges(`{"type":"ECOSYSTEM","events":[{"fixed":"3.2.5"},{"introduced":"3.0.0"},{"fixed":"1.0.2"},{"introduced":"1.0.0"}]}`), x("3.1.0"), "introduced 3.0.0, fixed 3.2.5", [2]int{0, 0}},
		{"two ranges, second holds it", ranges(eco, `{"type":"ECOSYSTEM","events":[{"introduced":"4.0.0"},{"fixed":"4.0.1"}]}`), x("4.0.0"), "introduced 4.0.0, fixed 4.0.1", [2]int{0, 1}},
		{"below a limit", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2.0"}]}`), x("1.5"), "introduced 0", [2]int{0, 0}},
		{"at a limit", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2.0"}]}`), x("2.0"), "", [2]int{}},
		{"below one of two limits", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2.0"},{"limit":"3.0"}]}`), x("2.5"), "introduced 0", [2]int{0, 0}},
		{"limit at infinity", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"*"}]}`), x("99"), "introduced 0", [2]int{0, 0}},
		{"listed in versions", osvWith(`,"versions":["1.2.3"]`), x("1.2.3"), "version 1.2.3 listed", [2]int{0, -1}},
		{"versions compare exactly", osvWith(`,"versions":["1.2.3"]`), x("1.2.3.0"), "", [2]int{}},
		{"versions before ranges", osvWith(`,"versions":["3.0.1"],"ranges":[` + eco + `]`), x("3.0.1"), "version 3.0.1 listed", [2]int{0, -1}},
		{"range when not listed", osvWith(`,"versions":["3.0.1"],"ranges":[` + eco + `]`), x("3.0.2"), "introduced 3.0.0, fixed 3.0.8", [2]int{0, 0}},
		{"GIT range ignored", ranges(`{"type":"GIT","repo":"https://example.org/x.git","events":[{"introduced":"0"}]}`), x("1.0"), "", [2]int{}},
		{"GIT fixture, listed version", "git.json", Component{PURL: "pkg:generic/lwip@2.1.3"}, "version 2.1.3 listed", [2]int{0, -1}},
		{"GIT fixture, other version", "git.json", Component{PURL: "pkg:generic/lwip@2.2.0"}, "", [2]int{}},
		{"SEMVER inside", ranges(semverRng), x("1.3.0"), "introduced 1.2.0, fixed 1.4.0", [2]int{0, 0}},
		{"SEMVER with v", ranges(semverRng), x("v1.3.0"), "introduced 1.2.0, fixed 1.4.0", [2]int{0, 0}},
		{"SEMVER with V", ranges(semverRng), x("V1.3.0"), "introduced 1.2.0, fixed 1.4.0", [2]int{0, 0}},
		{"SEMVER padded", ranges(semverRng), x("1.3"), "introduced 1.2.0, fixed 1.4.0", [2]int{0, 0}},
		{"SEMVER padded major", ranges(`{"type":"SEMVER","events":[{"introduced":"1"},{"fixed":"2"}]}`), x("v1.9.9"), "introduced 1, fixed 2", [2]int{0, 0}},
		{"SEMVER build metadata ignored", ranges(semverRng), x("1.4.0+build"), "", [2]int{}},
		{"SEMVER pre-release of fixed", ranges(semverRng), x("1.4.0-rc.1"), "introduced 1.2.0, fixed 1.4.0", [2]int{0, 0}},
		{"SEMVER pre-release of introduced", ranges(semverRng), x("1.2.0-rc.1"), "", [2]int{}},
		{"SEMVER fixed", ranges(semverRng), x("1.4.0"), "", [2]int{}},
		{"SEMVER not a version", ranges(semverRng), x("1.3.0.1"), "", [2]int{}},
		{"SEMVER events with v", ranges(`{"type":"SEMVER","events":[{"introduced":"v1.2.0"},{"fixed":"v1.4.0"}]}`), x("1.3.0"), "introduced v1.2.0, fixed v1.4.0", [2]int{0, 0}},
		{"SEMVER limit", ranges(`{"type":"SEMVER","events":[{"introduced":"0"},{"limit":"2.0.0"}]}`), x("2.0.0"), "", [2]int{}},
		{"Go module by ecosystem", "semver.json", Component{PURL: "pkg:golang/example.com/hl7/parser/v2@v2.4.0"}, "introduced 2.0.0, fixed 2.4.1", [2]int{0, 0}},
		{"Go module, second interval", "semver.json", Component{PURL: "pkg:golang/example.com/hl7/parser/v2@v2.5.0-rc.2"}, "introduced 2.5.0-rc.1, fixed 2.5.3", [2]int{0, 0}},
		{"Go module, fixed", "semver.json", Component{PURL: "pkg:golang/example.com/hl7/parser/v2@v2.4.1"}, "", [2]int{}},
		{"Go module, other major", "semver.json", Component{PURL: "pkg:golang/example.com/hl7/parser@v2.4.0"}, "", [2]int{}},
		{"npm scope by purl", "semver.json", Component{PURL: "pkg:npm/@example/hl7-parser@1.6.9"}, "introduced 0, fixed 1.7.0", [2]int{1, 0}},
		{"Alpine by ecosystem", "ecosystem.json", Component{PURL: "pkg:apk/alpine/openssl@3.1.4-r0?arch=aarch64"}, "introduced 0, fixed 3.1.4-r1", [2]int{1, 0}},
		{"Alpine fixed", "ecosystem.json", Component{PURL: "pkg:apk/alpine/openssl@3.1.4-r1"}, "", [2]int{}},
		{"generic purl", "ecosystem.json", Component{Name: "openssl", Version: "3.0.7", PURL: "pkg:generic/openssl@3.0.7?download_url=https://example.org/o.tgz"}, "introduced 3.0.0, fixed 3.0.8", [2]int{0, 0}},
		{"SBOM fixture's openssl", "ecosystem.json", Component{Name: "openssl", Version: "3.0.13", PURL: "pkg:generic/openssl@3.0.13"}, "", [2]int{}},
		{"key but other type", "ecosystem.json", Component{PURL: "pkg:github/openssl/openssl@3.0.7"}, "", [2]int{}},
		{"PyPI normalized name, listed", "versions.json", Component{PURL: "pkg:pypi/Dicom_Reader@1.3.0rc1"}, "version 1.3.0rc1 listed", [2]int{0, -1}},
		{"PyPI in range, not listed", "versions.json", Component{PURL: "pkg:pypi/dicom-reader@1.2.5"}, "introduced 1.2.0, fixed 1.4.2", [2]int{0, 0}},
		{"version from the component", ranges(eco), Component{PURL: "pkg:generic/x", Version: "3.0.1"}, "introduced 3.0.0, fixed 3.0.8", [2]int{0, 0}},
		{"purl version first", ranges(eco), Component{PURL: "pkg:generic/x@3.0.9", Version: "3.0.1"}, "", [2]int{}},
		{"no version, range", ranges(`{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}`), Component{PURL: "pkg:generic/x"}, "", [2]int{}},
		{"no version, versions list", osvWith(`,"versions":[""]`), Component{PURL: "pkg:generic/x@"}, "", [2]int{}},
		{"no purl", ranges(eco), Component{Name: "x", Version: "3.0.1", CPE: "cpe:2.3:a:x:x:3.0.1:*:*:*:*:*:*:*"}, "", [2]int{}},
		{"invalid purl", ranges(eco), Component{PURL: "pkg:generic/x%zz@3.0.1"}, "", [2]int{}},
		{"other package", ranges(eco), Component{PURL: "pkg:generic/y@3.0.1"}, "", [2]int{}},
		{"unknown ecosystem matches nothing", `{"id":"X","affected":[{"package":{"ecosystem":"Ubuntu","name":"x"},"versions":["1"]}]}`, Component{PURL: "pkg:deb/ubuntu/x@1"}, "", [2]int{}},
		{"withdrawn", `{"id":"X","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{"purl":"pkg:generic/x"},"versions":["1"]}]}`, x("1"), "", [2]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a *Advisory
			if strings.HasSuffix(tt.advisory, ".json") {
				a = mustParseOSV(t, tt.advisory)
			} else {
				var err error
				if a, err = ParseOSV([]byte(tt.advisory)); err != nil {
					t.Fatalf("ParseOSV(%q) = %v", tt.advisory, err)
				}
			}
			m, ok := a.Match(tt.c)
			if !ok {
				if tt.want != "" {
					t.Errorf("Match(%+v) = no match, want %q", tt.c, tt.want)
				}
				return
			}
			if tt.want == "" {
				t.Fatalf("Match(%+v) = %+v (%v), want no match", tt.c, m, m)
			}
			if got := m.String(); got != tt.want || [2]int{m.Affected, m.Range} != tt.wantAt {
				t.Errorf("Match(%+v) = %q at affected[%d] range %d, want %q at %v", tt.c, got, m.Affected, m.Range, tt.want, tt.wantAt)
			}
		})
	}
}

func TestCompareEcosystemVersions(t *testing.T) {
	// Each row is in increasing order; versions in one inner slice are equal.
	orders := [][][]string{
		{{"0"}, {"1.9"}, {"1.10"}, {"1.11"}, {"2"}},
		{{"3.0.7"}, {"3.0.8"}, {"3.0.10"}, {"3.1"}},
		{{"1.0.0-alpha"}, {"1.0.0-beta"}, {"1.0.0-rc1"}, {"1.0.0-rc2"}, {"1", "1.0", "1.0.0", "01.00", "1_0"}, {"1.0.0+build"}, {"1.0.1"}},
		{{"1.0~rc1"}, {"1.0"}, {"1.0+deb1"}, {"1.0-1"}, {"1.0-2"}, {"1.0-10"}},
		{{"3.0.11-1~deb12u1"}, {"3.0.11-1~deb12u2"}, {"3.0.11-1"}, {"3.0.11-1+deb12u1"}, {"3.0.11-2"}},
		{{"3.1.4-r0"}, {"3.1.4-r1"}, {"3.1.4-r10"}, {"3.1.4"}},
		{{"1.1.1t"}, {"1.1.1w"}, {"1.1.1"}, {"1.1.2"}}, // letter releases: a documented limit
		{{"2024.01"}, {"2024.1.1"}, {"2024.10"}},
		{{"99999999999999999999999"}, {"100000000000000000000000"}},
		{{""}, {"0.0.1"}},
	}
	for _, order := range orders {
		for i, as := range order {
			for j, bs := range order {
				for _, a := range as {
					for _, b := range bs {
						want := min(max(i-j, -1), 1)
						if got := compareEcosystemVersions(a, b); got != want {
							t.Errorf("compareEcosystemVersions(%q, %q) = %d, want %d", a, b, got, want)
						}
					}
				}
			}
		}
	}
}

func TestSemverCanonical(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"1.2.3", "v1.2.3", true},
		{"v1.2.3", "v1.2.3", true},
		{"V1.2.3", "v1.2.3", true},
		{"1.2", "v1.2.0", true},
		{"1", "v1.0.0", true},
		{"1.2-rc.1", "v1.2.0-rc.1", true},
		{"1+meta", "v1.0.0+meta", true},
		{"1.2.3-rc.1+meta", "v1.2.3-rc.1+meta", true},
		{"", "", false},
		{"v", "", false},
		{"1.2.3.4", "", false},
		{"01.2.3", "", false},
		{"1.2.x", "", false},
		{"vv1.2.3", "", false},
		{"1.2.3-", "", false},
	}
	for _, tt := range tests {
		if got, ok := semverCanonical(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("semverCanonical(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseOSV checks that ParseOSV never panics and refuses only with
// ErrOSV and messages that quote nothing; and that, on what it accepts,
// PackageKeys and Match never panic, Match only names entries whose key is
// the component's (one of PackageKeys), and a version an entry lists
// matches. Seeds are the advisories in testdata/osv.
func FuzzParseOSV(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "osv", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/osv: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":"X"}`,
		osvRanges(`{"type":"ECOSYSTEM","events":[{"introduced":"1.0~rc1"},{"last_affected":"1.0+b"},{"limit":"2"}]}`),
		osvRanges(`{"type":"SEMVER","events":[{"fixed":"1.0.0"},{"introduced":"0"},{"limit":"*"}]}`),
		`{"id":"X","affected":[{"package":{"ecosystem":"Maven:x","name":"a:b"},"versions":["1","1"]}]}`,
		`{"id":"X","affected":[{"package":{"purl":"pkg:npm/@a/b@1"},"ranges":[{"type":"GIT","events":[{"introduced":"0"}]}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseOSV(b)
		if err != nil {
			if !errors.Is(err, ErrOSV) {
				t.Fatalf("ParseOSV = %v, which does not wrap ErrOSV", err)
			}
			for _, r := range err.Error() {
				if r < ' ' || r > '~' || r == '"' || r == '\'' {
					t.Fatalf("ParseOSV = %q, which may quote the input", err)
				}
			}
			return
		}
		if a.ID == "" {
			t.Fatalf("ParseOSV accepted an advisory without id")
		}
		keys := a.PackageKeys()
		tries := 0
		for i, p := range a.Affected {
			if p.Key == "" {
				continue
			}
			if !slices.Contains(keys, p.Key) {
				t.Fatalf("PackageKeys() = %q, without affected[%d]'s key %q", keys, i, p.Key)
			}
			versions := slices.Clone(p.Versions)
			for _, r := range p.Ranges {
				for _, e := range r.Events {
					versions = append(versions, e.Version)
				}
			}
			for _, v := range versions {
				if tries++; tries > 200 {
					return
				}
				c := Component{Name: "c", PURL: p.Key + "@" + purlEscape(v)}
				key, version, err := PackageKey(c.PURL)
				m, ok := a.Match(c)
				if !ok {
					if err == nil && key == p.Key && version == v && v != "" && slices.Contains(p.Versions, v) && a.Withdrawn.IsZero() {
						t.Fatalf("Match(%+v) = no match, but affected[%d] lists the version", c, i)
					}
					continue
				}
				_ = m.String()
				if err != nil || m.Affected < 0 || m.Affected >= len(a.Affected) || a.Affected[m.Affected].Key != key ||
					m.Range < -1 || m.Range >= len(a.Affected[m.Affected].Ranges) || m.Version != version {
					t.Fatalf("Match(%+v) = %+v, which does not fit the advisory (key %q, %v)", c, m, key, err)
				}
			}
		}
	})
}

// FuzzPackageKey checks that two package URLs have the same key exactly
// when SBOM.Contains takes them for the same package, and that a key is its
// own key whenever the purl library parses it.
func FuzzPackageKey(f *testing.F) {
	for _, s := range [][2]string{
		{"pkg:npm/%40angular/core@17.1.0", "pkg:npm/@angular/core"},
		{"pkg:pypi/Django_Extensions@3.2.3", "pkg:pypi/django-extensions"},
		{"pkg:generic/a%2F/b/c", "pkg:generic/a/b/c"},
		{"pkg:generic/a%2Fb/c", "pkg:generic/a/b/c"},
		{"pkg:generic/a%2Fb", "pkg:generic/a/b"},
		{"pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=arm64#sub", "pkg:DEB/Debian/LIBSSL3"},
		{"pkg:julia/Example?uuid=7876af07-990d-54b4-ab0e-23690620f79a", "pkg:julia/Example"},
		{"busybox", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, x, y string) {
		kx, vx, errx := PackageKey(x)
		ky, _, erry := PackageKey(y)
		px, okx := parsePURL(x)
		py, oky := parsePURL(y)
		if (errx == nil) != okx || (erry == nil) != oky {
			t.Fatalf("PackageKey and parsePURL disagree on validity: %v/%v, %v/%v", errx, okx, erry, oky)
		}
		if errx != nil {
			return
		}
		if vx != px.version {
			t.Fatalf("PackageKey(%q) version = %q, parsePURL %q", x, vx, px.version)
		}
		if k2, v2, err := PackageKey(kx); err == nil && (k2 != kx || v2 != "") && !strings.Contains(px.namespace, "//") {
			t.Fatalf("PackageKey(%q) = %q; PackageKey of that = %q, %q", x, kx, k2, v2)
		}
		if erry != nil {
			return
		}
		same := px.typ == py.typ && px.namespace == py.namespace && px.name == py.name
		if (kx == ky) != same {
			t.Fatalf("PackageKey(%q) = %q, PackageKey(%q) = %q, but parsePURL gives %+v and %+v", x, kx, y, ky, px, py)
		}
	})
}

// FuzzCompareEcosystemVersions checks that the generic version order is a
// total preorder, which sorting a range's events relies on.
func FuzzCompareEcosystemVersions(f *testing.F) {
	f.Add("1.0.0-rc1", "1.0.0", "1.0.0+b")
	f.Add("1.0~rc1", "1.0", "1.0.0.0")
	f.Add("1.1.1w", "1.1.1", "1.1.1-1")
	f.Add("", "0", "_")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := compareEcosystemVersions(a, b), compareEcosystemVersions(b, a)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("compare(%q, %q) = %d, compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		bc, ac := compareEcosystemVersions(b, c), compareEcosystemVersions(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 || ab >= 0 && bc >= 0 && ac < 0 {
			t.Fatalf("not transitive: compare(%q, %q) = %d, compare(%q, %q) = %d, compare(%q, %q) = %d", a, b, ab, b, c, bc, a, c, ac)
		}
		if compareEcosystemVersions(a, a) != 0 {
			t.Fatalf("compare(%q, %q) != 0", a, a)
		}
	})
}

// ExampleAdvisory_Match matches an SBOM's components against an OSV
// advisory and says why a component is affected.
func ExampleAdvisory_Match() {
	adv, err := ParseOSV([]byte(`{
	  "id": "EXAMPLE-2024-0001",
	  "modified": "2024-03-12T09:30:00Z",
	  "affected": [{
	    "package": {"ecosystem": "OSS-Fuzz", "name": "openssl", "purl": "pkg:generic/openssl"},
	    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.8"}]}]
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("candidates by key:", adv.PackageKeys())
	for _, c := range []Component{
		{Name: "openssl", Version: "3.0.7", PURL: "pkg:generic/openssl@3.0.7?download_url=https://example.org/openssl-3.0.7.tar.gz"},
		{Name: "openssl", Version: "3.0.13", PURL: "pkg:generic/openssl@3.0.13"},
		{Name: "zlib", Version: "1.3.1", PURL: "pkg:generic/zlib@1.3.1"},
	} {
		if m, ok := adv.Match(c); ok {
			fmt.Printf("%s %s: affected by %s (%s)\n", c.Name, c.Version, adv.ID, m)
		} else {
			fmt.Printf("%s %s: not affected\n", c.Name, c.Version)
		}
	}
	// Output:
	// candidates by key: [pkg:generic/openssl]
	// openssl 3.0.7: affected by EXAMPLE-2024-0001 (introduced 3.0.0, fixed 3.0.8)
	// openssl 3.0.13: not affected
	// zlib 1.3.1: not affected
}
