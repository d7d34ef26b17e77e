package main

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"golang.org/x/mod/sumdb/note"
)

// The scenario's end-to-end size: 15 devices of each of the four models,
// six days.
const (
	scDevices = 60
	scDays    = 6
)

// TestScenarioPlan checks the story a seed plans, without a log: every role
// is taken, by distinct devices, and the builds are as the advisory and the
// field action need.
func TestScenarioPlan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	if err := initCmd([]string{"--out", dir}); err != nil {
		t.Fatal(err)
	}
	s, err := loadSim(dir, "http://127.0.0.1:1", 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newScenario(s, scDevices, scDays, 4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !(0 < sc.dUpdate && sc.dUpdate < sc.dRev && sc.dRev < sc.dFA && sc.dFA < sc.k && sc.dOff < sc.dFA) {
		t.Errorf("story days: update %d, offline %d, revocation %d, field action %d of %d", sc.dUpdate, sc.dOff, sc.dRev, sc.dFA, sc.k)
	}
	if sc.revoked == nil || sc.clone == nil || sc.revoked == sc.clone || sc.revoked.model%2 == 0 || sc.clone.model%2 == 0 {
		t.Fatalf("revoked %v and clone %v: want two devices of models the advisory spares", sc.revoked, sc.clone)
	}
	var corrected, notCorrected, offline, never int
	for _, d := range sc.devs {
		switch {
		case d.model == sc.faModel && d.laterDay >= 0:
			corrected++
		case d.model == sc.faModel && d.stopDay == sc.k:
			notCorrected++
		case d.stopDay == 0:
			never++
		}
		if d.stopDay == sc.dOff {
			offline++
			if d.model%2 != 0 {
				t.Errorf("%s goes offline but its model is not one the advisory affects", d.UDI)
			}
		}
	}
	if corrected == 0 || notCorrected == 0 || offline < 2 || never == 0 {
		t.Errorf("%d devices install the remedy, %d not, %d go offline, %d never attest: want some of each", corrected, notCorrected, offline, never)
	}
	if n := len(sc.probes); n < 15 || n > 25 || !slices.IsSorted(sc.probes) || len(slices.Compact(slices.Clone(sc.probes))) != n {
		t.Errorf("%d probes %v: want about 20 distinct, sorted", n, sc.probes)
	}
	for m := range sc.models {
		for _, b := range sc.initial[m] {
			if got, want := sc.rules.advisory[b.Digest], m%2 == 0; got != want {
				t.Errorf("fleet build %s: affected %v, want %v", b.Image, got, want)
			}
		}
		if sc.rules.advisory[sc.later[m].Digest] {
			t.Errorf("later release %s is affected", sc.later[m].Image)
		}
	}
	if len(sc.rules.faFirmware) != len(sc.initial[sc.faModel]) || sc.rules.remedy != sc.later[sc.faModel].Digest {
		t.Errorf("field action names %d builds with remedy %s", len(sc.rules.faFirmware), sc.rules.remedy)
	}
	// The same seed plans the same story.
	sc2, err := newScenario(s, scDevices, scDays, 4, sc.start)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sc.probes, sc2.probes) || sc.revoked.UDI != sc2.revoked.UDI || sc.clone.UDI != sc2.clone.UDI {
		t.Errorf("two plans of one seed differ")
	}
}

// logEntry is one entry of the log, as the test reads it from the tiles.
type logEntry struct {
	index uint64
	e     *client.Entry
}

// readLog reads every entry of the log under its latest checkpoint, once
// the checkpoint covers at least want entries, and decodes it (fetching
// SBOMs' blobs).
func readLog(t *testing.T, url, data string, want uint64) []logEntry {
	t.Helper()
	ctx := context.Background()
	vkey, err := os.ReadFile(filepath.Join(data, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	tiles, err := client.HTTPTiles(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var size uint64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		raw, err := tiles.Checkpoint(ctx)
		if err == nil {
			cp, err := client.VerifyCheckpoint(raw, lv)
			if err != nil {
				t.Fatal(err)
			}
			if size = cp.Size; size >= want {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %d entries after 20s (last: %d, %v)", want, size, err)
		}
	}
	lc := &client.LogClient{URL: url}
	var out []logEntry
	for b := uint64(0); b*layout.EntryBundleWidth < size; b++ {
		bundle, err := tclient.GetEntryBundle(ctx, tiles.EntryBundle, b, size)
		if err != nil {
			t.Fatal(err)
		}
		for j, leaf := range bundle.Entries {
			idx := b*layout.EntryBundleWidth + uint64(j)
			l, err := client.ParseLeaf(leaf)
			if err != nil {
				t.Fatalf("entry %d: %v", idx, err)
			}
			var payload []byte
			if l.InBlob() {
				if payload, err = lc.Blob(ctx, l.BlobDigest()); err != nil {
					t.Fatalf("entry %d: %v", idx, err)
				}
			}
			env, err := l.Envelope(payload)
			if err != nil {
				t.Fatalf("entry %d: %v", idx, err)
			}
			e, err := client.NewEntry(env)
			if err != nil {
				t.Fatalf("entry %d: %v", idx, err)
			}
			out = append(out, logEntry{idx, e})
		}
	}
	return out
}

func readTruth(t *testing.T, fleet string) *scTruth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fleet, truthFile))
	if err != nil {
		t.Fatal(err)
	}
	var tr scTruth
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("%s: %v", truthFile, err)
	}
	return &tr
}

