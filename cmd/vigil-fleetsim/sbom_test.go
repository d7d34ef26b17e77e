package main

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vigil-log/vigil/client"
)

const (
	testDigest      = "c613ee816db747b0d3dc54e92fc5375f470b30ebd3fcf4c40a466d7fbd037772"
	testOtherDigest = "6d5fb6bc802c9d22db66e03333d5509125c48b48af0320fe965d94849e6bf04c"
)

// sbomFormats pairs buildSBOM's formats with their in-toto predicate types.
var sbomFormats = []struct{ format, predicateType string }{
	{"cyclonedx", client.PredicateCycloneDX + "/v1.5"},
	{"spdx", client.PredicateSPDX + "/v2.3"},
}

func TestBuildSBOMDeterministic(t *testing.T) {
	comps := pickComponents(rand.New(rand.NewPCG(1, 2)))
	for _, f := range sbomFormats {
		t.Run(f.format, func(t *testing.T) {
			a, err := buildSBOM(f.format, "infusion-pump-fw", "4.2.1", testDigest, comps)
			if err != nil {
				t.Fatal(err)
			}
			b, err := buildSBOM(f.format, "infusion-pump-fw", "4.2.1", testDigest, slices.Clone(comps))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("buildSBOM(%s) differs between two calls with the same inputs", f.format)
			}
			c, err := buildSBOM(f.format, "infusion-pump-fw", "4.2.1", testOtherDigest, comps)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a, c) {
				t.Errorf("buildSBOM(%s) gives the same bytes for two digests", f.format)
			}
			if !bytes.Contains(a, []byte(testDigest)) {
				t.Errorf("buildSBOM(%s) does not record the image digest", f.format)
			}
		})
	}
}

func TestBuildSBOMParses(t *testing.T) {
	for seed := range uint64(25) {
		comps := pickComponents(rand.New(rand.NewPCG(seed, 7)))
		var want []client.Component
		for _, c := range comps {
			want = append(want, client.Component{Name: c.name, Version: c.version, PURL: c.purl, CPE: c.cpe})
		}
		for _, f := range sbomFormats {
			b, err := buildSBOM(f.format, "glucose-monitor-fw", "2.0.3", testDigest, comps)
			if err != nil {
				t.Fatalf("buildSBOM(%s, seed %d) = %v", f.format, seed, err)
			}
			s, err := client.ParseSBOM(f.predicateType, b)
			if err != nil {
				t.Fatalf("ParseSBOM(buildSBOM(%s, seed %d)) = %v\n%s", f.format, seed, err, b)
			}
			if s.Format != f.format || s.Name != "glucose-monitor-fw" || s.Version != "2.0.3" {
				t.Errorf("ParseSBOM(buildSBOM(%s, seed %d)) = %s %s %s, want %s glucose-monitor-fw 2.0.3", f.format, seed, s.Format, s.Name, s.Version, f.format)
			}
			if diff := cmp.Diff(want, s.Components); diff != "" {
				t.Errorf("ParseSBOM(buildSBOM(%s, seed %d)) components mismatch (-want +got):\n%s", f.format, seed, diff)
			}
			for _, c := range comps {
				if !s.Contains(c.purl) {
					t.Errorf("buildSBOM(%s, seed %d) does not contain %s", f.format, seed, c.purl)
				}
			}
		}
	}
}

func TestBuildSBOMNoComponents(t *testing.T) {
	for _, f := range sbomFormats {
		b, err := buildSBOM(f.format, "fw", "1", testDigest, nil)
		if err != nil {
			t.Fatalf("buildSBOM(%s, no components) = %v", f.format, err)
		}
		s, err := client.ParseSBOM(f.predicateType, b)
		if err != nil || len(s.Components) != 0 {
			t.Errorf("ParseSBOM(buildSBOM(%s, no components)) = %+v, %v", f.format, s, err)
		}
	}
}

