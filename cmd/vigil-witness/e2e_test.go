package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"github.com/vigil-log/vigil/witness"
	"golang.org/x/mod/sumdb/note"
)

// writeWitnessKey writes a witness key into dir as `vigil keygen --type
// witness` does (mode 0600), and returns the file, the cosignature/v1 vkey
// and its verifier.
func writeWitnessKey(t *testing.T, dir, name string) (keyFile, cvkey string, v note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, "witness.key")
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cvkey, err = fnote.VKeyToCosignatureV1(vkey); err != nil {
		t.Fatal(err)
	}
	if v, err = fnote.NewVerifierForCosignatureV1(cvkey); err != nil {
		t.Fatal(err)
	}
	return keyFile, cvkey, v
}

// post sends an add-checkpoint request to the witness.
func post(t *testing.T, w *e2e.Server, b []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(w.URL+"/add-checkpoint", "text/plain", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// get fetches a path from the witness.
func get(t *testing.T, w *e2e.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(w.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// testLog is a log with a real Merkle tree.
type testLog struct {
	origin string
	signer note.Signer
	vkey   string
	tree   *testonly.Tree
}

func (l *testLog) checkpoint(t *testing.T, size uint64) []byte {
	t.Helper()
	text := fmt.Sprintf("%s\n%d\n%s\n", l.origin, size, base64.StdEncoding.EncodeToString(l.tree.HashAt(size)))
	b, err := note.Sign(&note.Note{Text: text}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (l *testLog) request(t *testing.T, old, size uint64) []byte {
	t.Helper()
	var p [][]byte
	if old > 0 {
		var err error
		if p, err = l.tree.ConsistencyProof(old, size); err != nil {
			t.Fatal(err)
		}
	}
	return (&witness.AddCheckpointRequest{Old: old, Proof: p, Checkpoint: l.checkpoint(t, size)}).Marshal()
}

// TestEndToEnd runs the built binary: it cosigns a log's checkpoints,
// survives kill -9 with its state, refuses rollbacks after it, will not
// share its state directory, stops cleanly on SIGTERM, and refuses a key
// file others may read.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end: builds and runs the binary")
	}
	bin := filepath.Join(e2e.Build(t), "vigil-witness")
	dir := t.TempDir()

	keyFile, cvkey, cosigVerifier := writeWitnessKey(t, dir, "witness.e2e.test/w1")

	// The log.
	lskey, lvkey, err := note.GenerateKey(rand.Reader, "e2e.example/log")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := note.NewSigner(lskey)
	if err != nil {
		t.Fatal(err)
	}
	lg := &testLog{origin: "e2e.example/log", signer: ls, vkey: lvkey, tree: testonly.New(rfc6962.DefaultHasher)}
	for i := range 30 {
		lg.tree.AppendData(fmt.Appendf(nil, "entry %d", i))
	}
	logsFile := filepath.Join(dir, "logs.txt")
	if err := os.WriteFile(logsFile, []byte("logs/v0\nvkey "+lvkey+"\nqpd 86400\ncontact e2e@example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	args := []string{"--key", keyFile, "--logs", logsFile, "--state", state}
	p := e2e.StartWitness(t, keyFile, logsFile, state, "--log-level", "debug")
	if !strings.Contains(p.Log(), cvkey) {
		t.Errorf("the serving line does not give the cosignature vkey %s:\n%s", cvkey, p.Log())
	}

	// A chain of checkpoints, each cosigned.
	old := uint64(0)
	for _, size := range []uint64{3, 7, 12} {
		cp := lg.checkpoint(t, size)
		code, resp := post(t, p, lg.request(t, old, size))
		if code != 200 {
			t.Fatalf("POST %d -> %d = %d %q", old, size, code, resp)
		}
		n, err := note.Open(append(cp, resp...), note.VerifierList(cosigVerifier))
		if err != nil {
			t.Fatalf("cosignature of size %d: %v (%q)", size, err, resp)
		}
		ts, err := fnote.CoSigV1Timestamp(n.Sigs[0])
		if err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
			t.Errorf("cosignature time %v, %v; want now", ts, err)
		}
		old = size
	}
	cpPath := "/" + witnessOriginHash(lg.origin) + "/checkpoint"
	code, before := get(t, p, cpPath)
	if code != 200 || !strings.HasPrefix(before, lg.origin+"\n12\n") {
		t.Fatalf("GET checkpoint = %d %q", code, before)
	}

	// A second witness on the same state directory is refused.
	out, err := exec.Command(bin, append(args, "--listen", e2e.FreeAddr(t))...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Errorf("a second witness on the state directory: %v\n%s", err, out)
	}

	// kill -9, then restart: the state is kept and rollbacks are refused.
	p.Kill()
	p.Start() // the same state directory and port
	if code, after := get(t, p, cpPath); code != 200 || after != before {
		t.Fatalf("after kill -9, GET checkpoint = %d %q, want %q", code, after, before)
	}
	for _, tc := range []struct {
		name string
		body []byte
		code int
		resp string
	}{
		{"rollback with its own old size", lg.request(t, 3, 7), 409, "12\n"},
		{"rollback from the stored size", (&witness.AddCheckpointRequest{Old: 12, Checkpoint: lg.checkpoint(t, 7)}).Marshal(), 400, ""},
		{"start over", lg.request(t, 0, 5), 409, "12\n"},
		{"growth", lg.request(t, 12, 30), 200, ""},
	} {
		code, resp := post(t, p, tc.body)
		if code != tc.code || tc.resp != "" && resp != tc.resp {
			t.Errorf("%s: POST = %d %q, want %d %q", tc.name, code, resp, tc.code, tc.resp)
		}
	}
	if code, metrics := get(t, p, "/metrics"); code != 200 || !strings.Contains(metrics, `witness_requests_total{code="409",endpoint="add-checkpoint"} 2`) || !strings.Contains(metrics, "witness_forks_detected_total 0") {
		t.Errorf("GET /metrics = %d, want the request counts:\n%s", code, metrics)
	}
	p.Stop()
	if !strings.Contains(p.Log(), `"msg":"checkpoint cosigned"`) {
		t.Errorf("no JSON log line for a cosignature:\n%s", p.Log())
	}

	// A key file others may read is refused.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, append(args, "--listen", e2e.FreeAddr(t))...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "readable by others") {
		t.Errorf("with a key of mode 0644: %v\n%s", err, out)
	}
}

// witnessOriginHash is the lowercase hex SHA-256 of an origin, which names
// a log in the witness's URLs.
func witnessOriginHash(origin string) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(origin)))
}
