package personality

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	flog "github.com/transparency-dev/formats/log"
	"github.com/vigil-log/vigil/client"
)

// auditLog is a personality and its log behind one server, which answers
// the submission API under /v1/ and the log's tlog-tiles read API, as
// vigild does; with the fleet that submits to it.
type auditLog struct {
	*fixture
	t     *testing.T
	srv   *httptest.Server
	api   *client.LogClient
	tiles *client.Tiles
	devs  []*auditDevice
}

// auditDevice is a device of the fleet and the state of its chain.
type auditDevice struct {
	*device
	mfr        *client.PrivateKey
	firmware   string
	enrollment uint64
	seq        uint64 // the next attestation's seq
	prev       string // the payload digest of its last attestation
	last       uint64 // the index of its last attestation
}

func newAuditLog(t *testing.T) *auditLog {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/v1/", f.p.Handler())
	mux.Handle("/", f.log.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tiles, err := client.HTTPTiles(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &auditLog{fixture: f, t: t, srv: srv, api: &client.LogClient{URL: srv.URL}, tiles: tiles}
}

// submit submits envelopes concurrently through the personality, each of
// which must be accepted, and returns their indexes.
func (l *auditLog) submit(envs ...[]byte) []uint64 {
	l.t.Helper()
	idx := make([]uint64, len(envs))
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := l.api.Submit(context.Background(), env, false)
			if err == nil {
				idx[i] = s.Index
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		l.t.Fatalf("submitting: %v", err)
	}
	return idx
}

// appendRaw appends envelopes' leaves to the log directly, past the
// personality's checks, as a dishonest log operator could.
func (l *auditLog) appendRaw(envs ...[]byte) []uint64 {
	l.t.Helper()
	var idx []uint64
	for _, env := range envs {
		e, err := client.ParseEntry(env)
		if err != nil {
			l.t.Fatal(err)
		}
		leaf, err := e.Leaf().Marshal()
		if err != nil {
			l.t.Fatal(err)
		}
		i, _, err := l.log.Sequence(context.Background(), leaf)
		if err != nil {
			l.t.Fatal(err)
		}
		idx = append(idx, i)
	}
	return idx
}

// checkpoint waits for a published checkpoint of the whole log, reads it
// through the tiles API and verifies it with the log's key.
func (l *auditLog) checkpoint() *flog.Checkpoint {
	l.t.Helper()
	ctx := context.Background()
	n := l.size()
	leaf, err := l.log.ReadLeaf(ctx, n-1, n)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.log.Prove(ctx, n-1, leaf); err != nil {
		l.t.Fatal(err)
	}
	raw, err := l.tiles.Checkpoint(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	cp, err := client.VerifyCheckpoint(raw, l.verifier)
	if err != nil {
		l.t.Fatal(err)
	}
	if cp.Size != n {
		l.t.Fatalf("checkpoint of size %d, want %d", cp.Size, n)
	}
	return cp
}

func (l *auditLog) config(dir string) client.AuditConfig {
	return client.AuditConfig{Tiles: l.tiles, Blob: l.api.Blob, Roots: l.roots, Dir: dir, Workers: 4}
}

func (l *auditLog) audit(dir string, cp *flog.Checkpoint) *client.AuditReport {
	l.t.Helper()
	r, err := client.Audit(context.Background(), l.config(dir), cp)
	if err != nil {
		l.t.Fatalf("Audit(%d) = %v", cp.Size, err)
	}
	return r
}

// enroll enrolls new devices of a manufacturer, each reporting firmware fw.
func (l *auditLog) enroll(n int, gtin, prefix string, mfr *client.PrivateKey, fw string) {
	l.t.Helper()
	var devs []*auditDevice
	var envs [][]byte
	for range n {
		d := &auditDevice{device: newDevice(l.t, gtin, fmt.Sprintf("%s%03d", prefix, len(l.devs)+len(devs))), mfr: mfr, firmware: fw}
		devs = append(devs, d)
		envs = append(envs, l.enrollEnv(d.device, mfr))
	}
	for i, idx := range l.submit(envs...) {
		devs[i].enrollment = idx
	}
	l.devs = append(l.devs, devs...)
}

func (l *auditLog) enrollEnv(d *device, mfr *client.PrivateKey) []byte {
	return l.sign(l.statement(client.PredicateEnrollment, l.enrollment(d, mfr)), mfr)
}

// attestEnv signs an attestation of d; config varies its payload.
func (l *auditLog) attestEnv(d *auditDevice, seq uint64, prev, fw, config string) []byte {
	a := attestation(d.device, seq, prev)
	a.Firmware.Digest = fw
	if config != "" {
		a.ConfigDigest = config
	}
	return l.sign(l.statement(client.PredicateAttestation, a), d.key)
}

// attest submits the next attestation of each device in its chain.
func (l *auditLog) attest(devs ...*auditDevice) {
	l.t.Helper()
	var envs [][]byte
	for _, d := range devs {
		envs = append(envs, l.attestEnv(d, d.seq, d.prev, d.firmware, ""))
	}
	for i, idx := range l.submit(envs...) {
		devs[i].advance(l.t, envs[i], idx)
	}
}

func (d *auditDevice) advance(t *testing.T, env []byte, idx uint64) {
	d.seq, d.prev, d.last = d.seq+1, payloadDigest(t, env), idx
}

func payloadDigest(t *testing.T, env []byte) string {
	t.Helper()
	e, err := client.ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(e.Payload)
	return hex.EncodeToString(h[:])
}

// treeDir returns the directory of the log's tile tree: logtest keeps it
// as "tree" in a temporary directory of the test, beside the blobs'.
func (l *auditLog) treeDir() string {
	l.t.Helper()
	m, err := filepath.Glob(filepath.Join(filepath.Dir(l.blobsDir), "*", "tree"))
	if err != nil || len(m) != 1 {
		l.t.Fatalf("finding the log's tree: %v %v", m, err)
	}
	return m[0]
}

// anomalyView is what TestAudit compares of an anomaly.
type anomalyView struct {
	Code        string
	Index       uint64
	Other       *uint64
	UDI         string
	OtherUDI    string
	ExpectedSeq *uint64
	Seq         *uint64
}

func views(as []client.Anomaly) []anomalyView {
	out := []anomalyView{}
	for _, a := range as {
		out = append(out, anomalyView{a.Code, a.Index, a.Other, a.UDI, a.OtherUDI, a.ExpectedSeq, a.Seq})
	}
	return out
}

func ptr(v uint64) *uint64 { return &v }

// TestAudit builds a real log of a few hundred entries of every kind through
// the personality and audits it over HTTP: an honest log, an interrupted
// audit resumed, a grown log audited incrementally, a dishonest log (entries
// the personality accepts by design and entries appended behind its back),
// and a log whose files on disk were corrupted.
func TestAudit(t *testing.T) {
	l := newAuditLog(t)
	ctx := context.Background()
	fwA, fwB, fwC := strings.Repeat("a1", 32), strings.Repeat("b2", 32), strings.Repeat("c3", 32)

	// An honest log: 48 devices of two manufacturers, three firmware builds
	// with SBOMs, five attestations a device, a revocation, a field action.
	sboms := l.submit(l.sbom(fwA, l.acme), l.sbom(fwB, l.acme), l.sbom(fwC, l.beta))
	l.enroll(32, acmeGTIN, "A", l.acme, fwA)
	l.enroll(16, betaGTIN, "B", l.beta, fwC)
	for range 5 {
		l.attest(l.devs...)
	}
	revoked := l.devs[0]
	rev := l.submit(
		l.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: revoked.key.Public().ID()}, l.acme),
		l.sign(l.statement(client.PredicateFieldAction, &client.FieldAction{ID: "FSCA-2026-0042", Title: "Occlusion alarm", Issued: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC),
			Affected: client.Affected{Firmware: []string{fwA}}, Remedy: &client.Firmware{Version: "4.2.2", Digest: fwB}}), l.acme),
	)
	cp1 := l.checkpoint()
	if cp1.Size < 290 {
		t.Fatalf("honest log of %d entries; want more than one entry bundle", cp1.Size)
	}

	// (a) The honest log: its root, no anomaly, the fleet in the index.
	dirA := t.TempDir()
	r := l.audit(dirA, cp1)
	if !bytes.Equal(r.Root, cp1.Hash) || r.Size != cp1.Size || r.Entries != cp1.Size || r.New != cp1.Size || r.Origin != cp1.Origin {
		t.Errorf("report %s@%d root %x entries %d new %d; want %s@%d root %x, all new", r.Origin, r.Size, r.Root, r.Entries, r.New, cp1.Origin, cp1.Size, cp1.Hash)
	}
	if len(r.Anomalies) != 0 {
		t.Errorf("honest log: anomalies %+v", r.Anomalies)
	}
	if r.Devices != 48 || r.FirmwareBuilds != 3 {
		t.Errorf("honest log: %d devices, %d firmware builds; want 48, 3", r.Devices, r.FirmwareBuilds)
	}
	d := l.devs[7]
	want := client.DeviceRecord{UDI: d.udi, KeyID: d.key.Public().ID(), Manufacturer: "Acme", Enrollment: d.enrollment,
		Attestations: 5, Latest: ptr(d.last), Seq: 4, Firmware: fwA}
	if got, ok := r.Device(d.udi); !ok || !gocmp.Equal(got, want) {
		t.Errorf("Device(%s) = %+v, %v; want %+v", d.udi, got, ok, want)
	}
	if got, ok := r.Device(revoked.udi); !ok || got.Revoked == nil || *got.Revoked != rev[0] {
		t.Errorf("Device(revoked) = %+v, %v; want revoked at %d", got, ok, rev[0])
	}
	if got, ok := r.Firmware(fwB); !ok || got.SBOM != sboms[1] || got.Manufacturer != "Acme" || got.Revoked != nil {
		t.Errorf("Firmware(fwB) = %+v, %v; want its SBOM at %d", got, ok, sboms[1])
	}

	// (b) An audit cancelled after its first entry bundle goes on from
	// there, and ends where an uninterrupted audit does.
	dirB := t.TempDir()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var first client.AuditProgress
	cfg := l.config(dirB)
	cfg.Progress = func(p client.AuditProgress) {
		if first.Done == 0 {
			first = p
		}
		cancel()
	}
	if _, err := client.Audit(cctx, cfg, cp1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Audit = %v, want context.Canceled", err)
	}
	if first.Done == 0 || first.Done >= cp1.Size || first.Total != cp1.Size || first.Bytes == 0 {
		t.Fatalf("first progress %+v; want part of %d entries done", first, cp1.Size)
	}
	rb := l.audit(dirB, cp1)
	if rb.New != cp1.Size-first.Done || rb.Entries != cp1.Size {
		t.Errorf("resumed audit read %d entries, audited %d; want %d, %d", rb.New, rb.Entries, cp1.Size-first.Done, cp1.Size)
	}
	rb.New = r.New
	if a, b := mustJSON(t, r), mustJSON(t, rb); !bytes.Equal(a, b) {
		t.Errorf("resumed report %s\nuninterrupted %s", b, a)
	}
	if a, b := readFile(t, dirA, "audit.json"), readFile(t, dirB, "audit.json"); !bytes.Equal(a, b) {
		t.Errorf("the resumed audit persisted another state than the uninterrupted one")
	}

	// (c) The log grows: a later audit reads only the new entries.
	l.enroll(12, acmeGTIN, "N", l.acme, fwB)
	l.attest(l.devs[1:]...)
	cp2 := l.checkpoint()
	r2 := l.audit(dirA, cp2)
	if r2.New != cp2.Size-cp1.Size || r2.Entries != cp2.Size || len(r2.Anomalies) != 0 || r2.Devices != 60 {
		t.Errorf("incremental audit: new %d entries %d anomalies %d devices %d; want %d %d 0 60", r2.New, r2.Entries, len(r2.Anomalies), r2.Devices, cp2.Size-cp1.Size, cp2.Size)
	}
	if got, ok := r2.Device(l.devs[7].udi); !ok || got.Seq != 5 || got.Latest == nil || *got.Latest != l.devs[7].last {
		t.Errorf("Device after growth = %+v, want seq 5 at %d", got, l.devs[7].last)
	}
	if _, err := client.Audit(ctx, l.config(dirA), cp1); err == nil || !strings.Contains(err.Error(), "smaller size") {
		t.Errorf("Audit with an older checkpoint = %v, want a refusal", err)
	}

	// (d) A dishonest log. Through the personality, which records chain and
	// firmware problems rather than refusing them: a gap, a break, a clone's
	// attestation and one going back, revoked and unknown firmware.
	fwD, fwX := strings.Repeat("d4", 32), strings.Repeat("e5", 32)
	gap, brk, clone, old, unknown := l.devs[1], l.devs[2], l.devs[3], l.devs[4], l.devs[5]
	l.submit(l.sbom(fwD, l.acme))
	revFW := l.submit(l.revoke(client.RevocationTarget{Type: client.TargetFirmware, ID: fwD}, l.acme))[0]
	bad := l.submit(
		l.attestEnv(gap, gap.seq+1, strings.Repeat("0f", 32), gap.firmware, ""),
		l.attestEnv(brk, brk.seq, strings.Repeat("ee", 32), brk.firmware, ""),
		l.attestEnv(clone, clone.seq-1, strings.Repeat("66", 32), clone.firmware, strings.Repeat("99", 32)),
		l.attestEnv(old, old.seq, old.prev, fwD, ""),
		l.attestEnv(unknown, unknown.seq, unknown.prev, fwX, ""),
	)
	back := l.submit(l.attestEnv(clone, 2, strings.Repeat("77", 32), clone.firmware, ""))[0]
	// Behind the personality's back: an attestation by a key no enrollment
	// names, and a device's key enrolled again under another UDI.
	stranger := &auditDevice{device: newDevice(t, acmeGTIN, "Z01")}
	twice := l.devs[6]
	raw := l.appendRaw(
		l.attestEnv(stranger, 0, "", fwA, ""),
		l.enrollEnv(&device{key: twice.key, udi: udi(acmeGTIN, "Z02")}, l.acme),
	)
	cp3 := l.checkpoint()
	wantAnomalies := []anomalyView{
		{client.AnomalyChainGap, bad[0], ptr(gap.last), gap.udi, "", ptr(gap.seq), ptr(gap.seq + 1)},
		{client.AnomalyChainBreak, bad[1], ptr(brk.last), brk.udi, "", ptr(brk.seq), ptr(brk.seq)},
		{client.AnomalyChainFork, bad[2], ptr(clone.last), clone.udi, "", ptr(clone.seq), ptr(clone.seq - 1)},
		{client.AnomalyRevokedFirmware, bad[3], ptr(revFW), old.udi, "", nil, nil},
		{client.AnomalyUnknownFirmware, bad[4], nil, unknown.udi, "", nil, nil},
		{client.AnomalyChainFork, back, ptr(clone.last), clone.udi, "", ptr(clone.seq), ptr(2)},
		{client.AnomalyNotEnrolled, raw[0], nil, stranger.udi, "", nil, nil},
		{client.AnomalyKeyTwoUDIs, raw[1], ptr(twice.enrollment), udi(acmeGTIN, "Z02"), twice.udi, nil, nil},
	}
	slices.SortStableFunc(wantAnomalies, func(a, b anomalyView) int { return cmp.Compare(a.Index, b.Index) })
	r3 := l.audit(dirA, cp3)
	if diff := gocmp.Diff(wantAnomalies, views(r3.Anomalies)); diff != "" {
		t.Errorf("dishonest log anomalies (-want +got):\n%s", diff)
	}
	if r3.New != cp3.Size-cp2.Size {
		t.Errorf("audit of the dishonest log read %d entries, want %d", r3.New, cp3.Size-cp2.Size)
	}
	fresh := l.audit(t.TempDir(), cp3)
	if diff := gocmp.Diff(r3.Anomalies, fresh.Anomalies); diff != "" {
		t.Errorf("incremental and fresh audits disagree (-incremental +fresh):\n%s", diff)
	}
	if got, ok := r3.Device(clone.udi); !ok || got.Latest == nil || *got.Latest != clone.last || got.Attestations != 8 {
		t.Errorf("Device(clone) = %+v; want its chain still at %d, 8 attestations", got, clone.last)
	}
	var text strings.Builder
	if err := r3.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, line := range strings.Split(text.String(), "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			lines[f[0]+" "+f[1]] = true
		}
	}
	for _, a := range wantAnomalies {
		if !lines[fmt.Sprintf("%d %s", a.Index, a.Code)] {
			t.Errorf("text report lacks %d %s:\n%s", a.Index, a.Code, text.String())
		}
	}

	// (e) Files of the log corrupted on disk: the audit names the file and
	// the entry.
	tree := l.treeDir()
	for _, tc := range []struct {
		name  string
		file  string
		entry uint64 // the entry whose bytes are flipped
		is    error
	}{
		{"entry bundle", "tile/entries/000", 7, client.ErrRootMismatch},
		{"hash tile", "tile/0/000", 5, client.ErrBadTiles},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(tree, filepath.FromSlash(tc.file))
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := os.WriteFile(path, orig, 0o644); err != nil {
					t.Error(err)
				}
			})
			b := bytes.Clone(orig)
			off := int(tc.entry)*sha256.Size + 3
			if tc.is == client.ErrRootMismatch {
				off = entryOffset(t, b, tc.entry) + 20
			}
			b[off] ^= 0x40
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err = client.Audit(ctx, l.config(dir), cp3)
			var te *client.TileError
			if !errors.As(err, &te) || te.Path != tc.file || te.Index != tc.entry || !errors.Is(err, tc.is) {
				t.Fatalf("Audit over a corrupted %s = %v; want a TileError at %s, entry %d, wrapping %v", tc.name, err, tc.file, tc.entry, tc.is)
			}
			if _, err := os.Stat(filepath.Join(dir, "progress.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("progress from a log whose data failed was kept: %v", err)
			}
		})
	}
}

