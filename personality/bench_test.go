package personality

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/tessera"
	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/logtest"
	"github.com/vigil-log/vigil/witness"
	"golang.org/x/mod/sumdb/note"
)

// benchBackends are the storages the benchmarks compare vigil with raw
// Tessera on: a POSIX tree in a temporary directory, a fresh database on
// log/mysqltest's MariaDB server, and a fresh database and bucket on
// log/gcptest's Spanner emulator and GCS fake.
var benchBackends = []string{"posix", "mysql", "gcp"}

// benchLog opens a log with vigild's default options for the backend, in a
// temporary directory or database, so the raw and the validated runs use
// the same storage, settings and disk. With witnesses > 0 it also starts
// that many witnesses (the witness package behind HTTP servers on
// 127.0.0.1) and requires a quorum of all but one. It returns the log, its
// storage, and the function that closes the log, which the benchmark's
// cleanup calls too: a raw log closed once its run ends leaves the vigil
// run the machine to itself.
func benchLog(b *testing.B, backend string, witnesses int) (*vlog.Log, vlog.Storage, func()) {
	b.Helper()
	const origin = "bench.vigil.local/log"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	var policy strings.Builder
	for i := range witnesses {
		wskey, wvkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("w%d.bench.local", i))
		if err != nil {
			b.Fatal(err)
		}
		signer, err := fnote.NewSignerForCosignatureV1(wskey)
		if err != nil {
			b.Fatal(err)
		}
		cvkey, err := fnote.VKeyToCosignatureV1(wvkey)
		if err != nil {
			b.Fatal(err)
		}
		w, err := witness.New(witness.Config{Signer: signer, StateDir: b.TempDir(),
			Logs: []witness.LogConfig{{Origin: origin, Verifier: v, QPD: 86400, Contact: "bench"}}})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(w.Handler())
		b.Cleanup(func() { srv.Close(); w.Close() })
		fmt.Fprintf(&policy, "witness w%d %s %s/\n", i, cvkey, srv.URL)
	}
	if witnesses > 0 {
		fmt.Fprintf(&policy, "group q %d", max(witnesses-1, 1))
		for i := range witnesses {
			fmt.Fprintf(&policy, " w%d", i)
		}
		policy.WriteString("\nquorum q\n")
	}
	st := map[string]logtest.Backend{"posix": logtest.POSIX, "mysql": logtest.MySQL, "gcp": logtest.GCP}[backend](b)
	// vigild's defaults: 250 ms checkpoints, or the driver's floor.
	interval := max(250*time.Millisecond, vlog.MinCheckpointInterval(st))
	l, err := vlog.Create(context.Background(), vlog.Config{
		Storage: st, Signer: s, Verifier: v,
		Options:       tessera.NewAppendOptions().WithCheckpointInterval(interval).WithBatching(1024, 50*time.Millisecond),
		WitnessPolicy: []byte(policy.String()),
	})
	if err != nil {
		b.Fatal(err)
	}
	closeLog := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			b.Errorf("closing the %s log: %v", backend, err)
		}
	})
	b.Cleanup(closeLog)
	return l, st, closeLog
}

