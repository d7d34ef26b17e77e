package personality

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	flog "github.com/transparency-dev/formats/log"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/personality/index"
)

// cdxSBOM is a minimal CycloneDX SBOM of a firmware build with generic
// components given as name@version.
func cdxSBOM(t *testing.T, name, version string, comps ...string) []byte {
	t.Helper()
	var list []map[string]string
	for _, c := range comps {
		n, v, _ := strings.Cut(c, "@")
		list = append(list, map[string]string{"type": "library", "name": n, "version": v, "purl": "pkg:generic/" + n + "@" + v})
	}
	b, err := json.Marshal(map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
		"metadata":   map[string]any{"component": map[string]string{"type": "firmware", "name": name, "version": version}},
		"components": list,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// story is a small fleet's history in a real log, with the answers its
// queries must give.
type story struct {
	*auditLog
	fwOld, fwNew, fwBeta string
	day                  func(n int) time.Time
	fa                   uint64 // the field action's index
	fix                  map[string]uint64
	stale, revoked       *auditDevice
	clone                *auditDevice
	fork                 uint64
	sbomOld, sbomBeta    uint64 // the indexes of fwOld's and fwBeta's SBOMs
	firstDay             *flog.Checkpoint
	firstDayRaw          []byte
	pageLimit            int                                // if set, the tamper proxy asks for list pages this long
	tileTamper           func(path string, b []byte) []byte // if set, rewrites the tiles the proxy serves
}

// attestAt submits the next attestation of d in its chain, at a device time
// and firmware, and returns its index.
func (s *story) attestAt(d *auditDevice, t time.Time, fw string) uint64 {
	s.t.Helper()
	a := attestation(d.device, d.seq, d.prev)
	a.Time, a.Firmware = t, client.Firmware{Version: map[string]string{s.fwOld: "4.1.0", s.fwNew: "4.2.2", s.fwBeta: "1.0"}[fw], Digest: fw}
	env := s.sign(s.statement(client.PredicateAttestation, a), d.key)
	idx := s.submit(env)[0]
	d.advance(s.t, env, idx)
	return idx
}

func newStory(t *testing.T) *story {
	s := &story{auditLog: newAuditLog(t), fwOld: strings.Repeat("a1", 32), fwNew: strings.Repeat("b2", 32), fwBeta: strings.Repeat("c3", 32), fix: map[string]uint64{}}
	base := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	s.day = func(n int) time.Time { return base.AddDate(0, 0, n) }
	sbom := func(fw, name, version string, mfr *client.PrivateKey, comps ...string) []byte {
		return s.sign(client.NewSBOMStatement(client.PredicateCycloneDX, cdxSBOM(t, name, version, comps...), name+"-"+version+".bin", fw), mfr)
	}
	sboms := s.submit(
		sbom(s.fwOld, "ip300-fw", "4.1.0", s.acme, "openssl@3.0.7", "zlib@1.3.1"),
		sbom(s.fwNew, "ip300-fw", "4.2.2", s.acme, "openssl@3.0.13", "zlib@1.3.1"),
		sbom(s.fwBeta, "gm2-fw", "1.0", s.beta, "zlib@1.2.13"),
	)
	s.sbomOld, s.sbomBeta = sboms[0], sboms[2]
	s.enroll(6, acmeGTIN, "A", s.acme, s.fwOld)
	s.enroll(2, betaGTIN, "B", s.beta, s.fwBeta)
	for day := range 3 {
		for i, d := range s.devs {
			if i == 4 && day > 0 {
				continue // A004 goes quiet after its first attestation
			}
			s.attestAt(d, s.day(day), d.firmware)
		}
		if day == 0 {
			// The checkpoint published after the first day, as the
			// index's follower would have recorded it.
			s.firstDay = s.checkpoint()
			raw, err := s.tiles.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s.firstDayRaw = raw
		}
	}
	s.stale, s.revoked, s.clone = s.devs[4], s.devs[5], s.devs[3]
	// A clone of A003 signs with its key: a second seq 1.
	fork := attestation(s.clone.device, 1, strings.Repeat("66", 32))
	fork.Time, fork.Firmware = s.day(1).Add(time.Hour), client.Firmware{Version: "4.1.0", Digest: s.fwOld}
	s.fork = s.submit(s.sign(s.statement(client.PredicateAttestation, fork), s.clone.key))[0]
	s.fa = s.submit(s.sign(s.statement(client.PredicateFieldAction, &client.FieldAction{ID: "FSCA-2026-0042", Title: "Occlusion alarm delay",
		Issued: s.day(3), Affected: client.Affected{Firmware: []string{s.fwOld}}, Remedy: &client.Firmware{Version: "4.2.2", Digest: s.fwNew}}), s.acme))[0]
	for _, d := range s.devs[:2] {
		s.fix[d.udi] = s.attestAt(d, s.day(4), s.fwNew)
	}
	s.submit(s.revoke(client.RevocationTarget{Type: client.TargetUDI, ID: s.revoked.udi}, s.acme))
	return s
}

// follow builds an index of the story's log in a new directory.
func (s *story) follow(dir string) *index.Follower {
	s.t.Helper()
	f, err := index.NewFollower(context.Background(), index.FollowerConfig{Tiles: s.tiles, Verifier: s.verifier, Blob: s.api.Blob, Roots: s.roots, Dir: dir})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { f.Close() })
	return f
}

// TestQueries builds the index of a real log by following it, and checks
// every query against the story's answers: through the index, and over
// the personality's HTTP API with its errors.
func TestQueries(t *testing.T) {
	s := newStory(t)
	ctx := context.Background()
	cp := s.checkpoint()
	f := s.follow(t.TempDir())
	r, err := f.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size != cp.Size {
		t.Fatalf("caught up to %d, want %d", r.Size, cp.Size)
	}
	x := f.Index()
	a0, a2 := s.devs[0], s.devs[2]

	info, err := x.Device(ctx, a0.udi)
	if err != nil {
		t.Fatal(err)
	}
	want := &client.DeviceInfo{TreeSize: cp.Size, DeviceRef: client.DeviceRef{UDI: a0.udi, Enrollment: a0.enrollment,
		Latest: &client.AttestationRef{Index: a0.last, Seq: 3, Time: s.day(4), Firmware: client.Firmware{Version: "4.2.2", Digest: s.fwNew}, Head: true}},
		KeyID: a0.key.Public().ID(), Manufacturer: "Acme", Model: "IP-300", Status: client.StatusActive,
		FieldActions: []client.FieldActionRef{{ID: "FSCA-2026-0042", Index: s.fa, Corrected: true}}, Attestations: 4}
	if diff := gocmp.Diff(want, info); diff != "" {
		t.Errorf("Device(A000) (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		d      *auditDevice
		status string
	}{{a2, client.StatusFieldAction}, {s.revoked, client.StatusRevoked}, {s.devs[6], client.StatusActive}} {
		if info, err := x.Device(ctx, tc.d.udi); err != nil || info.Status != tc.status {
			t.Errorf("Device(%s) status = %+v, %v; want %s", tc.d.udi, info, err, tc.status)
		}
	}

	// The clone's fork: seq 1 twice; pages never split a seq.
	h, err := x.History(ctx, s.clone.udi, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Attestations) != 1 || h.NextSeq == nil || *h.NextSeq != 1 {
		t.Errorf("History(clone, 0, 2) = %+v; want seq 0 and next seq 1", h)
	}
	h, err = x.History(ctx, s.clone.udi, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Attestations) != 2 || h.Attestations[0].Seq != 1 || h.Attestations[1].Index != s.fork || h.Attestations[1].Head || h.NextSeq == nil || *h.NextSeq != 2 {
		t.Errorf("History(clone, 1, 2) = %+v; want both seq 1 (the fork not the head) and next seq 2", h)
	}
	h, err = x.History(ctx, a0.udi, 0, 100)
	if err != nil || len(h.Attestations) != 4 || h.NextSeq != nil {
		t.Errorf("History(A000) = %+v, %v; want 4 attestations, no next page", h, err)
	}

	// At a time: in force and next, by device time, on the chain.
	for _, tc := range []struct {
		at            time.Time
		inForce, next int // seq, -1 for none
	}{
		{s.day(0).Add(-time.Hour), -1, 0},
		{s.day(0), 0, 1},
		{s.day(1).Add(2 * time.Hour), 1, 2},
		{s.day(9), 3, -1},
	} {
		a, err := x.At(ctx, a0.udi, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		seq := func(r *client.AttestationRef) int {
			if r == nil {
				return -1
			}
			return int(r.Seq)
		}
		if seq(a.InForce) != tc.inForce || seq(a.Next) != tc.next {
			t.Errorf("At(%s) = in force %d, next %d; want %d, %d", tc.at, seq(a.InForce), seq(a.Next), tc.inForce, tc.next)
		}
	}
	// The clone's fork is not the chain: at its time the head seq 1 holds.
	if a, err := x.At(ctx, s.clone.udi, s.day(1).Add(2*time.Hour)); err != nil || a.InForce == nil || a.InForce.Index == s.fork {
		t.Errorf("At(clone) = %+v, %v; want the chain's seq 1, not the fork", a, err)
	}

	// Impact: by exact purl, by name, by advisory; since moves the quiet
	// device to unknown.
	udis := func(refs []client.DeviceRef) []string {
		out := []string{}
		for _, r := range refs {
			out = append(out, r.UDI)
		}
		return out
	}
	builds := func(bs []client.ImpactBuild) []string {
		out := []string{}
		for _, b := range bs {
			out = append(out, b.Digest)
		}
		return out
	}
	oldRunners := []string{s.devs[2].udi, s.devs[3].udi, s.devs[4].udi, s.devs[5].udi}
	reporting := []string{s.devs[2].udi, s.devs[3].udi, s.devs[5].udi} // A004 has not reported since day 0
	since := s.day(1)
	adv, err := client.ParseOSV([]byte(`{"id": "VIGIL-TEST-1", "affected": [{"package": {"purl": "pkg:generic/openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.8"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		q                index.ImpactQuery
		builds, affected []string
		unknown          []string
	}{
		{"exact purl", index.ImpactQuery{PURL: "pkg:generic/openssl@3.0.7"}, []string{s.fwOld}, oldRunners, []string{}},
		{"exact purl since", index.ImpactQuery{PURL: "pkg:generic/openssl@3.0.7", Since: &since}, []string{s.fwOld}, reporting, []string{s.stale.udi}},
		{"any version", index.ImpactQuery{PURL: "pkg:generic/openssl"}, []string{s.fwOld, s.fwNew}, append([]string{s.devs[0].udi, s.devs[1].udi}, oldRunners...), []string{}},
		{"advisory", index.ImpactQuery{Advisory: adv, Since: &since}, []string{s.fwOld}, reporting, []string{s.stale.udi}},
		{"absent version", index.ImpactQuery{PURL: "pkg:generic/openssl@1.1.1"}, []string{}, []string{}, []string{}},
	} {
		t.Run("impact "+tc.name, func(t *testing.T) {
			im, err := x.Impact(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff([][]string{tc.builds, tc.affected, tc.unknown}, [][]string{builds(im.Builds), udis(im.Affected), udis(im.Unknown)}); diff != "" {
				t.Errorf("builds, affected, unknown (-want +got):\n%s", diff)
			}
		})
	}
	im, err := x.Impact(ctx, index.ImpactQuery{PURL: "pkg:generic/openssl@3.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	if b := im.Builds[0]; b.Name != "ip300-fw" || b.Version != "4.1.0" || b.Manufacturer != "Acme" || b.SBOM != s.sbomOld || len(b.Components) != 1 || b.Components[0].PURL != "pkg:generic/openssl@3.0.7" {
		t.Errorf("impact build = %+v", b)
	}

	// The field action: corrected with the remedy attestation, the rest not.
	st, err := x.FieldAction(ctx, "FSCA-2026-0042", index.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var fixed []string
	for _, c := range st.Corrected {
		fixed = append(fixed, c.UDI)
		if c.Remedy.Index != s.fix[c.UDI] || c.Remedy.Firmware.Digest != s.fwNew {
			t.Errorf("correction of %s backed by %+v, want index %d", c.UDI, c.Remedy, s.fix[c.UDI])
		}
	}
	if diff := gocmp.Diff([][]string{{s.devs[0].udi, s.devs[1].udi}, oldRunners}, [][]string{fixed, udis(st.NotCorrected)}); diff != "" {
		t.Errorf("field action corrected, not corrected (-want +got):\n%s", diff)
	}
	if st.Index != s.fa || st.Manufacturer != "Acme" || st.Action.Remedy.Digest != s.fwNew {
		t.Errorf("field action status = %+v", st)
	}
	// Pages of one device: each names the next, and together they are the
	// whole answer.
	var pagedFixed, pagedNot []string
	for after, n := "", 0; ; n++ {
		pg, err := x.FieldAction(ctx, "FSCA-2026-0042", index.Page{Limit: 1, After: after})
		if err != nil || len(pg.Corrected)+len(pg.NotCorrected) != 1 || n > 6 {
			t.Fatalf("page %d after %q = %+v, %v", n, after, pg, err)
		}
		for _, c := range pg.Corrected {
			pagedFixed = append(pagedFixed, c.UDI)
		}
		pagedNot = append(pagedNot, udis(pg.NotCorrected)...)
		if pg.More == "" {
			break
		}
		after = pg.More
	}
	if !gocmp.Equal(pagedFixed, fixed) || !gocmp.Equal(pagedNot, udis(st.NotCorrected)) {
		t.Errorf("field action in pages: %v, %v; want %v, %v", pagedFixed, pagedNot, fixed, udis(st.NotCorrected))
	}
	pg, err := x.Impact(ctx, index.ImpactQuery{PURL: "pkg:generic/openssl@3.0.7", Since: &since, Page: index.Page{Limit: 3}})
	// A002, A003 affected and A004 unknown come first; A005 is on the next page.
	if err != nil || len(pg.Affected) != 2 || len(pg.Unknown) != 1 || pg.More != s.stale.udi {
		t.Errorf("impact page of 3 = %+v, %v; want 3 devices and more after %s", pg, err, s.stale.udi)
	}

	// The same answers over HTTP, and the query API's refusals.
	s.index = x
	s.start()
	get := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get(s.fixture.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil && resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	var viaHTTP client.DeviceInfo
	if code := get("/v1/devices/"+url.PathEscape(a0.udi), &viaHTTP); code != http.StatusOK || !gocmp.Equal(want, &viaHTTP) {
		t.Errorf("GET device: %d %+v", code, viaHTTP)
	}
	var fa client.FieldActionStatus
	if code := get("/v1/field-actions/FSCA-2026-0042", &fa); code != http.StatusOK || !gocmp.Equal(st, &fa) {
		t.Errorf("GET field action: %d, differs: %s", code, gocmp.Diff(st, &fa))
	}
	resp, err := http.Post(s.fixture.srv.URL+"/v1/impact?since="+since.Format(time.RFC3339), "application/json", strings.NewReader(`{"id": "VIGIL-TEST-1", "affected": [{"package": {"purl": "pkg:generic/openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.8"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var posted client.Impact
	json.NewDecoder(resp.Body).Decode(&posted)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || posted.Advisory != "VIGIL-TEST-1" || !gocmp.Equal(reporting, udis(posted.Affected)) {
		t.Errorf("POST impact: %d %+v", resp.StatusCode, posted)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/v1/devices/" + url.PathEscape(udi(acmeGTIN, "NOPE")), http.StatusNotFound},
		{"/v1/devices/not-a-udi", http.StatusBadRequest},
		{"/v1/devices/" + url.PathEscape(a0.udi) + "/attestations?limit=0", http.StatusBadRequest},
		{"/v1/devices/" + url.PathEscape(a0.udi) + "/attestations?from=x", http.StatusBadRequest},
		{"/v1/devices/" + url.PathEscape(a0.udi) + "/at?time=yesterday", http.StatusBadRequest},
		{"/v1/impact", http.StatusBadRequest},
		{"/v1/impact?purl=openssl", http.StatusBadRequest},
		{"/v1/impact?purl=pkg:generic/openssl&since=soon", http.StatusBadRequest},
		{"/v1/field-actions/FSCA-NONE", http.StatusNotFound},
	} {
		if code := get(tc.path, nil); code != tc.code {
			t.Errorf("GET %s = %d, want %d", tc.path, code, tc.code)
		}
	}
	resp, err = http.Post(s.fixture.srv.URL+"/v1/impact", "application/json", strings.NewReader(`{"affected": []}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST impact with no advisory id = %d, want 400", resp.StatusCode)
	}
}

// answers is every query's answer about the story, for comparing indexes.
func (s *story) answers(t *testing.T, x *index.Index) string {
	t.Helper()
	ctx := context.Background()
	var out []any
	for _, d := range s.devs {
		info, err := x.Device(ctx, d.udi)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		h, err := x.History(ctx, d.udi, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		at, err := x.At(ctx, d.udi, s.day(1))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info, h, at)
	}
	for _, p := range []string{"pkg:generic/openssl", "pkg:generic/zlib"} {
		im, err := x.Impact(ctx, index.ImpactQuery{PURL: p})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, im)
	}
	fa, err := x.FieldAction(ctx, "FSCA-2026-0042", index.Page{})
	if err != nil {
		out = append(out, err.Error())
	} else {
		out = append(out, fa)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIndexRebuildAndTruncate checks that the index is derived state: a
// rebuild from the log gives the same answers; an index cut back to an
// earlier size answers as an index built only to that size; and an index
// found ahead of its audit's state, or missing, is mended.
func TestIndexRebuildAndTruncate(t *testing.T) {
	s := newStory(t)
	ctx := context.Background()
	cp1 := s.checkpoint()
	// An index built up to cp1 only.
	early := t.TempDir()
	ex, err := index.Open(early)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	audit := func(dir string, x *index.Index, cp *flog.Checkpoint) {
		t.Helper()
		if _, err := client.Audit(ctx, client.AuditConfig{Tiles: s.tiles, Blob: s.api.Blob, Roots: s.roots, Dir: dir, Index: x, SkipSignatures: true}, cp); err != nil {
			t.Fatal(err)
		}
	}
	audit(early+"/audit", ex, cp1)
	atCP1 := s.answers(t, ex)

	// The log grows: more attestations, a second field action entry.
	for _, d := range s.devs[2:4] {
		s.attestAt(d, s.day(5), s.fwNew)
	}
	cp2 := s.checkpoint()
	dir := t.TempDir()
	f := s.follow(dir)
	if _, err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	atCP2 := s.answers(t, f.Index())
	if atCP1 == atCP2 {
		t.Fatal("the answers did not change as the log grew")
	}
	if err := f.Index().Truncate(ctx, cp1.Size); err != nil {
		t.Fatal(err)
	}
	if got := s.answers(t, f.Index()); got != atCP1 {
		t.Errorf("index truncated to %d answers otherwise than one built to %d:\n%s\nwant\n%s", cp1.Size, cp1.Size, got, atCP1)
	}
	// The index is now behind its audit's state: the next catch-up starts
	// again from the first entry and ends where it was.
	r, err := f.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.New != cp2.Size {
		t.Errorf("catch-up after the index fell behind read %d entries, want all %d", r.New, cp2.Size)
	}
	if got := s.answers(t, f.Index()); got != atCP2 {
		t.Errorf("index rebuilt after falling behind answers otherwise:\n%s\nwant\n%s", got, atCP2)
	}
	f.Close()

	// A second follower of the same directory is refused while one runs.
	f2 := s.follow(dir)
	if _, err := index.NewFollower(context.Background(), index.FollowerConfig{Tiles: s.tiles, Verifier: s.verifier, Roots: s.roots, Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second follower of one directory: %v", err)
	}
	if n, err := f2.Index().Size(ctx); err != nil || n != cp2.Size {
		t.Errorf("reopened index size %d, %v; want %d", n, err, cp2.Size)
	}
	f2.Close()

	// A rebuild from scratch answers the same.
	rebuilt, err := index.NewFollower(context.Background(), index.FollowerConfig{Tiles: s.tiles, Verifier: s.verifier, Blob: s.api.Blob, Roots: s.roots, Dir: dir, Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	if n, _ := rebuilt.Index().Size(ctx); n != 0 {
		t.Fatalf("rebuild starts from an index of size %d", n)
	}
	if r, err := rebuilt.CatchUp(ctx); err != nil || r.New != cp2.Size {
		t.Fatalf("rebuild: %+v, %v", r, err)
	}
	if got := s.answers(t, rebuilt.Index()); got != atCP2 {
		t.Errorf("rebuilt index answers otherwise:\n%s\nwant\n%s", got, fmt.Sprint(atCP2))
	}
}

// tamperProxy serves the story's log: the tiles as they are, and the query
// API through tamper, which may rewrite an answer's JSON.
func (s *story) tamperProxy(tamper func(path string, v map[string]any)) *client.Querier {
	s.t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", s.log.Handler())
	if s.tileTamper != nil {
		mux.HandleFunc("/tile/", func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			s.log.Handler().ServeHTTP(rec, r)
			w.WriteHeader(rec.Code)
			w.Write(s.tileTamper(r.URL.Path, rec.Body.Bytes()))
		})
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		u := *r.URL
		if s.pageLimit > 0 && (u.Path == "/v1/impact" || strings.HasPrefix(u.Path, "/v1/field-actions/")) {
			q := u.Query()
			q.Set("limit", fmt.Sprint(s.pageLimit))
			u.RawQuery = q.Encode()
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, s.fixture.srv.URL+u.RequestURI(), r.Body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if tamper != nil && !strings.HasPrefix(r.URL.Path, "/v1/blobs/") && resp.StatusCode == http.StatusOK && json.Unmarshal(b, &v) == nil {
			tamper(r.URL.Path, v)
			b, _ = json.Marshal(v)
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	})
	srv := httptest.NewServer(mux)
	s.t.Cleanup(srv.Close)
	tiles, err := client.HTTPTiles(srv.URL, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	policy, err := client.ParsePolicy([]byte("log " + s.logVKey + "\nquorum none\n"))
	if err != nil {
		s.t.Fatal(err)
	}
	return &client.Querier{
		Tracker: &client.Tracker{Policy: policy, Tiles: tiles, Store: &client.TrustStore{Dir: s.t.TempDir()}},
		API:     &client.LogClient{URL: srv.URL},
		Roots:   s.roots,
	}
}

// TestProvenAnswers proves the query API's answers with client.Querier: an
// honest server's answers all prove, with the clone's fork found along its
// chain; a server that hides an attestation shows a gap; and every false
// claim (a component its SBOM lacks, a device not running an affected
// build, another device's attestation, a remedy before the action) is
// refused.
func TestProvenAnswers(t *testing.T) {
	s := newStory(t)
	ctx := context.Background()
	s.checkpoint()
	f := s.follow(t.TempDir())
	if _, err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	s.index = f.Index()
	s.start()
	a0 := s.devs[0]

	honest := s.tamperProxy(nil)
	dev, err := honest.Device(ctx, a0.udi)
	if err != nil || dev.Status != client.StatusActive || dev.Latest.Index != a0.last {
		t.Fatalf("Device = %+v, %v", dev, err)
	}
	if dev, err := honest.Device(ctx, s.revoked.udi); err != nil || dev.Status != client.StatusRevoked {
		t.Errorf("Device(revoked) = %+v, %v", dev, err)
	}
	h, err := honest.History(ctx, a0.udi)
	if err != nil || len(h.Attestations) != 4 || len(h.Problems) != 0 {
		t.Errorf("History(A000) = %+v, %v; want 4 attestations, no problem", h, err)
	}
	h, err = honest.History(ctx, s.clone.udi)
	if err != nil || len(h.Problems) != 1 || h.Problems[0].Code != client.AnomalyChainFork || h.Problems[0].Index != s.fork {
		t.Errorf("History(clone) = %+v, %v; want the fork at %d", h, err, s.fork)
	}
	at, err := honest.At(ctx, a0.udi, s.day(1).Add(time.Hour))
	if err != nil || at.InForce == nil || at.InForce.Seq != 1 || at.Next == nil || !at.Adjacent {
		t.Errorf("At = %+v, %v; want seq 1 in force, seq 2 adjacent", at, err)
	}
	// The time bound: with no recorded checkpoint before it, the answer's
	// own checkpoint; once the follower has recorded the first day's, that
	// one, for an attestation of the first day.
	at, err = honest.At(ctx, a0.udi, s.day(0).Add(time.Hour))
	if err != nil || at.LoggedUnder != at.Checked.Checkpoint.Size {
		t.Errorf("At(day 0) bound under %d, %v; want the answer's checkpoint", at.LoggedUnder, err)
	}
	if err := f.Index().RecordCheckpoint(ctx, s.firstDay.Size, s.firstDayRaw); err != nil {
		t.Fatal(err)
	}
	at, err = honest.At(ctx, a0.udi, s.day(0).Add(time.Hour))
	if err != nil || at.LoggedUnder != s.firstDay.Size || at.InForce.Index >= s.firstDay.Size {
		t.Errorf("At(day 0) bound under %d, %v; want the first day's checkpoint, size %d", at.LoggedUnder, err, s.firstDay.Size)
	}
	since := s.day(1)
	im, err := honest.Impact(ctx, "pkg:generic/openssl@3.0.7", nil, &since)
	if err != nil || len(im.Builds) != 1 || len(im.Affected) != 3 || len(im.Unknown) != 1 {
		t.Errorf("Impact = %+v, %v", im, err)
	}
	advisory := []byte(`{"id": "VIGIL-TEST-1", "affected": [{"package": {"purl": "pkg:generic/openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.8"}]}]}]}`)
	if im, err := honest.Impact(ctx, "", advisory, nil); err != nil || len(im.Affected) != 4 {
		t.Errorf("Impact(advisory) = %+v, %v", im, err)
	}
	fa, err := honest.FieldAction(ctx, "FSCA-2026-0042")
	if err != nil || len(fa.Corrected) != 2 || len(fa.NotCorrected) != 4 {
		t.Errorf("FieldAction = %+v, %v", fa, err)
	}
	// The same answers in pages of 2 devices, merged by the client.
	s.pageLimit = 2
	paged := s.tamperProxy(nil)
	s.pageLimit = 0
	if got, err := paged.FieldAction(ctx, "FSCA-2026-0042"); err != nil || !gocmp.Equal(got.FieldActionStatus, fa.FieldActionStatus) {
		t.Errorf("FieldAction in pages of 2 = %+v, %v; want %+v", got, err, fa.FieldActionStatus)
	}
	if got, err := paged.Impact(ctx, "pkg:generic/openssl@3.0.7", nil, &since); err != nil || !gocmp.Equal(got.Impact, im.Impact) {
		t.Errorf("Impact in pages of 2 = %+v, %v; want %+v", got, err, im.Impact)
	}

	// The server omits A000's seq 1 from its history: a gap.
	hiding := s.tamperProxy(func(path string, v map[string]any) {
		if strings.HasSuffix(path, "/attestations") {
			as := v["attestations"].([]any)
			v["attestations"] = append(as[:1:1], as[2:]...)
		}
	})
	h, err = hiding.History(ctx, a0.udi)
	if err != nil || len(h.Problems) != 1 || h.Problems[0].Code != client.AnomalyChainGap || h.Problems[0].Missing != 1 {
		t.Errorf("History with seq 1 hidden = %+v, %v; want a gap of 1", h, err)
	}

	for _, tc := range []struct {
		name   string
		tamper func(path string, v map[string]any)
		ask    func(q *client.Querier) error
	}{
		// The acceptance case: a build is claimed affected, but the SBOM
		// blob its leaf commits to does not list the component.
		{"a component the SBOM lacks", func(path string, v map[string]any) {
			if path == "/v1/impact" {
				b := v["builds"].([]any)[0].(map[string]any)
				v["builds"] = append(v["builds"].([]any), map[string]any{"digest": s.fwBeta, "name": "gm2-fw", "version": "1.0", "manufacturer": "Beta",
					"sbom": s.sbomBeta, "components": b["components"]})
			}
		}, func(q *client.Querier) error {
			_, err := q.Impact(ctx, "pkg:generic/openssl@3.0.7", nil, nil)
			return err
		}},
		{"a device not running an affected build", func(path string, v map[string]any) {
			if path == "/v1/impact" {
				v["affected"] = append(v["affected"].([]any), map[string]any{"udi": a0.udi, "enrollment": a0.enrollment,
					"latest": map[string]any{"index": a0.last, "seq": 3, "time": s.day(4), "firmware": map[string]any{"version": "4.2.2", "digest": s.fwNew}, "head": true}})
			}
		}, func(q *client.Querier) error {
			_, err := q.Impact(ctx, "pkg:generic/openssl@3.0.7", nil, nil)
			return err
		}},
		{"another listed device's attestation", func(path string, v map[string]any) {
			if path == "/v1/impact" {
				a2 := s.devs[2]
				v["affected"] = append(v["affected"].([]any), map[string]any{"udi": a0.udi, "enrollment": a0.enrollment,
					"latest": map[string]any{"index": a2.last, "seq": 2, "time": s.day(2), "firmware": map[string]any{"version": "4.1.0", "digest": s.fwOld}, "head": true}})
			}
		}, func(q *client.Querier) error {
			// A002's attestation may be proven for A002 before or after
			// it is claimed for A000; the claim must fail either way, so
			// ask a few times.
			for range 8 {
				if _, err := q.Impact(ctx, "pkg:generic/openssl@3.0.7", nil, nil); err == nil || !errors.Is(err, client.ErrFalseAnswer) {
					return err
				}
			}
			_, err := q.Impact(ctx, "pkg:generic/openssl@3.0.7", nil, nil)
			return err
		}},
		{"another device's attestation", func(path string, v map[string]any) {
			if l, ok := v["latest"].(map[string]any); ok {
				l["index"] = float64(s.devs[1].last)
			}
		}, func(q *client.Querier) error { _, err := q.Device(ctx, a0.udi); return err }},
		{"a remedy before the action", func(path string, v map[string]any) {
			if c, ok := v["corrected"].([]any); ok && len(c) > 0 {
				r := c[0].(map[string]any)["remedy"].(map[string]any)
				r["index"] = float64(s.sbomOld) // an entry before the action, and no attestation
			}
		}, func(q *client.Querier) error { _, err := q.FieldAction(ctx, "FSCA-2026-0042"); return err }},
		{"an answer of a larger tree than the log signed", func(path string, v map[string]any) {
			v["treeSize"] = v["treeSize"].(float64) + 10
		}, func(q *client.Querier) error { _, err := q.Device(ctx, a0.udi); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ask(s.tamperProxy(tc.tamper))
			if !errors.Is(err, client.ErrFalseAnswer) {
				t.Fatalf("error %v, want ErrFalseAnswer", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestProvenAnswersTiles proves answers about entries in a full tile, which
// the client authenticates once for all its entries, and refuses them when
// the tile served is not the log's: a changed first node, or another node.
func TestProvenAnswersTiles(t *testing.T) {
	s := newStory(t)
	s.enroll(250, acmeGTIN, "T", s.acme, s.fwOld) // the first tile fills up
	ctx := context.Background()
	if cp := s.checkpoint(); cp.Size <= 256 {
		t.Fatalf("log of %d entries; want the first tile full", cp.Size)
	}
	f := s.follow(t.TempDir())
	if _, err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	s.index = f.Index()
	s.start()
	a0 := s.devs[0]
	if a0.last >= 256 {
		t.Fatalf("A000's latest attestation at %d is not in the first tile", a0.last)
	}
	if d, err := s.tamperProxy(nil).Device(ctx, a0.udi); err != nil || d.Latest.Index != a0.last {
		t.Fatalf("Device from full tiles = %+v, %v", d, err)
	}
	for _, node := range []int{0, 5} {
		s.tileTamper = func(path string, b []byte) []byte {
			if path == "/tile/0/000" {
				b = bytes.Clone(b)
				b[node*32] ^= 1
			}
			return b
		}
		_, err := s.tamperProxy(nil).Device(ctx, a0.udi)
		if !errors.Is(err, client.ErrBadTiles) {
			t.Errorf("Device with node %d of tile 0/000 changed = %v, want ErrBadTiles", node, err)
		}
	}
	s.tileTamper = nil
}
