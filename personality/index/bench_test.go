package index

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-log/vigil/client"
)

// The size of the fleet the benchmarks index, and the backends they run
// on. The default keeps make bench short; the figure is taken with
//
//	go test ./personality/index -run '^$' -bench . -benchtime 20x -count 5 \
//	    -args -index.devices 50000 -index.attestations 19
//
// on SQLite and MySQL side by side (the MySQL backend on the MariaDB
// server of log/mysqltest); -index.backend sqlite runs one. The spanner
// backend, on log/gcptest's Cloud Spanner emulator, is left out of the
// default: the emulator indexes a few dozen entries a second, slower as the
// index grows (the default fleet would take hours), so it takes a small
// fleet, such as -index.devices 100 -index.attestations 5, and its figures
// say nothing of Spanner's.
var (
	benchDevices      = flag.Int("index.devices", 5000, "devices in the benchmark fleet")
	benchAttestations = flag.Int("index.attestations", 19, "attestations per device in the benchmark fleet")
	benchBackends     = flag.String("index.backend", "sqlite,mysql", "comma-separated backends the benchmarks run on: sqlite, mysql, spanner")
)

// unsigned wraps a statement in an envelope with a placeholder signature:
// the index takes signatures as checked (Audit checks them), so the
// benchmark need not pay for a million signatures.
func unsigned(tb testing.TB, st *client.Statement, keyID string) *client.Entry {
	tb.Helper()
	payload, err := json.Marshal(st)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := client.NewEntry(&client.Envelope{PayloadType: client.PayloadTypeInToto, Payload: payload, Signatures: []client.Signature{{KeyID: keyID, Sig: []byte{1}}}})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// batch adds facts to an index in batches, as an audit does.
type batch struct {
	tb    testing.TB
	x     *Index
	facts []client.Fact
	size  uint64 // the index of the next entry
	// until, if not 0, ends the log the index is given: later entries are
	// dropped, and the index is committed up to until at most.
	until uint64
	// log, if set, receives each entry, in order, as a log would.
	log func(e *client.Entry)
}

// add appends the next entry's fact, adding the batch to the index when it
// is full.
func (l *batch) add(f client.Fact) {
	l.tb.Helper()
	f.Index = l.size
	l.size++
	if l.until != 0 && f.Index >= l.until {
		return
	}
	if l.log != nil && f.Entry != nil {
		l.log(f.Entry)
	}
	l.facts = append(l.facts, f)
	if len(l.facts) >= 4096 {
		l.flush()
	}
}

// flush adds the facts not yet added.
func (l *batch) flush() {
	l.tb.Helper()
	if len(l.facts) == 0 {
		return
	}
	if err := l.x.Add(context.Background(), l.facts); err != nil {
		l.tb.Fatal(err)
	}
	l.facts = l.facts[:0]
}

// commit adds the facts not yet added and commits the index's size.
func (l *batch) commit() {
	l.tb.Helper()
	l.flush()
	size := l.size
	if l.until != 0 {
		size = min(size, l.until)
	}
	if err := l.x.Commit(context.Background(), size); err != nil {
		l.tb.Fatal(err)
	}
}

// fleet is a synthetic fleet's log: 4 models, 6 firmware builds a model
// whose SBOMs list 12 components (openssl at a version that differs by
// build), devices attesting daily, a third of them updating half-way.
type fleet struct {
	log    *batch
	models []fleetModel
	devs   []fleetDevice
	rounds int // the days of attestations planned, for the update half-way
	rand   *rand.Rand
}

type fleetModel struct {
	gtin, name string
	builds     []client.Firmware
}

type fleetDevice struct {
	udi, keyID string
	m          int
	seq        uint64 // the next head attestation's
	prev       string // the payload digest of the last head attestation
	headPrev   string // the prev of the last head attestation
}

// fleetStart is the day the fleet's attestations start.
var fleetStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newFleet logs the SBOMs of the fleet's builds and the enrollments of its
// devices, which will attest for rounds days.
func newFleet(l *batch, devices, rounds int) *fleet {
	tb := l.tb
	tb.Helper()
	f := &fleet{log: l, rounds: rounds, rand: rand.New(rand.NewPCG(1, 2))}
	for _, m := range []struct{ digits, name string }{{"0061414100003", "IP-300"}, {"0061414100004", "IP-500"}, {"0085000100001", "GM-2"}, {"0085000100002", "CT-64"}} {
		g, err := client.CompleteGTIN(m.digits)
		if err != nil {
			tb.Fatal(err)
		}
		f.models = append(f.models, fleetModel{gtin: g, name: m.name})
	}
	for mi := range f.models {
		for v := range 6 {
			fw := client.Firmware{Version: fmt.Sprintf("%d.%d.0", mi+1, v), Digest: digestOf(fmt.Sprintf("fw %d %d", mi, v))}
			f.models[mi].builds = append(f.models[mi].builds, fw)
			comps := []map[string]string{{"type": "library", "name": "openssl", "version": fmt.Sprintf("3.0.%d", 7+v), "purl": fmt.Sprintf("pkg:generic/openssl@3.0.%d", 7+v)}}
			for c := range 11 {
				comps = append(comps, map[string]string{"type": "library", "name": fmt.Sprintf("lib%d", c), "version": "1.0", "purl": fmt.Sprintf("pkg:generic/lib%d@1.0", c)})
			}
			f.sbom(f.models[mi].name, fw, comps)
		}
	}
	for i := range devices {
		m := i % len(f.models)
		f.enroll(fmt.Sprintf("(01)%s(21)SIM%07d", f.models[m].gtin, i), m)
	}
	return f
}

// manufacturerPub is the key that signs the fleet's SBOMs and enrollments
// (fleetRoots trusts it), and manufacturerKey its ID.
var (
	manufacturerPub = func() *client.PublicKey {
		seed := sha256.Sum256([]byte("manufacturer key"))
		pk, err := client.NewPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public())
		if err != nil {
			panic(err)
		}
		return pk
	}()
	manufacturerKey = manufacturerPub.ID()
)

