package witness

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// testLog is a log for the tests: a real Merkle tree and a note key.
type testLog struct {
	origin   string
	signer   note.Signer
	verifier note.Verifier
	tree     *testonly.Tree
}

func newTestLog(t testing.TB, origin string, size int) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{origin: origin, signer: s, verifier: v, tree: testonly.New(rfc6962.DefaultHasher)}
	for i := range size {
		l.tree.AppendData(fmt.Appendf(nil, "%s entry %d", origin, i))
	}
	return l
}

func (l *testLog) config() LogConfig {
	return LogConfig{Origin: l.origin, Verifier: l.verifier, QPD: 86400, Contact: "test"}
}

// text returns the log's checkpoint text at size.
func (l *testLog) text(size uint64) string {
	return fmt.Sprintf("%s\n%d\n%s\n", l.origin, size, b64(l.tree.HashAt(size)))
}

// checkpoint returns the log's signed checkpoint at size.
func (l *testLog) checkpoint(t testing.TB, size uint64) []byte {
	t.Helper()
	return signText(t, l.text(size), l.signer)
}

// proof returns the consistency proof between two sizes of the log.
func (l *testLog) proof(t testing.TB, old, size uint64) [][]byte {
	t.Helper()
	p, err := l.tree.ConsistencyProof(old, size)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// request returns an add-checkpoint body growing the log from old to size.
func (l *testLog) request(t testing.TB, old, size uint64) []byte {
	t.Helper()
	var p [][]byte
	if old > 0 {
		p = l.proof(t, old, size)
	}
	return body(old, p, l.checkpoint(t, size))
}

func body(old uint64, proof [][]byte, cp []byte) []byte {
	return (&AddCheckpointRequest{Old: old, Proof: proof, Checkpoint: cp}).Marshal()
}

func signText(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// tamper flips a bit of the Ed25519 signature in a note's last signature
// line, keeping the line well-formed.
func tamper(t testing.TB, n []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(n[:len(n)-1], []byte("\n")) + 1
	prefix, enc, _ := strings.Cut(strings.TrimSuffix(string(n[i:]), "\n"), " ")
	name, enc, _ := strings.Cut(enc, " ")
	sig, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	return fmt.Appendf(bytes.Clone(n[:i]), "%s %s %s\n", prefix, name, b64(sig))
}

// testWitness is a Witness served on loopback.
type testWitness struct {
	*Witness
	t        testing.TB
	url      string
	dir      string
	reg      *prometheus.Registry
	verifier note.Verifier // of the witness's cosignatures
}

// newWitnessKey returns a cosignature/v1 signer and its verifier.
func newWitnessKey(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(cvkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// startWitness runs a Witness over dir with the given signer and logs, and
// closes it when the test ends.
func startWitness(t testing.TB, dir string, signer note.Signer, verifier note.Verifier, logs ...LogConfig) *testWitness {
	t.Helper()
	reg := prometheus.NewRegistry()
	w, err := New(Config{Signer: signer, Logs: logs, StateDir: dir, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.Close()
		w.Close()
	})
	return &testWitness{Witness: w, t: t, url: srv.URL, dir: dir, reg: reg, verifier: verifier}
}

func newTestWitness(t testing.TB, logs ...LogConfig) *testWitness {
	t.Helper()
	s, v := newWitnessKey(t, "witness.test/w1")
	return startWitness(t, t.TempDir(), s, v, logs...)
}

// post sends an add-checkpoint request.
func (w *testWitness) post(b []byte) (code int, contentType string, respBody []byte) {
	w.t.Helper()
	resp, err := http.Post(w.url+"/add-checkpoint", "text/plain", bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), rb
}

// served returns what GET <origin hash>/checkpoint answers.
func (w *testWitness) served(origin string) (int, []byte) {
	w.t.Helper()
	resp, err := http.Get(w.url + "/" + originHash(origin) + "/checkpoint")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, rb
}

// stored returns the log's checkpoint file, nil if there is none.
func (w *testWitness) stored(origin string) []byte {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, checkpointsName, originHash(origin)))
	if err != nil && !os.IsNotExist(err) {
		w.t.Fatal(err)
	}
	return b
}

// metric returns the value of a counter of the witness's registry, 0 if it
// has not been set.
func (w *testWitness) metric(name string, labels ...string) float64 {
	w.t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// checkCosigned checks a 200 answer to a request for cp, sent between
// before and after: one cosignature line by the witness's key over cp, with
// a timestamp in that interval, and cp stored and served with it.
func (w *testWitness) checkCosigned(l *testLog, cp, resp []byte, before, after time.Time) {
	w.t.Helper()
	if !bytes.HasPrefix(resp, []byte("— "+w.verifier.Name()+" ")) || bytes.Count(resp, []byte("\n")) != 1 || !bytes.HasSuffix(resp, []byte("\n")) {
		w.t.Fatalf("response %q is not one cosignature line", resp)
	}
	n, err := note.Open(append(bytes.Clone(cp), resp...), note.VerifierList(w.verifier))
	if err != nil {
		w.t.Fatalf("the cosignature does not verify: %v", err)
	}
	ts, err := fnote.CoSigV1Timestamp(n.Sigs[0])
	if err != nil {
		w.t.Fatal(err)
	}
	if ts.Before(before.Truncate(time.Second)) || ts.After(after) {
		w.t.Errorf("cosignature time %v, want between %v and %v", ts, before, after)
	}
	code, served := w.served(l.origin)
	if code != http.StatusOK {
		w.t.Fatalf("GET checkpoint = %d after a cosignature", code)
	}
	sn, err := note.Open(served, note.VerifierList(w.verifier, l.verifier))
	if err != nil || len(sn.Sigs) != 2 || len(sn.UnverifiedSigs) != 0 {
		w.t.Fatalf("served checkpoint %q: %v; want the log's signature and the cosignature", served, err)
	}
	if sn.Text != n.Text || !bytes.HasSuffix(served, resp) {
		w.t.Errorf("served checkpoint %q is not the cosigned one, ending in %q", served, resp)
	}
	if stored := w.stored(l.origin); !bytes.Equal(stored, served) {
		w.t.Errorf("stored checkpoint %q, served %q", stored, served)
	}
}

// testLogger sends a Witness's logs to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestMaliciousLog drives a witness with a log that misbehaves in every way
// the protocol can see. Each step is one request; the steps run in order on
// one witness. A refused request must change nothing: the stored and served
// checkpoint stay the same and no cosignature leaves.
func TestMaliciousLog(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 40)
	fresh := newTestLog(t, "example.com/fresh", 10)
	other := newTestLog(t, "example.com/other", 10) // not configured
	w := newTestWitness(t, lg.config(), fresh.config())

	// A fork of the log: the same first 8 entries, then others. The
	// log's own key signs its checkpoints.
	fork := testonly.New(rfc6962.DefaultHasher)
	for i := range 8 {
		fork.AppendData(fmt.Appendf(nil, "%s entry %d", lg.origin, i))
	}
	for i := range 4 {
		fork.AppendData(fmt.Appendf(nil, "forked entry %d", i))
	}
	forkCP := signText(t, fmt.Sprintf("%s\n%d\n%s\n", lg.origin, 9, b64(fork.HashAt(9))), lg.signer)
	if bytes.Equal(forkCP, lg.checkpoint(t, 9)) {
		t.Fatal("the fork has the log's root")
	}

	// A key with the log's name that the witness does not trust.
	impostorKey, _, _ := note.GenerateKey(rand.Reader, lg.origin)
	impostor, _ := note.NewSigner(impostorKey)

	badProof := lg.proof(t, 9, 14)
	badProof[0] = bytes.Clone(badProof[0])
	badProof[0][0] ^= 1

	tampered := tamper(t, lg.checkpoint(t, 14))

	type step struct {
		name string
		body []byte
		code int
		size string // the body of a 409
	}
	steps := []step{
		{name: "first checkpoint on trust", body: lg.request(t, 0, 5), code: 200},
		{name: "growth with a consistency proof", body: lg.request(t, 5, 9), code: 200},
		{name: "the same checkpoint again", body: lg.request(t, 9, 9), code: 200},
		{name: "fork: same size, other root", body: body(9, nil, forkCP), code: 422},
		{name: "fork with a stale old size", body: body(5, lg.proof(t, 5, 9), forkCP), code: 409, size: "9"},
		{name: "rollback from the stored size", body: body(9, nil, lg.checkpoint(t, 7)), code: 400},
		{name: "rollback with its own old size", body: lg.request(t, 5, 7), code: 409, size: "9"},
		{name: "rollback to nothing", body: lg.request(t, 0, 3), code: 409, size: "9"},
		{name: "bad consistency proof", body: body(9, badProof, lg.checkpoint(t, 14)), code: 422},
		{name: "consistency proof of other sizes", body: body(9, lg.proof(t, 8, 14), lg.checkpoint(t, 14)), code: 422},
		{name: "no consistency proof", body: body(9, nil, lg.checkpoint(t, 14)), code: 422},
		{name: "proof for the same size", body: body(9, lg.proof(t, 8, 9), lg.checkpoint(t, 9)), code: 422},
		{name: "growth from the fork", body: body(9, lg.proof(t, 9, 12), signText(t, fmt.Sprintf("%s\n%d\n%s\n", lg.origin, 12, b64(fork.HashAt(12))), lg.signer)), code: 422},
		{name: "signed by an unknown key", body: body(9, lg.proof(t, 9, 14), signText(t, lg.text(14), impostor)), code: 403},
		{name: "tampered signature", body: body(9, lg.proof(t, 9, 14), tampered), code: 403},
		{name: "signed by another log's key", body: body(9, lg.proof(t, 9, 14), signText(t, lg.text(14), other.signer)), code: 403},
		{name: "unknown origin", body: other.request(t, 0, 5), code: 404},
		{name: "stale old size", body: lg.request(t, 5, 14), code: 409, size: "9"},
		{name: "old size ahead of the witness", body: lg.request(t, 12, 14), code: 409, size: "9"},
		{name: "old size larger than the checkpoint", body: body(20, nil, lg.checkpoint(t, 14)), code: 400},
		{name: "first checkpoint with a proof", body: body(0, fresh.proof(t, 2, 5), fresh.checkpoint(t, 5)), code: 422},
		{name: "first checkpoint of size 0 with a wrong root", body: body(0, nil, signText(t, fresh.origin+"\n0\n"+b64(fresh.tree.HashAt(5))+"\n", fresh.signer)), code: 422},
		{name: "first checkpoint with a stale old size", body: fresh.request(t, 3, 5), code: 409, size: "0"},
	}
	for _, m := range malformedBodies() {
		steps = append(steps, step{name: "malformed: " + m.name, body: []byte(m.body), code: 400})
	}
	steps = append(steps,
		step{name: "growth after all that", body: lg.request(t, 9, 40), code: 200},
		step{name: "empty tree of a fresh log", body: fresh.request(t, 0, 0), code: 200},
		step{name: "growth from the empty tree", body: fresh.request(t, 0, 10), code: 200},
	)

	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := map[string][]byte{lg.origin: w.stored(lg.origin), fresh.origin: w.stored(fresh.origin)}
			start := time.Now()
			code, ctype, resp := w.post(s.body)
			end := time.Now()
			if code != s.code {
				t.Fatalf("POST = %d %q, want %d", code, resp, s.code)
			}
			if code == 200 {
				req, err := ParseAddCheckpoint(s.body)
				if err != nil {
					t.Fatal(err)
				}
				l := lg
				if bytes.HasPrefix(req.Checkpoint, []byte(fresh.origin+"\n")) {
					l = fresh
				}
				w.checkCosigned(l, req.Checkpoint, resp, start, end)
				return
			}
			if bytes.Contains(resp, []byte("—")) {
				t.Errorf("a refusal carries a signature line: %q", resp)
			}
			if code == 409 {
				if ctype != "text/x.tlog.size" || string(resp) != s.size+"\n" {
					t.Errorf("409 with %q, body %q; want text/x.tlog.size, %q", ctype, resp, s.size+"\n")
				}
			}
			for origin, b := range before {
				if after := w.stored(origin); !bytes.Equal(after, b) {
					t.Errorf("the refused request changed the stored checkpoint of %s from %q to %q", origin, b, after)
				}
				if code, served := w.served(origin); b == nil && code != 404 || b != nil && !bytes.Equal(served, b) {
					t.Errorf("the refused request changed the served checkpoint of %s: %d %q, want %q", origin, code, served, b)
				}
			}
		})
	}

	if code, _ := w.served(other.origin); code != 404 {
		t.Errorf("GET checkpoint of an unknown log = %d, want 404", code)
	}

	// The fork was seen twice (422 and 409) and kept once.
	if got := w.metric("witness_forks_detected_total"); got != 2 {
		t.Errorf("witness_forks_detected_total = %v, want 2", got)
	}
	ents, err := os.ReadDir(filepath.Join(w.dir, evidenceName))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), originHash(lg.origin)+"-9-") {
		t.Fatalf("evidence directory holds %v, want one fork of size 9", ents)
	}
	ev := filepath.Join(w.dir, evidenceName, ents[0].Name())
	conflicting, _ := os.ReadFile(filepath.Join(ev, "conflicting"))
	cosignedCP, _ := os.ReadFile(filepath.Join(ev, "cosigned"))
	if !bytes.Equal(conflicting, forkCP) {
		t.Errorf("evidence conflicting = %q, want the fork's checkpoint %q", conflicting, forkCP)
	}
	n, err := note.Open(cosignedCP, note.VerifierList(lg.verifier, w.verifier))
	if err != nil || len(n.Sigs) != 2 || !strings.HasPrefix(n.Text, lg.origin+"\n9\n") {
		t.Errorf("evidence cosigned = %q (%v), want the log's checkpoint of size 9 with the cosignature", cosignedCP, err)
	}
	if got := w.metric("witness_requests_total", "endpoint", "add-checkpoint", "code", "422"); got != 8 {
		t.Errorf("witness_requests_total{code=422} = %v, want 8", got)
	}
}