// TestScenario plays a scenario against a real vigild, then
// checks its truth file against itself and against the log, read back from
// the tiles: every answer in the truth is recomputed from the log's entries.
func TestScenario(t *testing.T) {
	skipShort(t)
	t.Parallel()
	fleet := e2e.NewFleet(t)
	roots := filepath.Join(fleet, "trust-roots.json")
	// No witnesses: a scenario does not wait for checkpoints, and an
	// unwitnessed log publishes them sooner for readLog.
	v := e2e.StartVigild(t, filepath.Join(t.TempDir(), "data"), roots)
	args := []string{"scenario", "--state", fleet, "--url", v.URL, "--devices", strconv.Itoa(scDevices), "--attestations", strconv.Itoa(scDays)}
	stdout, stderr, code := e2e.Run(t, "vigil-fleetsim", args...)
	if code != 0 {
		t.Fatalf("scenario: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	// A second play from the same fleet is refused, and changes nothing.
	before, _ := os.ReadFile(filepath.Join(fleet, truthFile))
	if out, errOut, code := e2e.Run(t, "vigil-fleetsim", args...); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("second scenario: exit %d, want 1 and a hint at --force\n%s%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(fleet, truthFile)); string(after) != string(before) {
		t.Errorf("the refused second scenario changed the truth")
	}
	if _, errOut, code := e2e.Run(t, "vigil-fleetsim", "scenario", "--help"); code != 0 || !strings.Contains(errOut, "cannot be played again") && !strings.Contains(errOut, "runs once") {
		t.Errorf("scenario --help: exit %d, and does not say a scenario runs once\n%s", code, errOut)
	}

	tr := readTruth(t, fleet)
	checkTruthShape(t, tr)
	adv := checkAdvisory(t, filepath.Join(fleet, advisoryFile))
	entries := readLog(t, v.URL, v.Data, tr.Counts.Entries)
	if uint64(len(entries)) != tr.Counts.Entries {
		t.Fatalf("the log holds %d entries, the truth counts %d", len(entries), tr.Counts.Entries)
	}
	rb, err := os.ReadFile(roots)
	if err != nil {
		t.Fatal(err)
	}
	trustRoots, err := client.ParseTrustRoots(rb)
	if err != nil {
		t.Fatal(err)
	}
	want := truthFromLog(t, entries, tr, adv, trustRoots)
	// The truth file does not say which attestations are forks.
	if diff := gocmp.Diff(want, tr, cmpopts.IgnoreUnexported(scAtt{})); diff != "" {
		t.Errorf("the truth differs from what the log holds (-log +truth):\n%s", diff)
	}

	// The entries the truth names, as the log's API serves them with
	// proofs: the field action, the revocation, the clone's first fork
	// and an enrollment.
	vkey, _ := os.ReadFile(filepath.Join(v.Data, "log.vkey"))
	lv, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	lc := &client.LogClient{URL: v.URL}
	for _, c := range []struct {
		index  uint64
		kind   client.Kind
		signer string
	}{
		{tr.FieldAction.Index, client.KindFieldAction, tr.FieldAction.Manufacturer},
		{tr.Revoked.RevocationIndex, client.KindRevocation, ""},
		{tr.Clone.FirstForkIndex, client.KindAttestation, tr.Clone.UDI},
		{tr.Devices[0].EnrollmentIndex, client.KindEnrollment, tr.Devices[0].Manufacturer},
	} {
		b, err := lc.Entry(context.Background(), c.index)
		if err != nil {
			t.Fatalf("GET /v1/entries/%d: %v", c.index, err)
		}
		v, err := b.Verify(client.VerifyOptions{Log: lv, Roots: trustRoots})
		if err != nil {
			t.Fatalf("entry %d: %v", c.index, err)
		}
		if v.Index != c.index || v.Entry.Kind != c.kind || c.signer != "" && v.Signer != c.signer {
			t.Errorf("entry %d: a %v signed by %q, want a %v signed by %q", v.Index, v.Entry.Kind, v.Signer, c.kind, c.signer)
		}
	}
}

// checkTruthShape checks what the truth must say whatever the log holds:
// sizes, sort orders, and the story's roles.
func checkTruthShape(t *testing.T, tr *scTruth) {
	t.Helper()
	if tr.Counts.Devices != scDevices || len(tr.Devices) != scDevices {
		t.Errorf("%d devices (counted %d), want %d", len(tr.Devices), tr.Counts.Devices, scDevices)
	}
	var sum uint64
	for _, n := range tr.Counts.ByKind {
		sum += n
	}
	k := tr.Counts.ByKind
	if sum != tr.Counts.Entries || k["enrollment"] != scDevices || k["revocation"] != 1 || k["field-action"] != 1 || k["sbom"] != 12 {
		t.Errorf("counts %+v", tr.Counts)
	}
	udis := func(ds []scDevice) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.UDI)
		}
		return out
	}
	for name, l := range map[string][]string{
		"devices": udis(tr.Devices), "impact.affectedDevices": tr.Impact.AffectedDevices, "impact.unknownDevices": tr.Impact.UnknownDevices,
		"impact.purlBuilds": tr.Impact.PURLBuilds, "fieldAction.population": tr.FieldAction.Population, "fieldAction.notCorrected": tr.FieldAction.NotCorrected,
	} {
		if !slices.IsSorted(l) {
			t.Errorf("%s is not sorted", name)
		}
	}
	if len(tr.Impact.AffectedDevices) == 0 || len(tr.Impact.UnknownDevices) == 0 || len(tr.Impact.PURLBuilds) == 0 || len(tr.Impact.AffectedBuilds) == 0 {
		t.Errorf("an empty impact: %+v", tr.Impact)
	}
	fa := tr.FieldAction
	if len(fa.Corrected) == 0 || len(fa.NotCorrected) == 0 || len(fa.Corrected)+len(fa.NotCorrected) != len(fa.Population) {
		t.Errorf("field action: %d corrected + %d not of %d", len(fa.Corrected), len(fa.NotCorrected), len(fa.Population))
	}
	if n := len(tr.Histories); n < 15 || n > 25 {
		t.Errorf("%d histories, want about 20", n)
	}
	if !tr.Revoked.RefusedAfterRevocation {
		t.Errorf("the log accepted an attestation of the revoked device")
	}
	// The probes cover every case: before the first attestation, exactly
	// at one, between two, after the last.
	var before, exact, between, after bool
	for _, p := range tr.At {
		switch {
		case p.InForce == nil && p.Next != nil:
			before = true
		case p.InForce != nil && p.Next == nil:
			after = true
		case p.InForce != nil && p.Next != nil:
			between = true
		}
		for _, h := range tr.Histories {
			for _, a := range h.Attestations {
				if h.UDI == p.UDI && a.Time.Equal(p.Time) && p.InForce != nil && p.InForce.Index == a.Index {
					exact = true
				}
			}
		}
	}
	if !before || !exact || !between || !after {
		t.Errorf("probes before a first attestation %v, at one %v, between two %v, after the last %v: want all", before, exact, between, after)
	}
}