// sbom logs an SBOM of a build of a model with the given CycloneDX
// components.
func (f *fleet) sbom(model string, fw client.Firmware, comps []map[string]string) {
	f.log.tb.Helper()
	doc, _ := json.Marshal(map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
		"metadata": map[string]any{"component": map[string]string{"type": "firmware", "name": model, "version": fw.Version}}, "components": comps})
	f.log.add(client.Fact{Entry: unsigned(f.log.tb, client.NewSBOMStatement(client.PredicateCycloneDX, doc, model+".bin", fw.Digest), manufacturerKey), Accepted: true, Manufacturer: "Acme"})
}

// enroll logs the enrollment of a device of model m, with a key derived
// from its number.
func (f *fleet) enroll(udi string, m int) {
	tb := f.log.tb
	tb.Helper()
	var seed [32]byte
	binaryPut(seed[:], len(f.devs))
	pk, err := client.NewPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public())
	if err != nil {
		tb.Fatal(err)
	}
	st, err := client.NewStatement(client.PredicateEnrollment, &client.Enrollment{UDI: udi, DeviceKey: string(pk.PEM()), Model: f.models[m].name,
		Binding: client.Binding{Type: "puf", Evidence: base64.StdEncoding.EncodeToString([]byte("x"))}, ProofOfPossession: base64.StdEncoding.EncodeToString([]byte("x"))})
	if err != nil {
		tb.Fatal(err)
	}
	f.devs = append(f.devs, fleetDevice{udi: udi, keyID: pk.ID(), m: m})
	f.log.add(client.Fact{Entry: unsigned(tb, st, manufacturerKey), Accepted: true, Manufacturer: "Acme"})
}