// TestConcurrentAddCheckpoint sends many requests for one log at once, all
// from the same old size: the old size check and the update are one atomic
// step, so exactly one wins each round and the others are told the winner's
// size.
func TestConcurrentAddCheckpoint(t *testing.T) {
	const n, rounds = 16, 5
	lg := newTestLog(t, "example.com/log", 1+n*rounds)
	w := newTestWitness(t, lg.config())
	if code, _, resp := w.post(lg.request(t, 0, 1)); code != 200 {
		t.Fatalf("first checkpoint: %d %q", code, resp)
	}
	cur := uint64(1)
	for round := range rounds {
		bodies := make([][]byte, n)
		for i := range n {
			bodies[i] = lg.request(t, cur, cur+uint64(i)+1)
		}
		codes := make([]int, n)
		resps := make([][]byte, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				resp, err := http.Post(w.url+"/add-checkpoint", "text/plain", bytes.NewReader(bodies[i]))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				codes[i] = resp.StatusCode
				resps[i], _ = io.ReadAll(resp.Body)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, c := range codes {
			if c == 200 {
				if winner >= 0 {
					t.Fatalf("round %d: requests %d and %d both cosigned", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no request won: %v", round, codes)
		}
		next := cur + uint64(winner) + 1
		for i, c := range codes {
			if i != winner && (c != 409 || string(resps[i]) != fmt.Sprintf("%d\n", next)) {
				t.Errorf("round %d: request %d = %d %q, want 409 %d", round, i, c, resps[i], next)
			}
		}
		_, served := w.served(lg.origin)
		if !bytes.HasPrefix(served, fmt.Appendf(nil, "%s\n%d\n", lg.origin, next)) {
			t.Fatalf("round %d: served %q, want size %d", round, served, next)
		}
		cur = next
	}
}
