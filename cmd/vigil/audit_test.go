package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestAudit is issue 4's audit acceptance run over the real binaries: a
// fleetsim log of over 100,000 entries behind a vigild with three witnesses
// audits with an exact root match and zero anomalies; a later audit reads
// only what is new; 'vigil monitor' follows the log, reports a broken device
// chain (a gap) at its index to stdout and to a webhook, and gossips with
// the witnesses; and a corrupted entry bundle on disk is named by its path.
// Precise reports for every kind of dishonest log, with entries injected
// below the personality, are in personality's TestAudit*.
func TestAudit(t *testing.T) {
	skipShort(t)
	fleet := e2e.NewFleet(t)
	// The fleet's manufacturers plus the development one, whose keys sign
	// the chain gap below.
	roots := mergeRoots(t, filepath.Join(fleet, "trust-roots.json"), e2e.ModuleFile(t, "testdata/dev/trust-roots.json"))
	w := e2e.StartWitnessedLog(t, roots)
	start := time.Now()
	if out, errOut, code := e2e.Run(t, "vigil-fleetsim", "run", "--no-wait", "--concurrency", "256",
		"--state", fleet, "--url", w.Log.URL, "--devices", "20000", "--attestations", "4"); code != 0 {
		t.Fatalf("fleetsim: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("fleetsim --no-wait: 100,008 entries in %s", time.Since(start).Round(time.Second))

	// --no-wait returns once entries are sequenced; wait for a checkpoint
	// that covers them all.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		cp, err := w.Log.Get(context.Background(), "/checkpoint")
		if err == nil && len(strings.Split(string(cp), "\n")) > 1 && strings.Split(string(cp), "\n")[1] == "100008" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size 100008 within a minute; last: %q, %v", cp, err)
		}
	}
	state := t.TempDir()
	logArgs := []string{"--policy", w.Policy, "--log", w.Log.URL, "--state", state, "--trust-roots", roots}
	auditJSON := func(t *testing.T, wantCode int, extra ...string) *client.AuditReport {
		t.Helper()
		stdout, stderr, code := e2e.Run(t, "vigil", append(append([]string{"audit", "--json"}, logArgs...), extra...)...)
		if code != wantCode {
			t.Fatalf("vigil audit: exit %d, want %d\n%s", code, wantCode, stderr)
		}
		var r client.AuditReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("vigil audit --json: %v\n%s", err, stdout)
		}
		return &r
	}
	start = time.Now()
	r := auditJSON(t, 0)
	t.Logf("vigil audit of %d entries: %s", r.Size, time.Since(start).Round(time.Millisecond))
	if r.Size != 100_008 || r.Entries != r.Size || r.New != r.Size || r.Devices != 20_000 || r.FirmwareBuilds != 8 || len(r.Anomalies) != 0 {
		t.Fatalf("audit of the honest log: size %d, entries %d, new %d, devices %d, builds %d, anomalies %v",
			r.Size, r.Entries, r.New, r.Devices, r.FirmwareBuilds, r.Anomalies)
	}

	// The monitor follows the log and posts anomalies to a webhook.
	posts := make(chan string, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- string(b)
	}))
	t.Cleanup(hook.Close)
	ctx, cancel := context.WithCancel(context.Background())
	mon := exec.CommandContext(ctx, filepath.Join(e2e.Build(t), "vigil"), append([]string{"monitor", "--interval", "200ms", "--webhook", hook.URL}, logArgs...)...)
	stdout, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	mon.Stderr = &stderr
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); mon.Wait() })
	lines := make(chan string, 1024)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	waitLine := func(want string) string {
		t.Helper()
		timeout := time.After(time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("vigil monitor exited before printing %q\n%s", want, stderr.String())
				}
				if strings.Contains(l, want) {
					return l
				}
			case <-timeout:
				t.Fatalf("vigil monitor did not print %q in a minute\n%s", want, stderr.String())
			}
		}
	}
	waitLine(fmt.Sprintf("size %d (+0 entries), root verified, 0 new anomalies", r.Size))
	waitLine("witness w1: size")

	// The development device enrolls, attests seq 0, then seq 2: a gap.
	dir := t.TempDir()
	mustRun(t, "sign", "--kind", "enrollment", "--key", e2e.ModuleFile(t, "testdata/dev/manufacturer.key"),
		"--device-key", e2e.ModuleFile(t, "testdata/dev/device.key"),
		"--predicate", e2e.ModuleFile(t, "testdata/dev/enrollment.json"), "--out", filepath.Join(dir, "enr.json"))
	mustRun(t, "submit", "--log", w.Log.URL, "--no-wait", filepath.Join(dir, "enr.json"))
	ab, _ := os.ReadFile(e2e.ModuleFile(t, "testdata/dev/attestation.json"))
	var att map[string]any
	json.Unmarshal(ab, &att)
	for _, seq := range []int{0, 2} {
		att["seq"] = seq
		if seq > 0 {
			att["prev"] = strings.Repeat("ab", 32)
		}
		pb, _ := json.Marshal(att)
		pred := filepath.Join(dir, fmt.Sprintf("att%d.pred.json", seq))
		os.WriteFile(pred, pb, 0o644)
		env := filepath.Join(dir, fmt.Sprintf("att%d.json", seq))
		mustRun(t, "sign", "--kind", "attestation", "--key", e2e.ModuleFile(t, "testdata/dev/device.key"), "--predicate", pred, "--out", env)
		mustRun(t, "submit", "--log", w.Log.URL, "--no-wait", env)
	}
	gap := uint64(r.Size + 2)
	want := fmt.Sprintf("ANOMALY chain_gap at index %d (01)00614141999996(21)PUMP0001", gap)
	waitLine(want)
	// The device's firmware has no SBOM in the log: both attestations
	// report unknown firmware, besides the gap.
	wantAnomalies := []string{
		fmt.Sprintf("%s@%d", client.AnomalyUnknownFirmware, gap-1),
		fmt.Sprintf("%s@%d", client.AnomalyChainGap, gap),
		fmt.Sprintf("%s@%d", client.AnomalyUnknownFirmware, gap),
	}
	codes := func(as []client.Anomaly) string {
		var s []string
		for _, a := range as {
			s = append(s, fmt.Sprintf("%s@%d", a.Code, a.Index))
		}
		return strings.Join(s, " ")
	}
	select {
	case p := <-posts:
		var body struct {
			Origin    string           `json:"origin"`
			Anomalies []client.Anomaly `json:"anomalies"`
		}
		if err := json.Unmarshal([]byte(p), &body); err != nil || codes(body.Anomalies) != strings.Join(wantAnomalies, " ") {
			t.Errorf("webhook got %s, want %v", p, wantAnomalies)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the webhook got nothing")
	}
	cancel()
	mon.Wait()

	// The audit is incremental: the monitor's rounds share its directory.
	r2 := auditJSON(t, 1)
	if r2.Size != r.Size+3 || r2.New != 0 || codes(r2.Anomalies) != strings.Join(wantAnomalies, " ") {
		t.Errorf("audit after the monitor: size %d, new %d, anomalies %s; want size %d, none new, %v", r2.Size, r2.New, codes(r2.Anomalies), r.Size+3, wantAnomalies)
	}
	if out, code := run(t, append([]string{"audit"}, logArgs...)...); code != 1 || !strings.Contains(out, "chain_gap") || !strings.Contains(out, "anomalies: 3") {
		t.Errorf("text report: exit %d\n%s", code, out)
	}

	// A corrupted entry bundle on disk is named by its path.
	bundle := filepath.Join(w.Log.Data, "tree", "tile", "entries", "044")
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatalf("reading an entry bundle to corrupt: %v", err)
	}
	b[100] ^= 0xff
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, append([]string{"audit", "-q", "--audit-dir", t.TempDir()}, logArgs...)...)
	if code != 1 || !strings.Contains(out, "tile/entries/044") {
		t.Errorf("audit of a corrupted entry bundle: exit %d, want 1 naming tile/entries/044\n%s", code, out)
	}
}

// mergeRoots writes a trust-roots file holding the manufacturers of both.
func mergeRoots(t *testing.T, a, b string) string {
	t.Helper()
	var all struct {
		Manufacturers []json.RawMessage `json:"manufacturers"`
	}
	for _, f := range []string{a, b} {
		var r struct {
			Manufacturers []json.RawMessage `json:"manufacturers"`
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		all.Manufacturers = append(all.Manufacturers, r.Manufacturers...)
	}
	out, _ := json.Marshal(all)
	name := filepath.Join(t.TempDir(), "trust-roots.json")
	if err := os.WriteFile(name, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}