// attest logs an attestation of device i at a time on day, with build v of
// its model. A head attestation advances the device's chain; another is a
// fork of the chain's last one, with the same seq.
func (f *fleet) attest(i, day, v int, head bool) {
	tb := f.log.tb
	tb.Helper()
	d := &f.devs[i]
	seq, prev := d.seq, d.prev
	if !head {
		if seq == 0 {
			tb.Fatalf("a fork of device %d, which has not attested", i)
		}
		seq, prev = seq-1, d.headPrev // a fork of the last attestation: a clone's, say
	}
	st, err := client.NewStatement(client.PredicateAttestation, &client.Attestation{UDI: d.udi, Seq: seq, Prev: prev,
		Time: fleetStart.Add(time.Duration(day)*24*time.Hour + time.Duration(i)*time.Second), Firmware: f.models[d.m].builds[v],
		ConfigDigest: digestOf("config"), Verdict: "pass"})
	if err != nil {
		tb.Fatal(err)
	}
	e := unsigned(tb, st, d.keyID)
	if head {
		d.seq, d.prev, d.headPrev = seq+1, e.PayloadDigest(), prev
	}
	f.log.add(client.Fact{Entry: e, Accepted: true, Manufacturer: "Acme", Head: head})
}

// day logs the daily attestation of every device: a random one of its
// model's first three builds, or for a third of them, from half-way, the
// last.
func (f *fleet) day(day int) {
	for i := range f.devs {
		v := f.rand.IntN(3)
		if i%3 == 0 && day >= f.rounds/2 {
			v = 5
		}
		f.attest(i, day, v, true)
	}
}

// fleetIndex is an index of the synthetic fleet.
type fleetIndex struct {
	x       *Index
	entries uint64
	devices int
}

// buildFleet indexes the synthetic fleet on a backend, in a database that
// lasts as long as b.
func buildFleet(b *testing.B, be backend) *fleetIndex {
	start := time.Now()
	x := be.open(b)
	l := &batch{tb: b, x: x}
	f := newFleet(l, *benchDevices, *benchAttestations)
	for day := range *benchAttestations {
		f.day(day)
	}
	l.commit()
	b.Logf("indexed %d entries of %d devices in %s", l.size, len(f.devs), time.Since(start).Round(time.Millisecond))
	return &fleetIndex{x: x, entries: l.size, devices: len(f.devs)}
}

func binaryPut(b []byte, i int) {
	for k := range 8 {
		b[k] = byte(i >> (8 * k))
	}
}

// BenchmarkQueries runs the query benchmarks on a fleet built once for
// each backend -index.backend names, which the sub-benchmarks of all
// -count runs share.
func BenchmarkQueries(b *testing.B) {
	for name := range strings.SplitSeq(*benchBackends, ",") {
		i := slices.IndexFunc(backends, func(be backend) bool { return be.name == name })
		if i < 0 {
			b.Fatalf("-index.backend: no backend %q", name)
		}
		b.Run(name, func(b *testing.B) {
			f := buildFleet(b, backends[i])
			b.Run("impact", func(b *testing.B) { benchImpact(b, f) })
			b.Run("device", func(b *testing.B) { benchDevice(b, f) })
		})
	}
}

// benchImpact is the server's impact query over the fleet: the builds
// with openssl 3.0.7 to 3.0.8 (two of six builds a model), the devices whose
// latest attestation reports one, and those of the models not heard from
// since a date. The bar: under 100 ms for 50,000 devices and
// 1,000,000 entries (-args -index.devices 50000).
func benchImpact(b *testing.B, f *fleetIndex) {
	ctx := context.Background()
	since := fleetStart.Add(time.Duration(*benchAttestations-2) * 24 * time.Hour)
	adv, err := client.ParseOSV([]byte(`{"id": "BENCH-1", "affected": [{"package": {"purl": "pkg:generic/openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.9"}]}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		q    ImpactQuery
	}{
		// One page holds the whole answer: the figure is for all of it.
		{"purl", ImpactQuery{PURL: "pkg:generic/openssl@3.0.7", Since: &since, Page: Page{Limit: MaxLimit}}},
		{"osv", ImpactQuery{Advisory: adv, Since: &since, Page: Page{Limit: MaxLimit}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var n int
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				im, err := f.x.Impact(ctx, tc.q)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				n = len(im.Affected) + len(im.Unknown)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(n), "devices")
			b.ReportMetric(float64(f.entries), "entries")
		})
	}
}

// benchDevice is a device query, for scale beside benchImpact.
func benchDevice(b *testing.B, f *fleetIndex) {
	ctx := context.Background()
	g, err := client.CompleteGTIN("0061414100003")
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := f.x.Device(ctx, fmt.Sprintf("(01)%s(21)SIM%07d", g, 4*(i%(f.devices/4)))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