// osvAdvisory is what the test reads of the advisory.
type osvAdvisory struct {
	SchemaVersion string `json:"schema_version"`
	ID            string `json:"id"`
	Modified      string `json:"modified"`
	Affected      []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
			PURL      string `json:"purl"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

func checkAdvisory(t *testing.T, name string) *osvAdvisory {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var a osvAdvisory
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := time.Parse(time.RFC3339, a.Modified); err != nil || !strings.HasPrefix(a.ID, "VIGIL-SIM-") || a.SchemaVersion == "" {
		t.Errorf("advisory id %q, modified %q, schema_version %q", a.ID, a.Modified, a.SchemaVersion)
	}
	if len(a.Affected) != 1 || len(a.Affected[0].Ranges) != 1 || len(a.Affected[0].Versions) == 0 {
		t.Fatalf("advisory: want one affected package with one range and its versions: %+v", a.Affected)
	}
	p, r := a.Affected[0].Package, a.Affected[0].Ranges[0]
	if p.Ecosystem == "" || p.Name == "" || !strings.HasPrefix(p.PURL, "pkg:") || strings.Contains(p.PURL, "@") {
		t.Errorf("advisory package %+v: want an ecosystem, a name and a purl without version", p)
	}
	if r.Type != "ECOSYSTEM" || len(r.Events) != 2 || r.Events[0]["introduced"] == "" || r.Events[1]["fixed"] == "" {
		t.Errorf("advisory range %+v: want ECOSYSTEM, introduced then fixed", r)
	}
	return &a
}

// truthFromLog computes, from the log's entries alone, what the truth must
// say: a second implementation of the truth's definitions, fed only with
// the log, the advisory file, the trust roots and the truth's choices of
// since, exact purl and probe times.
func truthFromLog(t *testing.T, entries []logEntry, tr *scTruth, adv *osvAdvisory, roots *client.TrustRoots) *scTruth {
	t.Helper()
	got := &scTruth{Seed: tr.Seed, Counts: scCounts{Devices: 0, Entries: uint64(len(entries)), ByKind: map[string]uint64{}}}
	type dev struct {
		scDevice
		atts  []scAtt // every accepted attestation, in log order
		chain []scAtt
	}
	devs := map[string]*dev{} // by key ID
	byUDI := map[string]*dev{}
	var fa *client.FieldAction
	var faEntry logEntry
	var revs []logEntry
	pkg, rng := adv.Affected[0].Package, adv.Affected[0].Ranges[0]
	inRange := func(v string) bool {
		return compareVersions(v, rng.Events[0]["introduced"]) >= 0 && compareVersions(v, rng.Events[1]["fixed"]) < 0 || slices.Contains(adv.Affected[0].Versions, v)
	}
	affected := map[string]bool{}
	got.Impact = scImpact{Advisory: advisoryFile, Since: tr.Impact.Since, PURL: tr.Impact.PURL, PURLBuilds: []string{}, AffectedBuilds: []scAffectedBuild{}}
	for _, le := range entries {
		e := le.e
		got.Counts.ByKind[e.Kind.String()]++
		switch e.Kind {
		case client.KindEnrollment:
			d := &dev{scDevice: scDevice{UDI: e.UDI().String(), KeyID: e.DeviceKey().ID(), Manufacturer: roots.ManufacturerOf(e.SignerKeyID()).Name,
				Model: e.Enrollment.Model, UDIDI: e.UDI().DI.String(), EnrollmentIndex: le.index, Status: statusActive}}
			devs[d.KeyID], byUDI[d.UDI] = d, d
		case client.KindSBOM:
			if e.SBOM.Contains(tr.Impact.PURL) {
				got.Impact.PURLBuilds = append(got.Impact.PURLBuilds, e.FirmwareDigest())
			}
			for _, c := range e.SBOM.Components {
				if purlBase(c.PURL) == pkg.PURL && inRange(c.Version) {
					affected[e.FirmwareDigest()] = true
					got.Impact.AffectedBuilds = append(got.Impact.AffectedBuilds, scAffectedBuild{Digest: e.FirmwareDigest(), Version: e.SBOM.Version, SBOMIndex: le.index})
					break
				}
			}
		case client.KindAttestation:
			d := devs[e.SignerKeyID()]
			if d == nil {
				t.Fatalf("attestation %d by a key no enrollment before it binds", le.index)
			}
			at := e.Attestation
			a := scAtt{Seq: at.Seq, Index: le.index, Time: at.Time, Firmware: at.Firmware.Digest, Version: at.Firmware.Version}
			if len(d.chain) > 0 && at.Seq <= d.chain[len(d.chain)-1].Seq {
				a.fork = true
			} else {
				d.chain = append(d.chain, a)
			}
			d.atts = append(d.atts, a)
		case client.KindRevocation:
			revs = append(revs, le)
		case client.KindFieldAction:
			fa, faEntry = e.FieldAction, le
		}
	}
	if fa == nil || len(revs) != 1 {
		t.Fatalf("the log holds %d revocations and field action %v, want one of each", len(revs), fa)
	}
	slices.Sort(got.Impact.PURLBuilds)
	slices.SortFunc(got.Impact.AffectedBuilds, func(a, b scAffectedBuild) int { return strings.Compare(a.Digest, b.Digest) })

	// The revocation: the device's UDI, and nothing from it afterwards.
	rv := revs[0].e.Revocation
	revoked := byUDI[rv.Target.ID]
	if rv.Target.Type != client.TargetUDI || revoked == nil {
		t.Fatalf("revocation %d targets %+v, not an enrolled UDI", revs[0].index, rv.Target)
	}
	got.Revoked = scRevoked{UDI: revoked.UDI, KeyID: revoked.KeyID, RevocationIndex: revs[0].index, RefusedAfterRevocation: true}
	for _, a := range revoked.atts {
		if a.Index > revs[0].index {
			t.Errorf("the log holds attestation %d of the revoked device after its revocation (%d)", a.Index, revs[0].index)
		}
	}

	// The field action.
	got.FieldAction = scFieldAction{ID: fa.ID, Index: faEntry.index, Manufacturer: roots.ManufacturerOf(faEntry.e.SignerKeyID()).Name,
		Remedy: fa.Remedy.Digest, Issued: fa.Issued, Population: []string{}, Corrected: []scCorrected{}, NotCorrected: []string{}}
	affectedModels := map[string]bool{}
	got.Impact.AffectedDevices, got.Impact.UnknownDevices = []string{}, []string{}
	var clone *dev
	for _, d := range devs {
		got.Counts.Devices++
		if len(d.chain) > 0 {
			l := d.chain[len(d.chain)-1]
			d.Latest = &l
		}
		population := slices.Contains(fa.Affected.UDIDIs, d.UDIDI)
		var remedy *uint64
		for _, a := range d.atts {
			if affected[a.Firmware] {
				affectedModels[d.UDIDI] = true
			}
			if slices.Contains(fa.Affected.Firmware, a.Firmware) && a.Index < faEntry.index {
				population = true
			}
			if a.Firmware == fa.Remedy.Digest && a.Index > faEntry.index && remedy == nil {
				remedy = &a.Index
			}
			if a.fork && clone == nil {
				clone = d
			}
		}
		switch {
		case d == revoked:
			d.Status, d.RevocationIndex = statusRevoked, &got.Revoked.RevocationIndex
		case population && remedy == nil:
			d.Status = statusFieldAction
		}
		if population {
			got.FieldAction.Population = append(got.FieldAction.Population, d.UDI)
			if remedy != nil {
				got.FieldAction.Corrected = append(got.FieldAction.Corrected, scCorrected{UDI: d.UDI, Index: *remedy})
			} else {
				got.FieldAction.NotCorrected = append(got.FieldAction.NotCorrected, d.UDI)
			}
		}
		if d.Latest != nil && affected[d.Latest.Firmware] && !d.Latest.Time.Before(tr.Impact.Since) {
			got.Impact.AffectedDevices = append(got.Impact.AffectedDevices, d.UDI)
		}
		got.Devices = append(got.Devices, d.scDevice)
	}
	for _, d := range devs {
		if affectedModels[d.UDIDI] && (d.Latest == nil || d.Latest.Time.Before(tr.Impact.Since)) {
			got.Impact.UnknownDevices = append(got.Impact.UnknownDevices, d.UDI)
		}
	}
	if clone == nil {
		t.Fatal("the log holds no fork of any device's chain")
	}
	for _, a := range clone.atts {
		if a.fork {
			got.Clone = scClone{UDI: clone.UDI, KeyID: clone.KeyID, FirstForkIndex: a.Index}
			break
		}
	}

	// Histories and "at" probes of the truth's probe devices, at the
	// truth's probe times.
	got.Histories = []scHistory{}
	for _, h := range tr.Histories {
		d := byUDI[h.UDI]
		if d == nil {
			t.Fatalf("history of %s, which the log never enrolled", h.UDI)
		}
		got.Histories = append(got.Histories, scHistory{UDI: d.UDI, Attestations: append([]scAtt{}, d.atts...)})
	}
	got.At = []scAt{}
	for _, p := range tr.At {
		q := scAt{UDI: p.UDI, Time: p.Time}
		for _, a := range byUDI[p.UDI].chain {
			if !a.Time.After(p.Time) {
				q.InForce = &scRef{Seq: a.Seq, Index: a.Index}
			} else if q.Next == nil {
				q.Next = &scRef{Seq: a.Seq, Index: a.Index}
			}
		}
		got.At = append(got.At, q)
	}

	slices.SortFunc(got.Devices, func(a, b scDevice) int { return strings.Compare(a.UDI, b.UDI) })
	slices.SortFunc(got.At, func(a, b scAt) int { return cmp.Or(strings.Compare(a.UDI, b.UDI), a.Time.Compare(b.Time)) })
	for _, l := range [][]string{got.Impact.AffectedDevices, got.Impact.UnknownDevices, got.FieldAction.Population, got.FieldAction.NotCorrected} {
		slices.Sort(l)
	}
	slices.SortFunc(got.FieldAction.Corrected, func(a, b scCorrected) int { return strings.Compare(a.UDI, b.UDI) })
	return got
}