func TestBuildSBOMErrors(t *testing.T) {
	comps := componentCatalogue[0][:1]
	tests := []struct {
		name, format, fwName, version, digest string
		comps                                 []fwComponent
	}{
		{"unknown format", "swid", "fw", "1", testDigest, comps},
		{"short digest", "spdx", "fw", "1", testDigest[:62], comps},
		{"uppercase digest", "spdx", "fw", "1", strings.ToUpper(testDigest), comps},
		{"non-hex digest", "cyclonedx", "fw", "1", strings.Repeat("g", 64), comps},
		{"no name", "cyclonedx", "", "1", testDigest, comps},
		{"no version", "spdx", "fw", "", testDigest, comps},
		{"nameless component", "spdx", "fw", "1", testDigest, []fwComponent{{version: "1"}}},
	}
	for _, tt := range tests {
		if _, err := buildSBOM(tt.format, tt.fwName, tt.version, tt.digest, tt.comps); err == nil {
			t.Errorf("buildSBOM(%s) succeeded, want an error", tt.name)
		}
	}
}

func TestPickComponentsDeterministic(t *testing.T) {
	for seed := range uint64(200) {
		a := pickComponents(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
		b := pickComponents(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
		if diff := cmp.Diff(a, b, cmp.AllowUnexported(fwComponent{})); diff != "" {
			t.Fatalf("pickComponents(seed %d) differs between runs:\n%s", seed, diff)
		}
		if len(a) < 8 || len(a) > 15 {
			t.Errorf("pickComponents(seed %d) picked %d components, want 8-15", seed, len(a))
		}
		seen := map[string]bool{}
		for _, c := range a {
			if seen[c.name] {
				t.Errorf("pickComponents(seed %d) picked %s twice", seed, c.name)
			}
			seen[c.name] = true
			if !catalogueHas(c) {
				t.Errorf("pickComponents(seed %d) picked %+v, not in the catalogue", seed, c)
			}
		}
	}
	a := pickComponents(rand.New(rand.NewPCG(1, 2)))
	b := pickComponents(rand.New(rand.NewPCG(3, 4)))
	if cmp.Equal(a, b, cmp.AllowUnexported(fwComponent{})) {
		t.Errorf("pickComponents gives the same picks for two seeds")
	}
}

// catalogueHas reports whether c is one of componentCatalogue's entries.
func catalogueHas(c fwComponent) bool {
	for _, versions := range componentCatalogue {
		if slices.Contains(versions, c) {
			return true
		}
	}
	return false
}

func TestComponentCatalogue(t *testing.T) {
	if len(componentCatalogue) < 20 {
		t.Errorf("componentCatalogue has %d components, want at least 20", len(componentCatalogue))
	}
	names := map[string]bool{}
	for _, versions := range componentCatalogue {
		if len(versions) < 2 || len(versions) > 4 {
			t.Errorf("%s has %d versions, want 2-4", versions[0].name, len(versions))
		}
		if names[versions[0].name] {
			t.Errorf("%s is in the catalogue twice", versions[0].name)
		}
		names[versions[0].name] = true
		for _, c := range versions {
			if c.name != versions[0].name {
				t.Errorf("%s lists a version of %s", versions[0].name, c.name)
			}
			if !strings.HasPrefix(c.purl, "pkg:") || !strings.Contains(c.purl, "@") || !strings.Contains(c.purl, c.version) {
				t.Errorf("%s %s has purl %q", c.name, c.version, c.purl)
			}
			if c.cpe != "" && (!strings.HasPrefix(c.cpe, "cpe:2.3:") || !strings.Contains(c.cpe, ":"+c.version+":")) {
				t.Errorf("%s %s has CPE %q", c.name, c.version, c.cpe)
			}
		}
	}
	// The versions an advisory needs to split the fleet.
	for _, want := range []struct{ name, version string }{
		{"openssl", "3.0.13"}, {"openssl", "3.0.14"},
		{"zlib", "1.2.13"}, {"zlib", "1.3.1"},
		{"busybox", "1.36.1"},
		{"curl", "8.5.0"}, {"curl", "8.6.0"},
	} {
		found := false
		for _, versions := range componentCatalogue {
			for _, c := range versions {
				found = found || c.name == want.name && c.version == want.version
			}
		}
		if !found {
			t.Errorf("componentCatalogue lacks %s %s", want.name, want.version)
		}
	}
}
