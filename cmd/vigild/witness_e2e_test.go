package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestWitnessedFleet is issue 3's first acceptance test, on each backend: a
// fleet run against a log with three witnesses and a 2-of-3 policy; every receipt carries at
// least two valid cosignatures and verifies under the policy, with vigil's
// verifier and with Tessera's own policy code. Then two witnesses stop:
// entries are still sequenced, no checkpoint is published without its
// quorum, and when one witness returns, publication resumes and nothing is
// lost.
func TestWitnessedFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	for _, backend := range e2e.Backends {
		t.Run(backend, func(t *testing.T) { witnessedFleet(t, backend) })
	}
}

func witnessedFleet(t *testing.T, backend string) {
	fleet := e2e.NewFleet(t)
	w := e2e.StartWitnessedLogOn(t, backend, filepath.Join(fleet, "trust-roots.json"))
	stdout, stderr, code := e2e.Run(t, "vigil-fleetsim", "run", "--state", fleet, "--url", w.Log.URL, "--devices", "40", "--attestations", "3")
	if code != 0 {
		t.Fatalf("fleetsim: %s\n%s", stdout, stderr)
	}
	receipts, _ := filepath.Glob(filepath.Join(fleet, "receipts", "*.json"))
	args := append([]string{"verify", "-q", "--policy", w.Policy, "--trust-roots", filepath.Join(fleet, "trust-roots.json"),
		"--envelope-dir", filepath.Join(fleet, "envelopes")}, receipts...)
	if out, errOut, code := e2e.Run(t, "vigil", args...); code != 0 || !strings.Contains(out, fmt.Sprintf("%d of %d bundles verified", len(receipts), len(receipts))) {
		t.Fatalf("vigil verify --policy: exit %d\n%s\n%s", code, out, errOut)
	}
	// Tessera's reading of the same policy file, independent of ours.
	pb, err := os.ReadFile(w.Policy)
	if err != nil {
		t.Fatal(err)
	}
	group, err := tessera.NewWitnessGroupFromPolicy(pb)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := client.ParsePolicy(pb)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range receipts {
		rb, _ := os.ReadFile(r)
		b, err := client.ParseBundle(rb)
		if err != nil {
			t.Fatal(err)
		}
		p, err := client.ParseTLogProof([]byte(b.TLogProof))
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(p.Checkpoint)] {
			continue
		}
		seen[string(p.Checkpoint)] = true
		if !group.Satisfied(p.Checkpoint) {
			t.Errorf("%s: Tessera finds the checkpoint's cosignatures short of the policy", filepath.Base(r))
		}
		if wd, err := policy.VerifyCheckpoint(p.Checkpoint); err != nil || len(wd.Cosigned) < 2 {
			t.Errorf("%s: %v, %d cosignatures", filepath.Base(r), err, len(wd.Cosigned))
		}
	}

	// Vigild measures each witness.
	ctx := context.Background()
	metrics, err := w.Log.Get(ctx, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m := fmt.Sprintf(`log_witness_requests_total{result="200",witness="w%d.e2e.local"}`, i+1)
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if !strings.Contains(string(metrics), `log_witness_request_duration_seconds_bucket{witness="w1.e2e.local"`) {
		t.Errorf("/metrics lacks the witness latency histogram")
	}

	// Two of three witnesses go away.
	w.Witnesses[0].Stop()
	w.Witnesses[1].Stop()
	before, err := w.Log.Get(ctx, "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(fleet, "envelopes", "enroll-SIM0000000.json"))
	if err != nil {
		t.Fatal(err)
	}
	lc := &client.LogClient{URL: w.Log.URL}
	newEnv := enrollOne(t, fleet) // a device the fleet does not have
	s, err := lc.Submit(ctx, newEnv, true)
	if err != nil {
		t.Fatalf("submit with witnesses away: %v", err)
	}
	if s.Bundle != nil {
		t.Fatalf("got a receipt with 2 of 3 witnesses away")
	}
	time.Sleep(time.Second)
	if after, _ := w.Log.Get(ctx, "/checkpoint"); string(after) != string(before) {
		t.Errorf("a checkpoint was published without its quorum:\n%s", after)
	}
	if metrics, _ := w.Log.Get(ctx, "/metrics"); !strings.Contains(string(metrics), `log_witness_requests_total{result="transport_error",witness="w2.e2e.local"}`) {
		t.Errorf("/metrics does not count the failures of the stopped witness")
	}
	// An old entry still answers with its original index and bundle.
	if d, err := lc.Submit(ctx, env, true); err != nil || !d.Duplicate {
		t.Errorf("resubmission with witnesses away = %+v, %v", d, err)
	}
	// One witness returns: publication resumes and the new entry is there.
	w.Witnesses[0].Start()
	deadline := time.Now().Add(30 * time.Second)
	var b *client.Bundle
	for time.Now().Before(deadline) {
		if b, err = lc.Entry(ctx, s.Index); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b == nil {
		t.Fatalf("publication did not resume within 30s of a witness's return: %v", err)
	}
	if _, err := b.Verify(client.VerifyOptions{Policy: policy, Roots: mustRoots(t, fleet)}); err != nil {
		t.Errorf("the resumed bundle does not verify under the policy: %v", err)
	}
}

// enrollOne signs the enrollment of a device the fleet does not have, with
// the fleet's first manufacturer key.
func enrollOne(t *testing.T, fleet string) []byte {
	t.Helper()
	var ff struct {
		Manufacturers []struct {
			KeyFile string `json:"keyFile"`
			Models  []struct {
				GTIN string `json:"gtin"`
			} `json:"models"`
		} `json:"manufacturers"`
	}
	b, err := os.ReadFile(filepath.Join(fleet, "fleet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ff); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dk := filepath.Join(dir, "dev.key")
	if _, stderr, code := e2e.Run(t, "vigil", "keygen", "--type", "device", "--name", "late", "--out", dk); code != 0 {
		t.Fatal(stderr)
	}
	pred := filepath.Join(dir, "enrollment.json")
	os.WriteFile(pred, []byte(`{"udi":"(01)`+ff.Manufacturers[0].Models[0].GTIN+`(21)LATE0001","model":"late model","binding":{"type":"puf","evidence":"bGF0ZQ=="}}`), 0o644)
	out := filepath.Join(dir, "enrollment.dsse.json")
	if _, stderr, code := e2e.Run(t, "vigil", "sign", "--kind", "enrollment", "--key", filepath.Join(fleet, ff.Manufacturers[0].KeyFile),
		"--device-key", dk, "--predicate", pred, "--out", out); code != 0 {
		t.Fatal(stderr)
	}
	env, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustRoots(t *testing.T, fleet string) *client.TrustRoots {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fleet, "trust-roots.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.ParseTrustRoots(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWitnessFollow runs a witness in pull mode against a vigild that pushes
// to no witness: it follows the log's growth from its tiles and serves the
// cosigned checkpoint.
func TestWitnessFollow(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	fleet := e2e.NewFleet(t)
	v := e2e.StartVigild(t, filepath.Join(t.TempDir(), "data"), filepath.Join(fleet, "trust-roots.json"))
	dir := t.TempDir()
	key := filepath.Join(dir, "w.key")
	if _, stderr, code := e2e.Run(t, "vigil", "keygen", "--type", "witness", "--name", "puller.e2e.local", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	vkey, _ := os.ReadFile(filepath.Join(v.Data, "log.vkey"))
	logs := filepath.Join(dir, "logs.txt")
	os.WriteFile(logs, []byte("logs/v0\nvkey "+strings.TrimSpace(string(vkey))+"\nqpd 86400\ncontact e2e test\n"), 0o644)
	w := e2e.StartWitness(t, key, logs, filepath.Join(dir, "state"), "--follow", v.URL+"/", "--follow-interval", "100ms")
	if _, stderr, code := e2e.Run(t, "vigil-fleetsim", "run", "--state", fleet, "--url", v.URL, "--devices", "10", "--attestations", "2"); code != 0 {
		t.Fatal(stderr)
	}
	ctx := context.Background()
	logCP, err := v.Get(ctx, "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	size := strings.Split(string(logCP), "\n")[1]
	hash := sha256.Sum256([]byte("e2e.vigil.local/log"))
	path := "/" + hex.EncodeToString(hash[:]) + "/checkpoint"
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := w.Get(ctx, path)
		if err == nil && strings.Split(string(cp), "\n")[1] == size && strings.Contains(string(cp), "— puller.e2e.local ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the following witness did not reach the log's size %s: %q, %v", size, cp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
