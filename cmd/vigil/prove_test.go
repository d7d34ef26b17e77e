package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// truth is the part of vigil-fleetsim's ground truth these tests read.
type truth struct {
	Devices []struct {
		UDI          string `json:"udi"`
		Enrollment   uint64 `json:"enrollmentIndex"`
		Attestations []struct {
			Index uint64 `json:"index"`
		} `json:"attestations"`
	} `json:"devices"`
}

func readTruth(t *testing.T, fleet string) *truth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fleet, "ground-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("ground-truth.json: %v", err)
	}
	return &tr
}

// TestProve is issue 4's acceptance run against a real vigild whose
// checkpoints need 2 of 3 real witnesses: inclusion proven from tiles by
// index, by envelope and by receipt; the bundles verify offline with their
// enrollment chain; consistency across growth, with the trusted state
// advancing; a receipt's older checkpoint proven consistent by verify --log;
// and bundles with too few cosignatures refused under the policy.
func TestProve(t *testing.T) {
	skipShort(t)
	fleet := e2e.NewFleet(t)
	roots := filepath.Join(fleet, "trust-roots.json")
	w := e2e.StartWitnessedLog(t, roots)
	fleetRun := func(devices int) {
		t.Helper()
		if out, errOut, code := e2e.Run(t, "vigil-fleetsim", "run", "--state", fleet, "--url", w.Log.URL, "--devices", fmt.Sprint(devices), "--attestations", "2"); code != 0 {
			t.Fatalf("fleetsim: exit %d\n%s%s", code, out, errOut)
		}
	}
	fleetRun(10)
	state := t.TempDir()
	logArgs := []string{"--policy", w.Policy, "--log", w.Log.URL, "--state", state}
	out := mustRun(t, append([]string{"prove", "consistency"}, logArgs...)...)
	if !strings.Contains(out, "first use: trusting e2e.vigil.local/log") {
		t.Errorf("first prove consistency:\n%s", out)
	}

	tr := readTruth(t, fleet)
	d := tr.Devices[3]
	att := d.Attestations[1].Index
	dir := t.TempDir()
	bundle := func(name string) string { return filepath.Join(dir, name) }
	incl := append([]string{"prove", "inclusion", "--trust-roots", roots}, logArgs...)
	out = mustRun(t, append(incl, "--index", fmt.Sprint(att), "--out", bundle("by-index.json"))...)
	if want := fmt.Sprintf("proven: attestation entry at index %d", att); !strings.Contains(out, want) {
		t.Errorf("prove inclusion --index: want %q\n%s", want, out)
	}
	// The same entry by its envelope and by its receipt, as fleetsim saved them.
	var envFile, receipt string
	envs, _ := filepath.Glob(filepath.Join(fleet, "envelopes", "*.json"))
	for _, e := range envs {
		rb, err := os.ReadFile(filepath.Join(fleet, "receipts", filepath.Base(e)))
		if err != nil {
			continue
		}
		b, err := client.ParseBundle(rb)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := client.ParseTLogProof([]byte(b.TLogProof)); p != nil && p.Index == att {
			envFile, receipt = e, filepath.Join(fleet, "receipts", filepath.Base(e))
		}
	}
	if envFile == "" {
		t.Fatalf("no saved envelope for index %d", att)
	}
	mustRun(t, append(incl, "--envelope", envFile, "--out", bundle("by-envelope.json"))...)
	mustRun(t, append(incl, "--receipt", receipt, "--out", bundle("by-receipt.json"))...)
	for _, name := range []string{"by-index.json", "by-envelope.json", "by-receipt.json"} {
		// Offline, under the policy: no --log.
		out := mustRun(t, "verify", "--policy", w.Policy, "--trust-roots", roots, bundle(name))
		if want := fmt.Sprintf("enrolled at index %d", d.Enrollment); !strings.Contains(out, want) {
			t.Errorf("verify %s: want %q\n%s", name, want, out)
		}
	}
	// An SBOM's bundle embeds its statement, so it verifies offline too.
	out = mustRun(t, append(incl, "--index", "0", "--out", bundle("sbom.json"))...)
	if !strings.Contains(out, "proven: sbom entry at index 0") {
		t.Errorf("prove inclusion of the first SBOM:\n%s", out)
	}
	mustRun(t, "verify", "--policy", w.Policy, "--trust-roots", roots, bundle("sbom.json"))
	// An envelope the log does not hold.
	other := filepath.Join(dir, "not-logged.json")
	mustRun(t, "sign", "--kind", "attestation", "--key", e2e.ModuleFile(t, "testdata/dev/device.key"),
		"--predicate", e2e.ModuleFile(t, "testdata/dev/attestation.json"), "--out", other)
	wantFail(t, 1, []string{"does not hold"}, append(incl, "--envelope", other)...)

	// The log grows; the trusted state follows with a proof.
	fleetRun(14)
	out = mustRun(t, append([]string{"prove", "consistency"}, logArgs...)...)
	if !strings.Contains(out, "consistent, size") {
		t.Errorf("prove consistency after growth:\n%s", out)
	}
	// The old bundle's smaller checkpoint is proven consistent with the
	// trusted state, and a checkpoint file with --from.
	mustRun(t, "verify", "--policy", w.Policy, "--trust-roots", roots, "--log", w.Log.URL, "--state", state, bundle("by-index.json"))
	rb, _ := os.ReadFile(bundle("by-index.json"))
	b, _ := client.ParseBundle(rb)
	p, _ := client.ParseTLogProof([]byte(b.TLogProof))
	cpFile := filepath.Join(dir, "old-checkpoint.txt")
	os.WriteFile(cpFile, p.Checkpoint, 0o644)
	out = mustRun(t, append([]string{"prove", "consistency", "--from", cpFile}, logArgs...)...)
	if !strings.Contains(out, cpFile+": consistent") {
		t.Errorf("prove consistency --from:\n%s", out)
	}

	// Cosignatures short of the 2-of-3 quorum: keep only the first.
	cp := string(p.Checkpoint)
	body, sigs, _ := strings.Cut(cp, "\n\n")
	var kept []string
	witnesses := 0
	for _, s := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		if strings.HasPrefix(s, "— w") {
			if witnesses++; witnesses > 1 {
				continue
			}
		}
		kept = append(kept, s)
	}
	if witnesses < 2 {
		t.Fatalf("the bundle's checkpoint has %d cosignatures", witnesses)
	}
	short := *b
	short.TLogProof = strings.Replace(b.TLogProof, cp, body+"\n\n"+strings.Join(kept, "\n")+"\n", 1)
	sb, _ := short.Marshal()
	os.WriteFile(bundle("short.json"), sb, 0o644)
	wantFail(t, 1, []string{"NOT VERIFIED", "quorum"}, "verify", "--policy", w.Policy, "--trust-roots", roots, bundle("short.json"))
}
