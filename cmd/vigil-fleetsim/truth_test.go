package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"3.0.12", "3.0.12", 0},
		{"3.0.12", "3.0.13", -1},
		{"3.0.9", "3.0.12", -1},
		{"3.0.14", "3.0.0", 1},
		{"3.0", "3.0.0", -1},
		{"11.5", "4.2.1", 1},
		{"2023.10", "2024.01", -1},
		{"1.0.a", "1.0.b", -1},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNextVersion(t *testing.T) {
	for v, want := range map[string]string{"4.2.1": "4.2.2", "11.5": "11.6", "1.9.9": "1.9.10", "7": "8", "2.0-rc": "2.0-rc.1"} {
		if got := nextVersion(v); got != want {
			t.Errorf("nextVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestWithComponent(t *testing.T) {
	zlib := componentCatalogue[8][0]
	curl := componentCatalogue[10][0]
	openssl12, openssl14 := componentCatalogue[5][0], componentCatalogue[5][2]
	comps := []fwComponent{openssl12, zlib, curl}
	if got, want := withComponent(comps, "openssl", &openssl14), []fwComponent{openssl14, zlib, curl}; !cmp.Equal(got, want, cmp.AllowUnexported(fwComponent{})) {
		t.Errorf("replacing openssl: got %v, want %v", got, want)
	}
	if got, want := withComponent(comps, "openssl", nil), []fwComponent{zlib, curl}; !cmp.Equal(got, want, cmp.AllowUnexported(fwComponent{})) {
		t.Errorf("removing openssl: got %v, want %v", got, want)
	}
	if got, want := withComponent([]fwComponent{zlib, curl}, "openssl", &openssl12), comps; !cmp.Equal(got, want, cmp.AllowUnexported(fwComponent{})) {
		t.Errorf("adding openssl: got %v, want %v (catalogue order)", got, want)
	}
	if comps[0] != openssl12 {
		t.Errorf("withComponent changed its input")
	}
}

// TestDeviceFold checks the chain rules: a seq not above the head's is a
// fork and leaves the head, a gap advances it, log order is enforced, and
// the remedy counts only after the field action.
func TestDeviceFold(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 1, 1+n, 0, 0, 0, 0, time.UTC) }
	r := &foldRules{advisory: map[string]bool{"A": true}, faFirmware: map[string]bool{"F": true}, remedy: "R"}
	f := &deviceFold{keep: true}
	add := func(a scAtt) {
		t.Helper()
		if err := f.add(a, r); err != nil {
			t.Fatal(err)
		}
	}
	add(scAtt{Seq: 0, Index: 10, Time: day(0), Firmware: "F"})
	add(scAtt{Seq: 1, Index: 12, Time: day(1), Firmware: "R"}) // the remedy, before the field action
	add(scAtt{Seq: 1, Index: 13, Time: day(1), Firmware: "A"}) // a fork
	fa := uint64(14)
	r.faIndex = &fa
	add(scAtt{Seq: 5, Index: 20, Time: day(5), Firmware: "R"}) // a gap: still the head
	add(scAtt{Seq: 0, Index: 21, Time: day(6), Firmware: "R"}) // a fork
	if err := f.add(scAtt{Seq: 6, Index: 21, Time: day(6)}, r); err == nil {
		t.Errorf("an attestation at an index already folded was accepted")
	}
	if f.head == nil || f.head.Index != 20 || f.head.Seq != 5 {
		t.Errorf("head = %+v, want seq 5 at index 20", f.head)
	}
	if f.firstFork == nil || *f.firstFork != 13 {
		t.Errorf("first fork at %v, want 13", f.firstFork)
	}
	if !f.advisory {
		t.Errorf("a fork reporting an affected build does not count as attested")
	}
	if f.faFirst == nil || *f.faFirst != 10 {
		t.Errorf("first attestation of a build the field action names at %v, want 10", f.faFirst)
	}
	if f.remedy == nil || *f.remedy != 20 {
		t.Errorf("first remedy attestation after the field action at %v, want 20", f.remedy)
	}
	var chain []uint64
	for _, a := range f.chain() {
		chain = append(chain, a.Index)
	}
	if want := []uint64{10, 12, 20}; !cmp.Equal(chain, want) {
		t.Errorf("chain = %v, want %v", chain, want)
	}
}

// TestComputeTruth computes the truth of a small story written by hand.
func TestComputeTruth(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 1, 1+n, 0, 0, 0, 0, time.UTC) }
	comp := func(name, version string) component {
		return component{Name: name, Version: version, PURL: "pkg:generic/" + name + "@" + version}
	}
	builds := []build{
		{Digest: "A0", Version: "1.0", SBOMIndex: 0, Components: []component{comp("zlib", "1.3"), comp("openssl", "3.0.12")}},
		{Digest: "A1", Version: "1.1", SBOMIndex: 1, Components: []component{comp("openssl", "3.0.13")}},
		{Digest: "B", Version: "b", SBOMIndex: 2, Components: []component{comp("zlib", "1.3.1")}},
		{Digest: "F1", Version: "1", SBOMIndex: 3, Components: []component{comp("zlib", "1.3.1")}},
		{Digest: "F2", Version: "2", SBOMIndex: 4, Components: []component{comp("zlib", "1.3.1")}},
		{Digest: "R", Version: "3", SBOMIndex: 40, Components: []component{comp("openssl", "3.0.14")}},
	}
	adv := &advisory{ID: "ADV", Name: "openssl", PURL: "pkg:generic/openssl", Introduced: "3.0.0", Fixed: "3.0.14",
		ExactPURL: "pkg:generic/openssl@3.0.13", File: "advisory.osv.json"}
	rules := &foldRules{advisory: map[string]bool{}, faFirmware: map[string]bool{"F1": true, "F2": true}, remedy: "R"}
	for _, b := range builds {
		if adv.affectsBuild(&b) {
			rules.advisory[b.Digest] = true
		}
	}
	type att struct {
		udi      string
		index    uint64
		seq      uint64
		time     time.Time
		firmware string
	}
	dev := func(udi, di string, enrolled uint64, keep bool) *truthDeviceInput {
		return &truthDeviceInput{UDI: udi, KeyID: "key-" + udi, Manufacturer: "M", Model: "model " + di, UDIDI: di,
			Enrollment: enrolled, Fold: &deviceFold{keep: keep}}
	}
	devices := []*truthDeviceInput{
		dev("x1", "X", 5, false), dev("x2", "X", 6, false),
		dev("y1", "Y", 7, true), dev("y2", "Y", 8, false), dev("y3", "Y", 9, true),
		dev("z1", "Z", 100, false), dev("z2", "Z", 101, true), dev("z3", "Z", 102, false),
	}
	byUDI := map[string]*truthDeviceInput{}
	for _, d := range devices {
		byUDI[d.UDI] = d
	}
	version := map[string]string{}
	for _, b := range builds {
		version[b.Digest] = b.Version
	}
	story := []att{
		{"x1", 10, 0, day(0), "F1"}, {"x2", 11, 0, day(0), "F1"},
		{"y1", 12, 0, day(0), "A1"}, {"y2", 13, 0, day(0), "A1"},
		{"z1", 14, 0, day(0), "F1"}, // another model attests a build the field action names
		{"z2", 15, 0, day(0), "B"}, {"z3", 16, 0, day(0), "B"},
		{"z2", 20, 1, day(1), "B"},
		{"z2", 30, 1, day(1).Add(time.Hour), "B"}, // the clone
		// 45: z3's revocation; 50: the field action
		{"x1", 60, 1, day(2), "R"}, {"x2", 61, 1, day(2), "F2"},
		{"y1", 62, 3, day(2), "A1"}, // a gap
		{"z2", 63, 2, day(2), "B"},
	}
	for _, a := range story {
		if a.index > 50 && rules.faIndex == nil {
			fa := uint64(50)
			rules.faIndex = &fa
		}
		if err := byUDI[a.udi].Fold.add(scAtt{Seq: a.seq, Index: a.index, Time: a.time, Firmware: a.firmware, Version: version[a.firmware]}, rules); err != nil {
			t.Fatal(err)
		}
	}
	got, err := computeTruth(&storyFacts{
		Seed: 7, ByKind: map[string]uint64{"sbom": 6, "enrollment": 8, "attestation": 13, "revocation": 1, "field-action": 1},
		Builds: builds, Devices: devices, Probes: []string{"z2", "y3", "y1"}, Advisory: adv, Since: day(2),
		FA:       scFieldAction{ID: "FSCA", Index: 50, Manufacturer: "M", Remedy: "R", Issued: day(2)},
		FAUDIDIs: []string{"X"}, RevokedUDI: "z3", RevocationIndex: 45, RefusedAfterRevo: true, CloneUDI: "z2",
	})
	if err != nil {
		t.Fatal(err)
	}

	a := func(seq, index uint64, tm time.Time, fw string) scAtt {
		return scAtt{Seq: seq, Index: index, Time: tm, Firmware: fw, Version: version[fw]}
	}
	p := func(a scAtt) *scAtt { return &a }
	ref := func(seq, index uint64) *scRef { return &scRef{Seq: seq, Index: index} }
	fork := a(1, 30, day(1).Add(time.Hour), "B")
	fork.fork = true
	rev := uint64(45)
	dv := func(udi, di string, enrolled uint64, status string, latest *scAtt) scDevice {
		return scDevice{UDI: udi, KeyID: "key-" + udi, Manufacturer: "M", Model: "model " + di, UDIDI: di,
			EnrollmentIndex: enrolled, Status: status, Latest: latest}
	}
	z3 := dv("z3", "Z", 102, statusRevoked, p(a(0, 16, day(0), "B")))
	z3.RevocationIndex = &rev
	want := &scTruth{
		Seed: 7,
		Counts: scCounts{Devices: 8, Entries: 29,
			ByKind: map[string]uint64{"sbom": 6, "enrollment": 8, "attestation": 13, "revocation": 1, "field-action": 1}},
		Devices: []scDevice{
			dv("x1", "X", 5, statusActive, p(a(1, 60, day(2), "R"))),
			dv("x2", "X", 6, statusFieldAction, p(a(1, 61, day(2), "F2"))),
			dv("y1", "Y", 7, statusActive, p(a(3, 62, day(2), "A1"))),
			dv("y2", "Y", 8, statusActive, p(a(0, 13, day(0), "A1"))),
			dv("y3", "Y", 9, statusActive, nil),
			dv("z1", "Z", 100, statusFieldAction, p(a(0, 14, day(0), "F1"))),
			dv("z2", "Z", 101, statusActive, p(a(2, 63, day(2), "B"))),
			z3,
		},
		Histories: []scHistory{
			{UDI: "y1", Attestations: []scAtt{a(0, 12, day(0), "A1"), a(3, 62, day(2), "A1")}},
			{UDI: "y3", Attestations: []scAtt{}},
			{UDI: "z2", Attestations: []scAtt{a(0, 15, day(0), "B"), a(1, 20, day(1), "B"), fork, a(2, 63, day(2), "B")}},
		},
		At: []scAt{
			{UDI: "y1", Time: day(0).Add(-time.Hour), Next: ref(0, 12)},
			{UDI: "y1", Time: day(0), InForce: ref(0, 12), Next: ref(3, 62)},
			{UDI: "y1", Time: day(1), InForce: ref(0, 12), Next: ref(3, 62)},
			{UDI: "y1", Time: day(2), InForce: ref(3, 62)},
			{UDI: "y1", Time: day(2).Add(time.Hour), InForce: ref(3, 62)},
			{UDI: "y3", Time: day(2)},
			{UDI: "z2", Time: day(0).Add(-time.Hour), Next: ref(0, 15)},
			{UDI: "z2", Time: day(0), InForce: ref(0, 15), Next: ref(1, 20)},
			{UDI: "z2", Time: day(0).Add(12 * time.Hour), InForce: ref(0, 15), Next: ref(1, 20)},
			{UDI: "z2", Time: day(1), InForce: ref(1, 20), Next: ref(2, 63)},
			{UDI: "z2", Time: day(1).Add(time.Hour), InForce: ref(1, 20), Next: ref(2, 63)},
			{UDI: "z2", Time: day(2).Add(time.Hour), InForce: ref(2, 63)},
		},
		Impact: scImpact{
			Advisory: "advisory.osv.json", Since: day(2), PURL: "pkg:generic/openssl@3.0.13",
			PURLBuilds:      []string{"A1"},
			AffectedBuilds:  []scAffectedBuild{{Digest: "A0", Version: "1.0", SBOMIndex: 0}, {Digest: "A1", Version: "1.1", SBOMIndex: 1}},
			AffectedDevices: []string{"y1"},
			UnknownDevices:  []string{"y2", "y3"},
		},
		FieldAction: scFieldAction{ID: "FSCA", Index: 50, Manufacturer: "M", Remedy: "R", Issued: day(2),
			Population:   []string{"x1", "x2", "z1"},
			Corrected:    []scCorrected{{UDI: "x1", Index: 60}},
			NotCorrected: []string{"x2", "z1"},
		},
		Revoked: scRevoked{UDI: "z3", KeyID: "key-z3", RevocationIndex: 45, RefusedAfterRevocation: true},
		Clone:   scClone{UDI: "z2", KeyID: "key-z2", FirstForkIndex: 30},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(scAtt{})); diff != "" {
		t.Errorf("computeTruth (-want +got):\n%s", diff)
	}
}