// benchServer serves a personality over a fresh benchLog on 127.0.0.1, as
// vigild runs it on the backend: on a shared one with its blobs there and
// admission coordinated through it.
func benchServer(b *testing.B, backend string, witnesses int, roots *client.TrustRoots) *httptest.Server {
	b.Helper()
	ctx := context.Background()
	l, st, _ := benchLog(b, backend, witnesses)
	// Failures go to stderr (make bench's bench.log), beside Tessera's. A
	// receipt is waited for as long as the raw handler waits, so that a
	// slow one is measured, not answered 202 (which fails the run).
	cfg := Config{Log: l, Roots: roots, WaitTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	cfg.Blobs, cfg.Admission = frontendOf(b, st)
	p, err := New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return httptest.NewServer(p.Handler())
}

// benchWorkload is pre-signed submissions: enrollments of a fleet, then
// attestations from it (the bulk of a real log's traffic), as envelopes and
// as the leaves vigil would make of them.
type benchWorkload struct {
	roots       *client.TrustRoots
	enrollments [][]byte
	envelopes   [][]byte // attestations for the throughput runs
	leaves      [][]byte // their leaves, for the raw run
	receipts    [][]byte // more attestations, for the peak rate of receipts
	latency     [][]byte // and more, for the latency run
	rawLatency  [][]byte // their leaves, for raw Tessera's latency run
}

func newBenchWorkload(b *testing.B, devices, perDevice, receiptsPerDevice, latencyPerDevice int) *benchWorkload {
	b.Helper()
	mk, err := client.GenerateKey(client.AlgEd25519)
	if err != nil {
		b.Fatal(err)
	}
	rj, _ := json.Marshal(map[string]any{"manufacturers": []any{map[string]any{"name": "Bench", "udiPrefixes": []string{"gs1:0614141"}, "keys": []string{string(mk.Public().PEM())}}}})
	w := &benchWorkload{}
	if w.roots, err = client.ParseTrustRoots(rj); err != nil {
		b.Fatal(err)
	}
	for i := range devices {
		d := newDevice(b, acmeGTIN, fmt.Sprintf("BENCH%06d", i))
		w.enrollments = append(w.enrollments, rawStatement(b, newStatement(b, client.PredicateEnrollment, enrollment(b, d, mk)), mk))
		prev := ""
		for seq := range perDevice + receiptsPerDevice + latencyPerDevice {
			a := attestation(d, uint64(seq), prev)
			env := rawStatement(b, newStatement(b, client.PredicateAttestation, a), d.key)
			e, err := client.ParseEntry(env)
			if err != nil {
				b.Fatal(err)
			}
			prev = e.PayloadDigest()
			leaf, err := e.Leaf().Marshal()
			if err != nil {
				b.Fatal(err)
			}
			switch {
			case seq >= perDevice+receiptsPerDevice:
				w.latency, w.rawLatency = append(w.latency, env), append(w.rawLatency, leaf)
			case seq >= perDevice:
				w.receipts = append(w.receipts, env)
			default:
				w.envelopes, w.leaves = append(w.envelopes, env), append(w.leaves, leaf)
			}
		}
	}
	return w
}

// rawHandler is the baseline: the same HTTP path, appending the body to
// Tessera as-is, with no parsing or checks. With ?wait=false it answers
// 202 with the index once sequenced, as vigil does; without, 201 once a
// published (witnessed, with a policy) checkpoint covers the entry and its
// inclusion proof is built and checked, as vigil's receipt.
func rawHandler(l *vlog.Log) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/entries", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		idx, _, err := l.Sequence(r.Context(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if r.URL.Query().Get("wait") == "false" {
			writeJSON(w, http.StatusAccepted, Accepted{Index: idx})
			return
		}
		rc, err := l.Prove(r.Context(), idx, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusCreated, rc)
	})
	return mux
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096}}

