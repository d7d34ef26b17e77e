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
	"os"
	"sort"
	"testing"
	"time"

	"github.com/vigil-log/vigil/client"
)

// The size of the fleet the benchmarks index. The default keeps make bench
// short; the figure is taken with
//
//	go test ./personality/index -run '^$' -bench . -benchtime 20x -count 5 \
//	    -args -index.devices 50000 -index.attestations 19
var (
	benchDevices      = flag.Int("index.devices", 5000, "devices in the benchmark fleet")
	benchAttestations = flag.Int("index.attestations", 19, "attestations per device in the benchmark fleet")
)

// fleetIndex is an index of a synthetic fleet: 4 models of 2
// manufacturers, 6 firmware builds a model whose SBOMs list 12 components
// (openssl at a version that differs by build), devices attesting daily,
// a third of them updating half-way.
type fleetIndex struct {
	x       *Index
	dir     string
	entries uint64
	devices int
}

// benchFleet is built by the first benchmark that needs it and shared.
var benchFleet *fleetIndex

// TestMain removes the benchmarks' fleet index when the tests end.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchFleet != nil {
		benchFleet.x.Close()
		os.RemoveAll(benchFleet.dir)
	}
	os.Exit(code)
}

// unsigned wraps a statement in an envelope with a placeholder signature:
// the index takes signatures as checked (Audit checks them), so the
// benchmark need not pay for a million signatures.
func unsigned(b testing.TB, st *client.Statement, keyID string) *client.Entry {
	payload, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	e, err := client.NewEntry(&client.Envelope{PayloadType: client.PayloadTypeInToto, Payload: payload, Signatures: []client.Signature{{KeyID: keyID, Sig: []byte{1}}}})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// buildFleet indexes the synthetic fleet once per process.
func buildFleet(b *testing.B) *fleetIndex {
	if benchFleet != nil {
		return benchFleet
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "vigil-index-bench")
	if err != nil {
		b.Fatal(err)
	}
	x, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	mkey := digestOf("manufacturer key")
	var facts []client.Fact
	idx := uint64(0)
	flush := func(force bool) {
		if len(facts) >= 4096 || force && len(facts) > 0 {
			if err := x.Add(ctx, facts); err != nil {
				b.Fatal(err)
			}
			facts = facts[:0]
		}
	}
	add := func(e *client.Entry, m string, head bool) {
		facts = append(facts, client.Fact{Index: idx, Entry: e, Accepted: true, Manufacturer: m, Head: head})
		idx++
		flush(false)
	}
	type model struct {
		gtin, name string
		builds     []client.Firmware
	}
	var models []model
	for _, m := range []struct{ digits, name string }{{"0061414100003", "IP-300"}, {"0061414100004", "IP-500"}, {"0085000100001", "GM-2"}, {"0085000100002", "CT-64"}} {
		g, err := client.CompleteGTIN(m.digits)
		if err != nil {
			b.Fatal(err)
		}
		models = append(models, model{gtin: g, name: m.name})
	}
	for mi := range models {
		for v := range 6 {
			fw := client.Firmware{Version: fmt.Sprintf("%d.%d.0", mi+1, v), Digest: digestOf(fmt.Sprintf("fw %d %d", mi, v))}
			models[mi].builds = append(models[mi].builds, fw)
			comps := []map[string]string{{"type": "library", "name": "openssl", "version": fmt.Sprintf("3.0.%d", 7+v), "purl": fmt.Sprintf("pkg:generic/openssl@3.0.%d", 7+v)}}
			for c := range 11 {
				comps = append(comps, map[string]string{"type": "library", "name": fmt.Sprintf("lib%d", c), "version": "1.0", "purl": fmt.Sprintf("pkg:generic/lib%d@1.0", c)})
			}
			doc, _ := json.Marshal(map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
				"metadata": map[string]any{"component": map[string]string{"type": "firmware", "name": models[mi].name, "version": fw.Version}}, "components": comps})
			add(unsigned(b, client.NewSBOMStatement(client.PredicateCycloneDX, doc, models[mi].name+".bin", fw.Digest), mkey), "Acme", false)
		}
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seed := [32]byte{}
	type dev struct {
		udi, keyID string
		m          int
		prev       string
	}
	devs := make([]dev, *benchDevices)
	for i := range devs {
		binaryPut(seed[:], i)
		pub := ed25519.NewKeyFromSeed(seed[:]).Public()
		pk, err := client.NewPublicKey(pub)
		if err != nil {
			b.Fatal(err)
		}
		m := i % len(models)
		u := fmt.Sprintf("(01)%s(21)SIM%07d", models[m].gtin, i)
		devs[i] = dev{udi: u, keyID: pk.ID(), m: m}
		st, err := client.NewStatement(client.PredicateEnrollment, &client.Enrollment{UDI: u, DeviceKey: string(pk.PEM()), Model: models[m].name,
			Binding: client.Binding{Type: "puf", Evidence: base64.StdEncoding.EncodeToString([]byte("x"))}, ProofOfPossession: base64.StdEncoding.EncodeToString([]byte("x"))})
		if err != nil {
			b.Fatal(err)
		}
		add(unsigned(b, st, mkey), "Acme", false)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for seq := range *benchAttestations {
		for i := range devs {
			d := &devs[i]
			v := r.IntN(3)
			if i%3 == 0 && seq >= *benchAttestations/2 {
				v = 5
			}
			st, err := client.NewStatement(client.PredicateAttestation, &client.Attestation{UDI: d.udi, Seq: uint64(seq), Prev: d.prev,
				Time: base.Add(time.Duration(seq)*24*time.Hour + time.Duration(i)*time.Second), Firmware: models[d.m].builds[v],
				ConfigDigest: digestOf("config"), Verdict: "pass"})
			if err != nil {
				b.Fatal(err)
			}
			e := unsigned(b, st, d.keyID)
			d.prev = e.PayloadDigest()
			add(e, "Acme", true)
		}
	}
	flush(true)
	if err := x.Commit(ctx, idx); err != nil {
		b.Fatal(err)
	}
	benchFleet = &fleetIndex{x: x, dir: dir, entries: idx, devices: len(devs)}
	b.Logf("indexed %d entries of %d devices in %s", idx, len(devs), time.Since(start).Round(time.Millisecond))
	return benchFleet
}

func binaryPut(b []byte, i int) {
	for k := range 8 {
		b[k] = byte(i >> (8 * k))
	}
}

// BenchmarkImpact is the server's impact query over the fleet: the builds
// with openssl 3.0.7 to 3.0.8 (two of six builds a model), the devices whose
// latest attestation reports one, and those of the models not heard from
// since a date. The bar: under 100 ms for 50,000 devices and
// 1,000,000 entries (-args -index.devices 50000).
func BenchmarkImpact(b *testing.B) {
	f := buildFleet(b)
	ctx := context.Background()
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(*benchAttestations-2) * 24 * time.Hour)
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

// BenchmarkDevice is a device query, for scale beside BenchmarkImpact.
func BenchmarkDevice(b *testing.B) {
	f := buildFleet(b)
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
