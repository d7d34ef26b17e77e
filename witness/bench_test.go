package witness

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchBatch is how many entries a log appends between two checkpoints: each
// request grows its log by one batch, so consistency proofs have the length
// they have for a log that integrates entries in batches.
const benchBatch = 16

// BenchmarkAddCheckpoint measures add-checkpoint requests of growing logs,
// end to end: a real Witness with its state directory in b.TempDir(), served
// by httptest on loopback, and HTTP clients sending requests built before the
// timer starts (consistency proofs from real Merkle trees, checkpoints signed
// by the logs' keys). Every request must be cosigned (200).
//
// The figures are disk-bound: every accepted request fsyncs a temporary file
// and the checkpoints directory before its cosignature leaves (see
// writeFileAtomic), so they measure the file system under b.TempDir() more
// than the witness's CPU work (parsing, one Ed25519 verification, one proof
// check, one Ed25519 signature). Run them on the disk the witness will use.
//
// logs=1 is one client sending its log's requests one after the other, as a
// log does: a log cannot send the next checkpoint before it knows the
// witness cosigned the previous one. logs=100 is one client per log, all at
// once, each log's requests in order: requests i, i+100, i+200, ... of the
// b.N go to log i, so the logs grow in round-robin and different logs, which
// do not share a lock, proceed in parallel.
//
// Besides ns/op it reports req/s (b.N over the wall time of the run) and
// the p50 and p99 of the latency of one request, in milliseconds.
func BenchmarkAddCheckpoint(b *testing.B) {
	for _, nlogs := range []int{1, 100} {
		b.Run(fmt.Sprintf("logs=%d", nlogs), func(b *testing.B) { benchmarkAddCheckpoint(b, nlogs) })
	}
}

func benchmarkAddCheckpoint(b *testing.B, nlogs int) {
	signer, _ := newWitnessKey(b, "witness.bench/w1")
	// perLog[j] holds log j's requests in order: b.N spread round-robin.
	perLog := make([][][]byte, nlogs)
	logs := make([]LogConfig, nlogs)
	for j := range nlogs {
		n := b.N / nlogs
		if j < b.N%nlogs {
			n++
		}
		lg := newTestLog(b, fmt.Sprintf("bench.example/log%d", j), n*benchBatch)
		logs[j] = lg.config()
		for k := range n {
			perLog[j] = append(perLog[j], lg.request(b, uint64(k*benchBatch), uint64((k+1)*benchBatch)))
		}
	}
	w, err := New(Config{Signer: signer, Logs: logs, StateDir: b.TempDir()})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	defer w.Close()
	srv := httptest.NewServer(w.Handler()) // listens on 127.0.0.1
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: nlogs}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	url := srv.URL + "/add-checkpoint"

	// One client per log; each records the latency of its requests.
	lat := make([][]time.Duration, nlogs)
	errs := make([]error, nlogs)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for j := range nlogs {
		wg.Go(func() {
			lat[j] = make([]time.Duration, 0, len(perLog[j]))
			for k, body := range perLog[j] {
				t0 := time.Now()
				code, resp, err := benchPost(client, url, body)
				lat[j] = append(lat[j], time.Since(t0))
				if err != nil || code != http.StatusOK {
					errs[j] = fmt.Errorf("log %d, request %d: %d %q, %v; want 200", j, k, code, resp, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}

	all := slices.Concat(lat...)
	slices.Sort(all)
	ms := func(q float64) float64 {
		return float64(all[int(q*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(0.50), "p50_ms")
	b.ReportMetric(ms(0.99), "p99_ms")
}

// benchPost sends one add-checkpoint request and reads the whole answer.
func benchPost(c *http.Client, url string, body []byte) (int, []byte, error) {
	resp, err := c.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}