// post sends bodies from conc workers as fast as the server answers and
// returns the rate and the number of pushbacks. Pushback (503) is retried
// after a short pause, as a real client would; any other non-2xx answer
// fails the benchmark.
func post(b *testing.B, url string, bodies [][]byte, conc int) (rate float64, pushbacks int64) {
	b.Helper()
	var next, pushed atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				for {
					resp, err := benchClient.Post(url, "application/json", bytes.NewReader(bodies[i]))
					if err != nil {
						failed.Store(err.Error())
						return
					}
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable {
						pushed.Add(1)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					if resp.StatusCode/100 != 2 {
						failed.Store(fmt.Sprintf("%d %s", resp.StatusCode, msg))
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if f := failed.Load(); f != nil {
		b.Fatalf("submission failed: %v", f)
	}
	return float64(len(bodies)) / el.Seconds(), pushed.Load()
}

// sigChecks measures the rate of the signature checks the attestations need
// (one ECDSA P-256 verification over the DSSE PAE each), on every core.
func sigChecks(b *testing.B, envelopes [][]byte, keys map[string]*client.PublicKey) float64 {
	b.Helper()
	type job struct {
		k   *client.PublicKey
		pae []byte
		sig []byte
	}
	jobs := make([]job, len(envelopes))
	for i, raw := range envelopes {
		env, err := client.ParseEnvelope(raw)
		if err != nil {
			b.Fatal(err)
		}
		jobs[i] = job{keys[env.Signatures[0].KeyID], env.PAE(), env.Signatures[0].Sig}
	}
	var next atomic.Int64
	var bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				if !jobs[i].k.Verify(jobs[i].pae, jobs[i].sig) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if bad.Load() != 0 {
		b.Fatalf("%d signatures did not verify", bad.Load())
	}
	return float64(len(jobs)) / el.Seconds()
}

// latencies submits bodies open-loop at rate per second, waiting for each
// evidence bundle, and returns the sorted submit-to-receipt latencies and
// how many submissions were answered with pushback. A pushed-back
// submission is sent again after its Retry-After, as a client would, and
// its latency runs from the first try.
func latencies(b *testing.B, url string, bodies [][]byte, rate float64) ([]time.Duration, int64) {
	b.Helper()
	lat := make([]time.Duration, len(bodies))
	var wg sync.WaitGroup
	var failed atomic.Value
	var pushed atomic.Int64
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range bodies {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			for {
				resp, err := benchClient.Post(url, "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					failed.Store(err.Error())
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					pushed.Add(1)
					after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
					time.Sleep(time.Duration(max(after, 1)) * time.Second)
					continue
				}
				if resp.StatusCode != http.StatusCreated {
					failed.Store(fmt.Sprintf("status %d", resp.StatusCode))
				}
				break
			}
			lat[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		b.Fatalf("latency run: %v", f)
	}
	slices.Sort(lat)
	return lat, pushed.Load()
}

// reportLatency reports the median and 99th percentile of sorted
// latencies, their names prefixed.
func reportLatency(b *testing.B, prefix string, lat []time.Duration) {
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), prefix+"p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), prefix+"p99_ms")
}

// BenchmarkThroughput measures, side by side on the same disk:
//
//	raw_entries/s    raw Tessera appends of vigil's leaves through the same HTTP path
//	vigil_entries/s  vigil's validated submissions of the same attestations (?wait=false)
//	sigchecks/s      the machine's rate of the signature checks each entry needs
//	ratio            vigil_entries/s over the additive bound 1/(1/raw + 1/sigchecks)
//	receipts/s       vigil's peak rate of submissions answered with an evidence bundle
//	p50_ms, p99_ms   submit-to-receipt latency, open loop at half of receipts/s
//	raw_p50_ms, raw_p99_ms  raw Tessera's, at the same rate on a fresh log
//	*latency_pushbacks  submissions of those runs answered with pushback, and sent again
//
// The load comes from the same process over loopback, so client and server
// share the machine's cores, as they do for both the raw and vigil runs.
//
// Each iteration is one complete measurement; run it with -benchtime 1x in
// N processes and read the medians with benchstat (make bench does). One
// process a run, since on the Spanner emulator the runs after the first in
// a process ran slower and slower (deploy/README.md).
func BenchmarkThroughput(b *testing.B) {
	const devices, perDevice, receiptsPerDevice, latencyPerDevice = 500, 40, 16, 16
	w := newBenchWorkload(b, devices, perDevice, receiptsPerDevice, latencyPerDevice)
	for _, backend := range benchBackends {
		b.Run(backend, func(b *testing.B) { benchThroughput(b, backend, w) })
	}
}

func benchThroughput(b *testing.B, backend string, w *benchWorkload) {
	const conc = 512
	keys := map[string]*client.PublicKey{}
	for _, raw := range w.enrollments {
		e, err := client.ParseEntry(raw)
		if err != nil {
			b.Fatal(err)
		}
		keys[e.DeviceKey().ID()] = e.DeviceKey()
	}
	b.ResetTimer()
	for range b.N {
		// (a) raw Tessera.
		rawLog, _, closeRaw := benchLog(b, backend, 0)
		raw := httptest.NewServer(rawHandler(rawLog))
		a, pa := post(b, raw.URL+"/v1/entries?wait=false", w.leaves, conc)
		raw.Close()
		closeRaw()

		// (b) vigil, with the fleet enrolled first (not timed).
		srv := benchServer(b, backend, 0, w.roots)
		post(b, srv.URL+"/v1/entries?wait=false", w.enrollments, conc)
		v, pv := post(b, srv.URL+"/v1/entries?wait=false", w.envelopes, conc)

		// (c) the signature checks alone.
		c := sigChecks(b, w.envelopes, keys)

		// The peak rate of receipts, then latency at half of it, and raw
		// Tessera's at the same rate.
		r, _ := post(b, srv.URL+"/v1/entries", w.receipts, 4*conc)
		lat, lp := latencies(b, srv.URL+"/v1/entries", w.latency, r/2)
		srv.Close()
		rawLog, _, closeRaw = benchLog(b, backend, 0)
		raw = httptest.NewServer(rawHandler(rawLog))
		rawLat, rlp := latencies(b, raw.URL+"/v1/entries", w.rawLatency, r/2)
		raw.Close()
		closeRaw()

		b.ReportMetric(a, "raw_entries/s")
		b.ReportMetric(v, "vigil_entries/s")
		b.ReportMetric(c, "sigchecks/s")
		b.ReportMetric(v*(1/a+1/c), "ratio")
		b.ReportMetric(r, "receipts/s")
		b.ReportMetric(float64(pa), "raw_pushbacks")
		b.ReportMetric(float64(pv), "vigil_pushbacks")
		b.ReportMetric(float64(lp), "latency_pushbacks")
		b.ReportMetric(float64(rlp), "raw_latency_pushbacks")
		reportLatency(b, "", lat)
		reportLatency(b, "raw_", rawLat)
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWitnessedReceipts measures DESIGN's witnessed target (submit to
// witnessed evidence bundle, p50 <= 1.5 s and p99 <= 3 s with three
// witnesses at half of peak load) on one machine, per backend: three
// witnesses of the witness package behind HTTP servers on 127.0.0.1, a
// 2-of-3 policy,
//
//	raw_receipts/s         raw Tessera on the same backend: the peak rate of appends
//	                       answered once a witnessed checkpoint covers them, with the proof
//	raw_p50_ms, raw_p99_ms its latency, open loop at half of that rate
//	receipts/s             vigil's peak rate of submissions answered with a bundle
//	p50_ms, p99_ms         vigil's submit-to-witnessed-receipt latency, open loop at half of it
//	*latency_pushbacks     submissions of those runs answered with pushback, and sent again
//
// Run it as BenchmarkThroughput.
//
// On gcp the fleet is a fifth and each device sends half the receipts: at
// the full size (8,000 receipts, then 8,000 more open loop) a run on the
// Spanner emulator, which runs one read-write transaction at a time, did
// not end within ten minutes.
func BenchmarkWitnessedReceipts(b *testing.B) {
	for _, backend := range benchBackends {
		b.Run(backend, func(b *testing.B) {
			devices, perDevice := 500, 16
			if backend == "gcp" {
				devices, perDevice = 100, 8
			}
			benchWitnessedReceipts(b, backend, newBenchWorkload(b, devices, 0, perDevice, perDevice))
		})
	}
}

func benchWitnessedReceipts(b *testing.B, backend string, w *benchWorkload) {
	const conc = 2048
	b.ResetTimer()
	for range b.N {
		rawLog, _, closeRaw := benchLog(b, backend, 3)
		raw := httptest.NewServer(rawHandler(rawLog))
		rr, _ := post(b, raw.URL+"/v1/entries", w.receipts, conc)
		rawLat, rlp := latencies(b, raw.URL+"/v1/entries", w.latency, rr/2)
		raw.Close()
		closeRaw()

		srv := benchServer(b, backend, 3, w.roots)
		post(b, srv.URL+"/v1/entries", w.enrollments, 512)
		r, _ := post(b, srv.URL+"/v1/entries", w.receipts, conc)
		lat, lp := latencies(b, srv.URL+"/v1/entries", w.latency, r/2)
		srv.Close()
		b.ReportMetric(rr, "raw_receipts/s")
		reportLatency(b, "raw_", rawLat)
		b.ReportMetric(r, "receipts/s")
		reportLatency(b, "", lat)
		b.ReportMetric(float64(rlp), "raw_latency_pushbacks")
		b.ReportMetric(float64(lp), "latency_pushbacks")
	}
	b.ReportMetric(0, "ns/op")
}
