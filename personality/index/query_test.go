package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vigil-log/vigil/client"
)

// story logs a small fleet and the cases in which two databases could
// answer differently: serials and field action IDs that differ only in
// case, by a trailing space or by a byte outside ASCII; revocations; a
// fork; an entry the log should have refused; a build's second SBOM; field
// actions by firmware and by model, with and without a remedy, and one
// logged again. It returns the fleet and the sizes it committed, with a
// checkpoint of each recorded.
func story(l *batch) (*fleet, []uint64) {
	tb := l.tb
	tb.Helper()
	f := newFleet(l, 12, 6)
	for _, serial := range []string{"abc", "ABC", "AbC", "A_C", "ab"} {
		f.enroll("(01)"+f.models[0].gtin+"(21)"+serial, 0)
	}
	var sizes []uint64
	commit := func() {
		l.commit()
		sizes = append(sizes, l.size)
		if err := l.x.RecordCheckpoint(context.Background(), l.size, fmt.Appendf(nil, "checkpoint %d", l.size)); err != nil {
			tb.Fatal(err)
		}
	}
	for day := range 3 {
		f.day(day)
	}
	commit()
	f.revoke(client.TargetDeviceKey, f.devs[2].keyID)
	f.revoke(client.TargetUDI, f.devs[3].udi)
	f.attest(4, 2, 1, false)
	l.add(client.Fact{Anomalies: []client.Anomaly{{Code: "undecodable_leaf"}}})
	f.sbom(f.models[0].name, f.models[0].builds[0], []map[string]string{{"type": "library", "name": "zlib", "version": "1.3", "purl": "pkg:generic/zlib@1.3"}})
	build := func(m, v int) string { return f.models[m].builds[v].Digest }
	di := func(m int) string { return "(01)" + f.models[m].gtin }
	f.fieldAction("FSCA-1", "first", client.Affected{Firmware: []string{build(0, 0), build(0, 1)}}, &f.models[0].builds[5])
	f.fieldAction("fsca-1", "lower case", client.Affected{UDIDIs: []string{di(1)}}, nil)
	f.fieldAction("FSCA-1 ", "trailing space", client.Affected{Firmware: []string{build(2, 0), build(2, 2)}}, &f.models[2].builds[5])
	f.fieldAction("FSCA-Ü", "not ASCII", client.Affected{Firmware: []string{build(3, 1)}, UDIDIs: []string{di(3)}}, &f.models[3].builds[5])
	for day := 3; day < 6; day++ {
		f.day(day)
	}
	commit()
	f.fieldAction("FSCA-1", "second", client.Affected{Firmware: []string{build(0, 0), build(0, 1), build(0, 2)}}, &f.models[0].builds[5])
	f.attest(0, 6, 5, true)
	f.enroll("(01)"+f.models[0].gtin+"(21)LATE", 0) // never attests
	commit()
	return f, sizes
}

// revoke logs a revocation.
func (f *fleet) revoke(typ, id string) {
	f.log.tb.Helper()
	st, err := client.NewStatement(client.PredicateRevocation, &client.Revocation{Target: client.RevocationTarget{Type: typ, ID: id}, Reason: "test", Effective: fleetStart})
	if err != nil {
		f.log.tb.Fatal(err)
	}
	f.log.add(client.Fact{Entry: unsigned(f.log.tb, st, manufacturerKey), Accepted: true, Manufacturer: "Acme"})
}

// fieldAction logs a field action.
func (f *fleet) fieldAction(id, title string, affected client.Affected, remedy *client.Firmware) {
	f.log.tb.Helper()
	st, err := client.NewStatement(client.PredicateFieldAction, &client.FieldAction{ID: id, Title: title, Issued: fleetStart, Affected: affected, Remedy: remedy})
	if err != nil {
		f.log.tb.Fatal(err)
	}
	f.log.add(client.Fact{Entry: unsigned(f.log.tb, st, manufacturerKey), Accepted: true, Manufacturer: "Acme"})
}

