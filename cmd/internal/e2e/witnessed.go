package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WitnessedLog is a vigild whose checkpoints need 2 of 3 real witnesses.
type WitnessedLog struct {
	Log       *Server
	Witnesses []*Server
	Policy    string // the policy file, for vigil verify and Tessera
}

// StartWitnessedLog starts a vigild whose checkpoints need 2 of 3 real
// witnesses. It makes the log key first (the witnesses must know it, and
// Tessera needs them up to create the log), then three witnesses, then vigild.
func StartWitnessedLog(t *testing.T, roots string) *WitnessedLog {
	return StartWitnessedLogOn(t, "posix", roots)
}

// StartWitnessedLogOn is StartWitnessedLog on the named backend (see
// StartVigildOn).
func StartWitnessedLogOn(t *testing.T, backend, roots string) *WitnessedLog {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keygen := func(typ, name, out string) {
		if _, stderr, code := Run(t, "vigil", "keygen", "--type", typ, "--name", name, "--out", out); code != 0 {
			t.Fatal(stderr)
		}
	}
	vkey := []byte(LogKey(t, data))
	if backend == "posix" {
		// vigild's data directory holds only log.key and log.vkey.
		os.Remove(filepath.Join(data, "log.key.pub"))
	}
	logs := filepath.Join(dir, "logs.txt")
	os.WriteFile(logs, []byte("logs/v0\nvkey "+strings.TrimSpace(string(vkey))+"\nqpd 86400\ncontact e2e test\n"), 0o644)
	w := &WitnessedLog{Policy: filepath.Join(dir, "policy.txt")}
	policy := "log " + strings.TrimSpace(string(vkey)) + "\n"
	for i := range 3 {
		key := filepath.Join(dir, fmt.Sprintf("w%d.key", i+1))
		keygen("witness", fmt.Sprintf("w%d.e2e.local", i+1), key)
		ws := StartWitness(t, key, logs, filepath.Join(dir, fmt.Sprintf("w%d", i+1)))
		wv, _ := os.ReadFile(key + ".pub")
		policy += fmt.Sprintf("witness w%d %s %s/\n", i+1, strings.TrimSpace(string(wv)), ws.URL)
		w.Witnesses = append(w.Witnesses, ws)
	}
	policy += "group majority 2 w1 w2 w3\nquorum majority\n"
	os.WriteFile(w.Policy, []byte(policy), 0o644)
	w.Log = StartVigildOn(t, backend, data, roots, "--witness-policy", w.Policy, "--wait-timeout", "3s", "--shutdown-timeout", "2s")
	return w
}

// NewFleet initialises a vigil-fleetsim fleet directory and returns it.
func NewFleet(t testing.TB) string {
	t.Helper()
	fleet := filepath.Join(t.TempDir(), "fleet")
	if _, stderr, code := Run(t, "vigil-fleetsim", "init", "--out", fleet); code != 0 {
		t.Fatalf("fleetsim init: %s", stderr)
	}
	return fleet
}
