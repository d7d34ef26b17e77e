package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestSubmitPolicyAndRevocations runs, against a vigild whose checkpoints
// need 2 of 3 real witnesses: submit --policy, which verifies the receipt and
// advances the trusted state, and refuses a receipt short of a stricter
// policy's quorum; and verify --log --policy, which reports a revocation of
// the device made after its attestation.
func TestSubmitPolicyAndRevocations(t *testing.T) {
	skipShort(t)
	roots := e2e.ModuleFile(t, "testdata/dev/trust-roots.json")
	w := e2e.StartWitnessedLog(t, roots)
	dir, state := t.TempDir(), t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mkey, dkey := e2e.ModuleFile(t, "testdata/dev/manufacturer.key"), e2e.ModuleFile(t, "testdata/dev/device.key")
	underPolicy := []string{"--policy", w.Policy, "--log", w.Log.URL, "--trust-roots", roots, "--state", state}
	submit := func(env, out string) string {
		t.Helper()
		return mustRun(t, append(append([]string{"submit"}, underPolicy...), "--out", p(out), p(env))...)
	}

	mustRun(t, "sign", "--kind", "enrollment", "--key", mkey, "--device-key", dkey,
		"--predicate", e2e.ModuleFile(t, "testdata/dev/enrollment.json"), "--out", p("enrollment.dsse.json"))
	submit("enrollment.dsse.json", "enrollment.bundle.json")
	mustRun(t, "sign", "--kind", "attestation", "--key", dkey,
		"--predicate", e2e.ModuleFile(t, "testdata/dev/attestation.json"), "--out", p("attestation.dsse.json"))
	out := submit("attestation.dsse.json", "attestation.bundle.json")
	if !strings.Contains(out, "included at index 1") {
		t.Errorf("submit --policy of the attestation:\n%s", out)
	}
	// The receipt's checkpoint is now the trusted one.
	raw, err := (&client.TrustStore{Dir: state}).Latest("e2e.vigil.local/log")
	if err != nil || raw == nil {
		t.Fatalf("trusted state after submit --policy: %q, %v", raw, err)
	}
	rb, err := os.ReadFile(p("attestation.bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.ParseBundle(rb)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := client.ParseTLogProof([]byte(b.TLogProof))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), strings.SplitN(string(proof.Checkpoint), "\n\n", 2)[0]) {
		t.Errorf("trusted checkpoint\n%s\nis not the receipt's\n%s", raw, proof.Checkpoint)
	}

	verify := append([]string{"verify"}, underPolicy...)
	out = mustRun(t, append(verify, p("attestation.bundle.json"))...)
	if !strings.Contains(out, "no revocation of its signer, device or firmware in the log up to size 2") {
		t.Errorf("verify --log before any revocation:\n%s", out)
	}

	// The manufacturer revokes the device after its attestation: the
	// attestation still verifies, and the revocation is reported.
	rev := `{"target": {"type": "udi", "id": "(01)00614141999996(21)PUMP0001"}, "reason": "device reported stolen", "effective": "2026-11-21T10:00:00Z"}`
	if err := os.WriteFile(p("revocation.json"), []byte(rev), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "sign", "--kind", "revocation", "--key", mkey, "--predicate", p("revocation.json"), "--out", p("revocation.dsse.json"))
	submit("revocation.dsse.json", "revocation.bundle.json")
	out = mustRun(t, append(verify, p("attestation.bundle.json"))...)
	if !strings.Contains(out, "REVOKED: device ") || !strings.Contains(out, "at index 2, after this entry") {
		t.Errorf("verify --log after the device's revocation:\n%s", out)
	}
	// The local audit it relies on is vigil audit's, already up to date:
	// it reads nothing, and reports the development firmware, which has no
	// SBOM in this log.
	wantFail(t, 1, []string{"size 3", "0 read in this run", "unknown_firmware"},
		"audit", "--policy", w.Policy, "--log", w.Log.URL, "--trust-roots", roots, "--state", state, "-q")

	// A stricter policy that needs a witness the log does not have: the
	// receipt is refused (the entry itself is in the log).
	mustRun(t, "keygen", "--type", "witness", "--name", "w4.e2e.local", "--out", p("w4.key"))
	w4, err := os.ReadFile(p("w4.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := os.ReadFile(w.Policy)
	if err != nil {
		t.Fatal(err)
	}
	strict := strings.Replace(string(pol), "group majority 2 w1 w2 w3\nquorum majority\n",
		"witness w4 "+strings.TrimSpace(string(w4))+"\ngroup both 2 w1 w4\nquorum both\n", 1)
	if strict == string(pol) {
		t.Fatalf("unexpected policy file:\n%s", pol)
	}
	if err := os.WriteFile(p("strict.txt"), []byte(strict), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, 1, []string{"evidence bundle", "quorum"}, "submit", "--policy", p("strict.txt"), "--log", w.Log.URL,
		"--trust-roots", roots, "--state", t.TempDir(), p("enrollment.dsse.json"))
}
