package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestCheck plays a small scenario against a vigild whose checkpoints need
// 2 of 3 real witnesses, and checks every answer of its query API, proven,
// against the ground truth; then checks a truth that is wrong in one place,
// which must be found.
func TestCheck(t *testing.T) {
	skipShort(t)
	fleet := initFleet(t)
	w := e2e.StartWitnessedLog(t, filepath.Join(fleet, "trust-roots.json"))
	if out, errOut, code := e2e.Run(t, "vigil-fleetsim", "scenario", "--state", fleet, "--url", w.Log.URL, "--devices", "48", "--attestations", "6"); code != 0 {
		t.Fatalf("scenario: exit %d\n%s%s", code, out, errOut)
	}
	args := []string{"check", "--state", fleet, "--url", w.Log.URL, "--policy", w.Policy, "--wait", "30s"}
	out, errOut, code := e2e.Run(t, "vigil-fleetsim", args...)
	if code != 0 || !strings.Contains(out, "every answer equals the ground truth") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"impact of the advisory", "field action FSCA-", "state-at-time probes", "device histories", "devices' status"} {
		if !strings.Contains(out, want) {
			t.Errorf("check's output lacks %q:\n%s", want, out)
		}
	}
	env, err := os.ReadFile(filepath.Join(fleet, "questions.env"))
	if err != nil || !strings.Contains(string(env), "FIELD_ACTION='FSCA-") {
		t.Errorf("questions.env: %q, %v", env, err)
	}

	// A truth that disagrees with the log in one device's status.
	name := filepath.Join(fleet, "scenario-truth.json")
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var truth scTruth
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	truth.Devices[0].Status = "no such status"
	b, _ = json.Marshal(truth)
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = e2e.Run(t, "vigil-fleetsim", args...)
	if code != 1 || !strings.Contains(out, "DIFFERS: "+truth.Devices[0].UDI) || !strings.Contains(errOut, "1 answers differ") {
		t.Errorf("check of a wrong truth: exit %d\n%s%s", code, out, errOut)
	}
}

// TestTwoFrontends is the shared log's acceptance run, on each shared
// backend (MariaDB; Spanner and GCS): two vigild frontends of one log,
// under 2-of-3 witnesses. The scenario is played
// with its submissions alternating between them (so one device's
// enrollment and attestations go through both); then each frontend's
// answers are proven against the ground truth, their raw answers compared
// byte for byte, and the regulator's independent audit replays the whole
// log: the only anomalies it may find are the scenario's cloned device's
// forked chain, which the log rightly accepts and reports.
func TestTwoFrontends(t *testing.T) {
	skipShort(t)
	for _, backend := range e2e.Backends[1:] { // the shared ones
		t.Run(backend, func(t *testing.T) { testTwoFrontends(t, backend) })
	}
}

func testTwoFrontends(t *testing.T, backend string) {
	fleet := initFleet(t)
	w := e2e.StartWitnessedLogOn(t, backend, filepath.Join(fleet, "trust-roots.json"))
	a, b := w.Log, w.Log.Another(t)
	out, errOut, code := e2e.Run(t, "vigil-fleetsim", "scenario", "--state", fleet, "--url", a.URL+","+b.URL, "--devices", "48", "--attestations", "6")
	if code != 0 {
		t.Fatalf("scenario over two frontends: exit %d\n%s%s", code, out, errOut)
	}
	// The simulator retries a server's failures; there must have been none.
	if !strings.Contains(out, "; 0 server errors retried") {
		t.Errorf("the frontends failed requests during the scenario:\n%s", out)
	}
	// The Spanner emulator folds the index far slower than MariaDB (tens of
	// milliseconds an entry, and it runs one read-write transaction at a
	// time), more so on a loaded machine.
	wait := map[string]string{"mysql": "30s", "gcp": "3m"}[backend]
	for _, v := range []*e2e.Server{a, b} {
		out, errOut, code := e2e.Run(t, "vigil-fleetsim", "check", "--state", fleet, "--url", v.URL, "--policy", w.Policy, "--wait", wait)
		if code != 0 || !strings.Contains(out, "every answer equals the ground truth") {
			t.Fatalf("check against %s: exit %d\n%s%s", v.URL, code, out, errOut)
		}
	}
	truth := readTruth(t, fleet)
	ctx := context.Background()
	for _, path := range []string{
		"/v1/devices/" + url.PathEscape(truth.Devices[0].UDI),
		"/v1/devices/" + url.PathEscape(truth.Clone.UDI) + "/attestations",
		"/v1/field-actions/" + url.PathEscape(truth.FieldAction.ID),
		"/v1/impact?purl=" + url.QueryEscape(truth.Impact.PURL),
	} {
		fromA, err := a.Get(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		fromB, err := b.Get(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fromA, fromB) {
			t.Errorf("GET %s answers differently on the two frontends:\n%s\n%s", path, fromA, fromB)
		}
	}
	out, errOut, code = e2e.Run(t, "vigil", "audit", "-q", "--json", "--log", a.URL, "--policy", w.Policy,
		"--trust-roots", filepath.Join(fleet, "trust-roots.json"), "--state", t.TempDir())
	var report struct {
		Size      uint64
		Anomalies []struct{ Code, UDI string }
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("vigil audit: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if report.Size != truth.Counts.Entries {
		t.Errorf("the audit read %d entries, the scenario made %d", report.Size, truth.Counts.Entries)
	}
	for _, an := range report.Anomalies {
		if an.Code != client.AnomalyChainFork || an.UDI != truth.Clone.UDI {
			t.Errorf("the audit found %s at %s; only the clone's forks are expected", an.Code, an.UDI)
		}
	}
	if len(report.Anomalies) == 0 {
		t.Errorf("the audit found none of the clone's forks (exit %d)", code)
	}
	t.Logf("%d entries through two frontends; the audit found %d anomalies, all the clone's forks", report.Size, len(report.Anomalies))
}