// entryOffset returns the offset of entry i's data in an entry bundle.
func entryOffset(t *testing.T, bundle []byte, i uint64) int {
	t.Helper()
	off := 0
	for range i {
		if off+2 > len(bundle) {
			t.Fatal("entry bundle too short")
		}
		off += 2 + int(binary.BigEndian.Uint16(bundle[off:]))
	}
	return off + 2
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditStanding checks what an audit says of single entries, as vigil
// verify --log reports it: revocations before and after an entry, an entry
// the log should have refused (appended behind the personality's back), and
// an audit too short, or of another log, to answer.
func TestAuditStanding(t *testing.T) {
	l := newAuditLog(t)
	fw := strings.Repeat("a1", 32)
	l.submit(l.sbom(fw, l.acme))
	l.enroll(2, acmeGTIN, "S", l.acme, fw)
	d, other := l.devs[0], l.devs[1]
	first := l.attestEnv(d, 0, "", fw, "")
	firstIdx := l.submit(first)[0]
	d.advance(t, first, firstIdx)
	rev := l.submit(l.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: d.key.Public().ID()}, l.acme))[0]
	revFW := l.submit(l.revoke(client.RevocationTarget{Type: client.TargetFirmware, ID: fw}, l.acme))[0]
	late := l.attestEnv(d, d.seq, d.prev, fw, "")
	lateIdx := l.appendRaw(late)[0]
	otherEnv := l.attestEnv(other, 0, "", fw, "")
	otherIdx := l.submit(otherEnv)[0]
	cp := l.checkpoint()
	r := l.audit(t.TempDir(), cp)

	verified := func(env []byte, idx uint64, dev *auditDevice, cp *flog.Checkpoint) *client.Verified {
		t.Helper()
		e, err := client.ParseEntry(env)
		if err != nil {
			t.Fatal(err)
		}
		enr, err := client.ParseEntry(l.enrollEnv(dev.device, dev.mfr))
		if err != nil {
			t.Fatal(err)
		}
		return &client.Verified{Index: idx, Checkpoint: cp, Entry: e, Enrollment: &client.Verified{Index: dev.enrollment, Entry: enr}}
	}
	keyRev := client.RevocationNote{Target: "device key", ID: d.key.Public().ID(), Index: rev}
	fwRev := client.RevocationNote{Target: "firmware", ID: fw, Index: revFW}
	for _, tc := range []struct {
		name    string
		v       *client.Verified
		refused bool
		codes   []string
		revs    []client.RevocationNote
	}{
		{"before its key's revocation", verified(first, firstIdx, d, cp), false, nil, []client.RevocationNote{keyRev, fwRev}},
		{"signed by a revoked key", verified(late, lateIdx, d, cp), true, []string{client.AnomalyRevoked}, []client.RevocationNote{keyRev, fwRev}},
		{"reporting revoked firmware", verified(otherEnv, otherIdx, other, cp), false, []string{client.AnomalyRevokedFirmware}, []client.RevocationNote{fwRev}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := r.Standing(tc.v)
			if err != nil {
				t.Fatalf("Standing = %v", err)
			}
			var codes []string
			for _, an := range st.Anomalies {
				if an.Index != tc.v.Index {
					t.Errorf("anomaly %+v is not at index %d", an, tc.v.Index)
				}
				codes = append(codes, an.Code)
			}
			if st.Refused() != tc.refused || !slices.Equal(codes, tc.codes) || st.Audited != cp.Size {
				t.Errorf("Standing = refused %v, anomalies %v, audited %d; want %v, %v, %d", st.Refused(), codes, st.Audited, tc.refused, tc.codes, cp.Size)
			}
			if diff := gocmp.Diff(tc.revs, st.Revocations); diff != "" {
				t.Errorf("revocations (-want +got):\n%s", diff)
			}
		})
	}
	ahead := *cp
	ahead.Size++
	if _, err := r.Standing(verified(first, firstIdx, d, &ahead)); err == nil || !strings.Contains(err.Error(), "short of") {
		t.Errorf("Standing beyond the audit = %v, want a refusal", err)
	}
	elsewhere := *cp
	elsewhere.Origin = "other.example/log"
	if _, err := r.Standing(verified(first, firstIdx, d, &elsewhere)); err == nil {
		t.Error("Standing of another log's entry: no error")
	}
}