// answers is, as JSON, every query's answer about the fleet: for each of
// its devices (and for an unknown and a malformed UDI) Device, History and
// At; Impact by package URL and by advisory; FieldAction by ID. It checks
// on the way that each paged answer, read in small pages, has the same
// lists as in one page, and that lists are sorted byte by byte.
func answers(t *testing.T, x *Index, f *fleet) string {
	t.Helper()
	ctx := context.Background()
	var out []any
	record := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrBadQuery) {
				t.Fatalf("%s: %v", name, err)
			}
			v = err.Error()
		}
		out = append(out, map[string]any{name: v})
	}
	udis := []string{"(01)" + f.models[0].gtin + "(21)NONE", "not a UDI"}
	for _, d := range f.devs {
		udis = append(udis, d.udi)
	}
	for _, udi := range udis {
		info, err := x.Device(ctx, udi)
		record("device "+udi, info, err)
		if err == nil && info.UDI != udi {
			t.Errorf("Device(%q) is of %q", udi, info.UDI)
		}
		h, err := x.History(ctx, udi, 0, 1000)
		record("history "+udi, h, err)
		if err == nil {
			var paged []client.AttestationRef
			for from := uint64(0); ; {
				p, err := x.History(ctx, udi, from, 2)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, p.Attestations...)
				if p.NextSeq == nil {
					break
				}
				from = *p.NextSeq
			}
			if diff := cmp.Diff(h.Attestations, paged, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("History(%q) in pages of 2 (-one page +pages):\n%s", udi, diff)
			}
		}
		at, err := x.At(ctx, udi, fleetStart.Add(60*time.Hour))
		record("at "+udi, at, err)
	}
	since, late := fleetStart.Add(4*24*time.Hour), fleetStart.Add(5*24*time.Hour+12*time.Hour)
	adv, err := client.ParseOSV([]byte(`{"id": "TEST-1", "affected": [{"package": {"purl": "pkg:generic/openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.8"}, {"fixed": "3.0.10"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []ImpactQuery{
		{PURL: "pkg:generic/openssl@3.0.7"},
		{PURL: "pkg:generic/openssl", Since: &since},
		{PURL: "pkg:generic/zlib@1.3"},
		{PURL: "pkg:generic/lib3@1.0", Since: &since},
		{Advisory: adv, Since: &since},
		{Advisory: adv, Since: &late},
		{PURL: "pkg:generic/openssl", Since: &late},
		{Advisory: adv, Page: Page{After: "(01)" + f.models[0].gtin + "(21)AbC"}},
		{PURL: "pkg:generic/openssl", Page: Page{After: "\xff"}},
		{PURL: "not a package URL"},
	} {
		name := fmt.Sprintf("impact %s since %v after %q", q.PURL, q.Since, q.Page.After)
		if q.Advisory != nil {
			name = fmt.Sprintf("impact %s since %v after %q", q.Advisory.ID, q.Since, q.Page.After)
		}
		im, err := x.Impact(ctx, q)
		record(name, im, err)
		if err != nil {
			continue
		}
		sorted(t, name, im.Affected, im.Unknown)
		var affected, unknown []client.DeviceRef
		for q.Page.Limit = 3; ; {
			p, err := x.Impact(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			affected, unknown = append(affected, p.Affected...), append(unknown, p.Unknown...)
			if p.More == "" {
				break
			}
			q.Page.After = p.More
		}
		if diff := cmp.Diff([][]client.DeviceRef{im.Affected, im.Unknown}, [][]client.DeviceRef{affected, unknown}, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s in pages of 3 (-one page +pages):\n%s", name, diff)
		}
	}
	for _, id := range []string{"FSCA-1", "fsca-1", "FSCA-1 ", "FSCA-Ü", "FSCA-2", "\xff"} {
		fa, err := x.FieldAction(ctx, id, Page{})
		record("field action "+id, fa, err)
		if err != nil {
			continue
		}
		if fa.Action.ID != id {
			t.Errorf("FieldAction(%q) is of %q", id, fa.Action.ID)
		}
		sorted(t, "field action "+id, fa.NotCorrected)
		var corrected []client.Correction
		var not []client.DeviceRef
		for page := (Page{Limit: 2}); ; {
			p, err := x.FieldAction(ctx, id, page)
			if err != nil {
				t.Fatal(err)
			}
			corrected, not = append(corrected, p.Corrected...), append(not, p.NotCorrected...)
			if p.More == "" {
				break
			}
			page.After = p.More
		}
		if diff := cmp.Diff(fa.Corrected, corrected, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("FieldAction(%q) corrected, in pages of 2 (-one page +pages):\n%s", id, diff)
		}
		if diff := cmp.Diff(fa.NotCorrected, not, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("FieldAction(%q) not corrected, in pages of 2 (-one page +pages):\n%s", id, diff)
		}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sorted checks that lists of devices are sorted by UDI, byte by byte.
func sorted(t *testing.T, name string, lists ...[]client.DeviceRef) {
	t.Helper()
	for _, l := range lists {
		if !slices.IsSortedFunc(l, func(a, b client.DeviceRef) int { return strings.Compare(a.UDI, b.UDI) }) {
			t.Errorf("%s: devices not sorted by UDI", name)
		}
	}
}

// TestAnswers checks the answers to the story on each backend, and that
// the backends' answers are the same.
func TestAnswers(t *testing.T) {
	got := map[string]string{}
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		x := be.open(t)
		f, sizes := story(&batch{tb: t, x: x})
		got[be.name] = answers(t, x, f)

		for id, title := range map[string]string{"FSCA-1": "second", "fsca-1": "lower case", "FSCA-1 ": "trailing space", "FSCA-Ü": "not ASCII"} {
			fa, err := x.FieldAction(ctx, id, Page{})
			if err != nil || fa.Action.Title != title {
				t.Errorf("FieldAction(%q) = %+v, %v; want the one titled %q", id, fa, err, title)
			}
		}
		for _, i := range []int{2, 3} {
			if info, err := x.Device(ctx, f.devs[i].udi); err != nil || info.Status != client.StatusRevoked {
				t.Errorf("Device(%q) = %+v, %v; want it revoked", f.devs[i].udi, info, err)
			}
		}
		if im, err := x.Impact(ctx, ImpactQuery{PURL: "pkg:generic/openssl@3.0.7"}); err != nil || len(im.Builds) != 4 || len(im.Affected) == 0 {
			t.Errorf("Impact(openssl 3.0.7) = %+v, %v; want 4 builds and devices", im, err)
		}
		if im, err := x.Impact(ctx, ImpactQuery{PURL: "pkg:generic/zlib"}); err != nil || len(im.Builds) != 0 {
			t.Errorf("Impact(zlib, only in a build's second SBOM) = %+v, %v; want no builds", im, err)
		}

		var cps []string
		for _, index := range []uint64{0, sizes[0] - 1, sizes[0], sizes[1], sizes[2] - 1, sizes[2], math.MaxUint64} {
			raw, err := x.CheckpointCovering(ctx, index)
			want := ""
			if i := slices.IndexFunc(sizes, func(s uint64) bool { return s > index }); i >= 0 {
				want = fmt.Sprintf("checkpoint %d", sizes[i])
			}
			if string(raw) != want || (want == "") != errors.Is(err, ErrNotFound) {
				t.Errorf("CheckpointCovering(%d) = %q, %v; want %q", index, raw, err, want)
			}
			cps = append(cps, string(raw))
		}
		got[be.name] += strings.Join(cps, "\n")
	})
	for name, answers := range got {
		if diff := cmp.Diff(got["sqlite"], answers); got["sqlite"] != "" && diff != "" {
			t.Errorf("answers (-sqlite +%s):\n%s", name, diff)
		}
	}
}

// TestTruncate checks that an index truncated to a size, with facts added
// but not committed, answers as one built only to that size.
func TestTruncate(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		x := be.open(t)
		l := &batch{tb: t, x: x}
		f, sizes := story(l)
		f.day(7)
		l.flush()
		// Sizes in decreasing order: after a commit; after a revocation;
		// in a day of attestations, cutting devices' latest; before the
		// last attestation, which was a device's latest.
		for _, size := range []uint64{sizes[2] - 1, sizes[1] - 5, sizes[0] + 3, sizes[0], 40, 0} {
			if err := x.Truncate(ctx, size); err != nil {
				t.Fatal(err)
			}
			y := be.open(t)
			if size > 0 {
				story(&batch{tb: t, x: y, until: size})
			}
			if got, want := answers(t, x, f), answers(t, y, f); got != want {
				t.Errorf("index truncated to %d answers otherwise than one built to %d (-built +truncated):\n%s", size, size, cmp.Diff(want, got))
			}
		}
	})
}

// TestSplit builds the story under a budget small enough that Add commits
// every few facts, in SBOMs too, and truncates it in steps: the index
// answers as one built and cut in one transaction each, and no commit on
// the way holds a build, or a component that a query finds, at or above
// its size.
func TestSplit(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		x := be.open(t)
		x.budget = 400
		splits, partial := 0, 0
		x.testingOnlySplit = func(size uint64) {
			splits++
			args, err := x.d.args([]any{size})
			if err != nil {
				t.Fatal(err)
			}
			var builds, found, components int
			for q, n := range map[string]*int{
				`SELECT COUNT(*) FROM idx_firmware WHERE sbom >= ?`:                                                                        &builds,
				`SELECT COUNT(*) FROM idx_components c JOIN idx_firmware f ON f.digest = c.firmware AND f.sbom = c.sbom WHERE c.sbom >= ?`: &found,
				`SELECT COUNT(*) FROM idx_components WHERE sbom >= ?`:                                                                      &components,
			} {
				if err := x.db.QueryRowContext(ctx, q, args...).Scan(n); err != nil {
					t.Fatal(err)
				}
			}
			if builds != 0 || found != 0 {
				t.Errorf("a split at %d holds %d builds and %d components a query finds at or above it", size, builds, found)
			}
			if components > 0 {
				partial++
			}
		}
		f, _ := story(&batch{tb: t, x: x})
		y := be.open(t)
		story(&batch{tb: t, x: y})
		if got, want := answers(t, x, f), answers(t, y, f); got != want {
			t.Errorf("index built in splits answers otherwise than one built whole (-whole +splits):\n%s", cmp.Diff(want, got))
		}
		if splits == 0 || partial == 0 {
			t.Errorf("%d splits, %d in an SBOM; want some of each", splits, partial)
		}

		const size = 10 // in the SBOMs
		if err := x.Truncate(ctx, size); err != nil {
			t.Fatal(err)
		}
		z := be.open(t)
		story(&batch{tb: t, x: z, until: size})
		if got, want := answers(t, x, f), answers(t, z, f); got != want {
			t.Errorf("index truncated in steps to %d answers otherwise than one built to %d (-built +truncated):\n%s", size, size, cmp.Diff(want, got))
		}
	})
}

// TestLongPackageURL checks that components whose package URL and version
// are far longer than an index key may be (Spanner's 8 KiB, MySQL's 3 KiB)
// are indexed and found, exactly: another that shares the first kilobytes
// of each is not.
func TestLongPackageURL(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		x := be.open(t)
		l := &batch{tb: t, x: x}
		f := newFleet(l, 1, 1)
		name, version := strings.Repeat("n", 9000), strings.Repeat("1.", 3000)+"0"
		fw := client.Firmware{Version: "9.9.9", Digest: digestOf("fw long")}
		f.sbom(f.models[0].name, fw, []map[string]string{
			{"type": "library", "name": "long", "version": version, "purl": "pkg:generic/" + name + "@" + version},
			{"type": "library", "name": "near", "version": version + "1", "purl": "pkg:generic/" + name + "x@" + version + "1"},
		})
		l.commit()
		for _, tc := range []struct {
			purl  string
			build bool
		}{
			{"pkg:generic/" + name + "@" + version, true},
			{"pkg:generic/" + name, true},
			{"pkg:generic/" + name + "@" + version + "2", false},
			{"pkg:generic/" + name[1:], false},
			{"pkg:generic/" + name + "x", true},
		} {
			im, err := x.Impact(ctx, ImpactQuery{PURL: tc.purl})
			if err != nil {
				t.Fatalf("Impact(%.40s…, %d bytes) = %v", tc.purl, len(tc.purl), err)
			}
			if found := len(im.Builds) == 1 && im.Builds[0].Digest == fw.Digest; found != tc.build || len(im.Builds) > 1 {
				t.Errorf("Impact(%.40s…, %d bytes) = builds %+v; want the long build: %v", tc.purl, len(tc.purl), im.Builds, tc.build)
			}
		}
	})
}
