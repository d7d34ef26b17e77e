package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
