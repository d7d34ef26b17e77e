package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	tclient "github.com/transparency-dev/tessera/client"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"github.com/vigil-log/vigil/log/gcptest"
	"github.com/vigil-log/vigil/log/mysqltest"
	"golang.org/x/mod/sumdb/note"
)

// fsck runs Tessera's own log checker, which shares no code with vigil's
// verifier: it fetches every tile and entry bundle over the tlog-tiles API,
// recomputes the tree and compares its root with the signed checkpoint.
func fsck(t *testing.T, v *e2e.Server) {
	t.Helper()
	cmd := exec.Command("go", "tool", "fsck", "--storage_url="+v.URL+"/", "--public_key="+filepath.Join(v.Data, "log.vkey"), "--ui=false", "--N=4")
	cmd.Dir = filepath.Dir(e2e.ModuleFile(t, "go.mod"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Successfully fsck'd log") {
		t.Fatalf("Tessera fsck: %v\n%s", err, out)
	}
}

// TestFleetEndToEnd is the acceptance run, on each backend: 200
// devices with 5 attestations each against a fresh vigild; every saved
// receipt verifies offline with `vigil verify`, and Tessera's fsck
// recomputes the root.
func TestFleetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	for _, backend := range e2e.Backends {
		t.Run(backend, func(t *testing.T) { fleetEndToEnd(t, backend) })
	}
}

func fleetEndToEnd(t *testing.T, backend string) {
	fleet := e2e.NewFleet(t)
	v := e2e.StartVigildOn(t, backend, filepath.Join(t.TempDir(), "data"), filepath.Join(fleet, "trust-roots.json"))
	// Every device at once: a device's entries wait for each other's
	// receipts, so the run takes as long as one device's six checkpoint
	// intervals rather than four rounds of them. Not on gcp: the Spanner
	// emulator runs one read-write transaction at a time, so more devices
	// at once only queue there, and on a loaded machine its answers then
	// outlast the client's deadlines.
	stdout, stderr, code := e2e.Run(t, "vigil-fleetsim", "run", "--state", fleet, "--url", v.URL, "--devices", "200", "--attestations", "5", "--concurrency", concurrency(backend, 200))
	if code != 0 {
		t.Fatalf("fleetsim run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	if !strings.Contains(stdout, "1208 entries submitted (200 enrollments, 8 sboms, 1000 attestations; 0 duplicates)") || !strings.Contains(stdout, "; 0 server errors retried") {
		t.Errorf("fleetsim's last line = %q, want 1208 entries and no server errors", stdout)
	}
	receipts, _ := filepath.Glob(filepath.Join(fleet, "receipts", "*.json"))
	if len(receipts) != 1208 {
		t.Fatalf("%d receipts saved, want 1208", len(receipts))
	}
	args := append([]string{"verify", "-q", "--log-vkey", filepath.Join(v.Data, "log.vkey"),
		"--trust-roots", filepath.Join(fleet, "trust-roots.json"), "--envelope-dir", filepath.Join(fleet, "envelopes")}, receipts...)
	out, errOut, code := e2e.Run(t, "vigil", args...)
	if code != 0 || !strings.Contains(out, "1208 of 1208 bundles verified") {
		t.Fatalf("vigil verify: exit %d\n%s\n%s", code, out, errOut)
	}
	fsck(t, v)
}

// concurrency is how many devices fleetsim simulates at once on backend:
// all n, but on gcp fleetsim's default (see TestFleetEndToEnd).
func concurrency(backend string, n int) string {
	if backend == "gcp" {
		n = 64
	}
	return strconv.Itoa(n)
}

// TestCrashRecovery stops vigild in the middle of a fleet run, with SIGKILL
// and with SIGTERM, on each backend, restarts it, and lets the simulator
// finish. Every entry
// that got a receipt must be in the log with identical bytes, nothing may be
// duplicated, the log must pass fsck, and the final checkpoint must be
// consistent with every checkpoint handed out before.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	for _, backend := range e2e.Backends {
		for _, tc := range []struct {
			name string
			stop func(*e2e.Server)
		}{
			{"SIGKILL", (*e2e.Server).Kill},
			{"SIGTERM", (*e2e.Server).Stop}, // Stop also fails the test on an unclean exit
		} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) { crashRecovery(t, backend, tc.stop) })
		}
	}
}

func crashRecovery(t *testing.T, backend string, stop func(*e2e.Server)) {
	fleet := e2e.NewFleet(t)
	v := e2e.StartVigildOn(t, backend, filepath.Join(t.TempDir(), "data"), filepath.Join(fleet, "trust-roots.json"))
	sim := exec.Command(filepath.Join(e2e.Build(t), "vigil-fleetsim"), "run", "--state", fleet, "--url", v.URL, "--devices", "120", "--attestations", "4", "--concurrency", concurrency(backend, 120))
	var simOut strings.Builder
	sim.Stdout, sim.Stderr = &simOut, &simOut
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a good part of the run has receipts, while it is busy.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, _ := filepath.Glob(filepath.Join(fleet, "receipts", "*.json"))
		if len(n) >= 150 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress before the kill\n%s", simOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop(v)
	time.Sleep(500 * time.Millisecond)
	v.Start()
	if err := sim.Wait(); err != nil {
		t.Fatalf("fleetsim did not finish after the restart: %v\n%s", err, simOut.String())
	}
	ctx := context.Background()
	vb, err := os.ReadFile(filepath.Join(v.Data, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(strings.TrimSpace(string(vb)))
	if err != nil {
		t.Fatal(err)
	}
	cpRaw, err := v.Get(ctx, "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	final, err := client.VerifyCheckpoint(cpRaw, lv)
	if err != nil {
		t.Fatal(err)
	}
	envs, _ := filepath.Glob(filepath.Join(fleet, "envelopes", "*.json"))
	if want := uint64(len(envs)); final.Size != want {
		t.Errorf("log size %d, want %d (one entry per envelope: no duplicates, nothing lost)", final.Size, want)
	}
	f, err := tclient.NewHTTPFetcher(mustURL(t, v.URL+"/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := tclient.NewProofBuilder(ctx, final.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	receipts, _ := filepath.Glob(filepath.Join(fleet, "receipts", "*.json"))
	seen := map[string]bool{}
	for _, r := range receipts {
		rb, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := client.ParseBundle(rb)
		if err != nil {
			t.Fatal(err)
		}
		p, err := client.ParseTLogProof([]byte(b.TLogProof))
		if err != nil {
			t.Fatal(err)
		}
		// The leaf the receipt proves is the leaf in the log now, byte for byte.
		bundle, err := tclient.GetEntryBundle(ctx, f.ReadEntryBundle, p.Index/256, final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if got := bundle.Entries[p.Index%256]; string(got) != string(p.Extra) {
			t.Errorf("%s: the log's leaf %d differs from the receipt's", filepath.Base(r), p.Index)
		}
		// The receipt's checkpoint is consistent with the final one.
		if seen[string(p.Checkpoint)] {
			continue
		}
		seen[string(p.Checkpoint)] = true
		old, err := client.VerifyCheckpoint(p.Checkpoint, lv)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := pb.ConsistencyProof(ctx, old.Size, final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, final.Size, cp, old.Hash, final.Hash); err != nil {
			t.Errorf("checkpoint of size %d is not consistent with the final one: %v", old.Size, err)
		}
	}
	t.Logf("%d receipts checked against %d distinct earlier checkpoints; final size %d", len(receipts), len(seen), final.Size)
	fsck(t, v)
	metrics, err := v.Get(ctx, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{
		`personality_submissions_total{kind="attestation",result="accepted"}`,
		`personality_submission_duration_seconds_bucket{stage="receipt"`,
		"log_integrated_size", "log_unpublished_entries",
		"log_inclusion_self_check_failures_total 0",
		"tessera_", "go_build_info",
	} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestREADMEQuickstart starts what `make run` starts (deploy/local/run.sh:
// two witnesses and a log under a 2-of-2 policy) on free loopback ports, then
// runs the README's quickstart commands as written, so neither can drift.
func TestREADMEQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	readme, err := os.ReadFile(e2e.ModuleFile(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Quickstart")
	if !ok {
		t.Fatal("README has no Quickstart section")
	}
	rest, _, _ = strings.Cut(rest, "\n## ")
	// Every sh block of the section, in order.
	var block string
	for {
		var b string
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```sh\n"); !ok {
			break
		}
		b, rest, _ = strings.Cut(rest, "```")
		block += b
	}

	bin := e2e.Build(t)
	data := filepath.Join(t.TempDir(), "data")
	listen := e2e.FreeAddr(t)
	port := func() string { _, p, _ := net.SplitHostPort(e2e.FreeAddr(t)); return p }
	run := exec.Command("bash", e2e.ModuleFile(t, "deploy/local/run.sh"))
	run.Dir = filepath.Dir(e2e.ModuleFile(t, "go.mod"))
	run.Env = append(os.Environ(), "BIN="+bin, "DATA="+data, "LISTEN="+listen, "WITNESS_PORTS="+port()+" "+port())
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
		_ = run.Wait()
	})
	url := "http://" + listen
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy/local/run.sh did not bring up a log\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	repl := strings.NewReplacer(
		"bin/vigil ", filepath.Join(bin, "vigil")+" ",
		"http://127.0.0.1:8080", url,
		"testdata/", e2e.ModuleFile(t, "testdata")+"/",
		"data/", data+"/",
	)
	work := t.TempDir()
	n := 0
	for _, cmd := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
		cmd = strings.TrimSpace(cmd)
		if cmd == "" || strings.HasPrefix(cmd, "#") {
			continue
		}
		n++
		c := exec.Command("bash", "-c", repl.Replace(cmd))
		c.Dir = work
		c.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(work, "state"))
		got, err := c.CombinedOutput()
		if strings.Contains(cmd, " audit ") {
			// The README says it: exit 1, the development attestation
			// reports firmware no SBOM in the log describes.
			if c.ProcessState.ExitCode() != 1 || !strings.Contains(string(got), "the entries hash to the root") || !strings.Contains(string(got), "unknown_firmware") {
				t.Errorf("README command %q: %v\n%s", cmd, err, got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("README command %q: %v\n%s\n--- run.sh:\n%s", cmd, err, got, out.String())
		} else if strings.Contains(cmd, " verify ") && !strings.Contains(string(got), "cosigned by 2 witnesses") {
			t.Errorf("README command %q printed %q, want a verification under the witness policy", cmd, got)
		}
	}
	if n < 9 {
		t.Errorf("ran %d README commands, want the 9 of the quickstart", n)
	}
}

// TestDataDir checks the create/open rules of the data directory.
func TestDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	roots := e2e.ModuleFile(t, "testdata/dev/trust-roots.json")
	data := filepath.Join(t.TempDir(), "data")
	v := e2e.StartVigild(t, data, roots)
	v.Stop()
	fi, err := os.Stat(filepath.Join(data, "log.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log.key: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
	}
	vkey, err := os.ReadFile(filepath.Join(data, "log.vkey"))
	if err != nil || !strings.HasPrefix(string(vkey), "e2e.vigil.local/log+") {
		t.Fatalf("log.vkey = %q, %v", vkey, err)
	}
	notLog := t.TempDir()
	if err := os.WriteFile(filepath.Join(notLog, "precious.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	keyDir := t.TempDir()
	e2e.LogKey(t, keyDir)
	mysqlKey := filepath.Join(keyDir, "log.key")
	noPub := filepath.Join(t.TempDir(), "log.key") // a key without its log.key.pub
	if kb, err := os.ReadFile(mysqlKey); err != nil || os.WriteFile(noPub, kb, 0o600) != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func()
		args  []string
		want  string
	}{
		{"origin differs from the log's", nil, []string{"--data", data, "--origin", "other.example/log"}, "does not match the log's origin"},
		{"directory of something else", nil, []string{"--data", notLog}, "not a vigil log"},
		{"key readable by others", func() { os.Chmod(filepath.Join(data, "log.key"), 0o644) }, []string{"--data", data}, "readable by others"},
		{"no trust roots", nil, []string{"--data", data, "--trust-roots", ""}, "--trust-roots is required"},
		{"unknown storage", nil, []string{"--storage", "s3", "--data", data}, "want posix, mysql or gcp"},
		{"posix with a DSN", nil, []string{"--data", data, "--mysql-dsn", "root@tcp(127.0.0.1:1)/vigil"}, "are for --storage mysql or gcp"},
		{"mysql without a DSN", nil, []string{"--storage", "mysql", "--log-key", mysqlKey}, "needs --mysql-dsn (or $VIGIL_MYSQL_DSN) and --log-key"},
		{"mysql without a key", nil, []string{"--storage", "mysql", "--mysql-dsn", "root@tcp(127.0.0.1:1)/vigil"}, "needs --mysql-dsn (or $VIGIL_MYSQL_DSN) and --log-key"},
		{"mysql with a data directory", nil, []string{"--storage", "mysql", "--mysql-dsn", "root@tcp(127.0.0.1:1)/vigil", "--log-key", mysqlKey, "--data", data}, "--data is for --storage posix"},
		{"mysql DSN without a database", nil, []string{"--storage", "mysql", "--mysql-dsn", "root@tcp(127.0.0.1:1)/", "--log-key", mysqlKey}, "no database name"},
		{"mysql database with no log, without --create", nil, []string{"--storage", "mysql", "--mysql-dsn", mysqltest.DSN(t), "--log-key", mysqlKey}, "start the first frontend of a new log with --create"},
		{"posix with --create", nil, []string{"--data", data, "--create"}, "are for --storage mysql or gcp"},
		{"posix with a bucket", nil, []string{"--data", data, "--gcs-bucket", "b"}, "are for --storage mysql or gcp"},
		{"mysql with a Spanner database", nil, []string{"--storage", "mysql", "--mysql-dsn", "root@tcp(127.0.0.1:1)/vigil", "--log-key", mysqlKey, "--spanner", "projects/p/instances/i/databases/d"}, "for gcp"},
		{"gcp without a bucket", nil, []string{"--storage", "gcp", "--spanner", "projects/p/instances/i/databases/d", "--log-key", mysqlKey}, "needs --spanner, --gcs-bucket and --log-key"},
		{"gcp with a DSN", nil, []string{"--storage", "gcp", "--spanner", "projects/p/instances/i/databases/d", "--gcs-bucket", "b", "--log-key", mysqlKey, "--mysql-dsn", "root@tcp(127.0.0.1:1)/vigil"}, "--data and --mysql-dsn are for"},
		{"gcp short database without a project", nil, []string{"--storage", "gcp", "--spanner", "instances/i/databases/d", "--gcs-bucket", "b", "--log-key", mysqlKey}, "or --gcp-project"},
		{"gcp malformed database", nil, []string{"--storage", "gcp", "--spanner", "projects/p/databases/d", "--gcs-bucket", "b", "--log-key", mysqlKey}, "want projects/P/instances/I/databases/D"},
		{"gcp database of another project", nil, []string{"--storage", "gcp", "--gcp-project", "q", "--spanner", "projects/p/instances/i/databases/d", "--gcs-bucket", "b", "--log-key", mysqlKey}, "not --gcp-project q"},
		{"mysql key without its .pub", nil, []string{"--storage", "mysql", "--mysql-dsn", "root@tcp(127.0.0.1:1)/vigil", "--log-key", noPub}, "log.key.pub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			args := append([]string{"--trust-roots", roots, "--listen", e2e.FreeAddr(t)}, tc.args...)
			_, stderr, code := e2e.Run(t, "vigild", args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("vigild %v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, stderr, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(notLog); len(entries) != 1 {
		t.Errorf("vigild wrote into a directory that was not its own: %d entries", len(entries))
	}
	// A group may read the key (Kubernetes mounts Secrets so), not write it.
	os.Chmod(filepath.Join(data, "log.key"), 0o640)
	v.Start() // reopens the existing log
	v.Stop()
	os.Chmod(filepath.Join(data, "log.key"), 0o620)
	if _, stderr, code := e2e.Run(t, "vigild", "--trust-roots", roots, "--listen", e2e.FreeAddr(t), "--data", data); code == 0 || !strings.Contains(stderr, "writable by its group") {
		t.Errorf("a group-writable key: exit %d, %s", code, stderr)
	}
}

// TestGCPNeedsCreate: an empty Spanner database and bucket become a log
// only with --create (which the end-to-end tests on gcp pass).
func TestGCPNeedsCreate(t *testing.T) {
	e := gcptest.Emulator(t)
	fleet := e2e.NewFleet(t)
	roots := filepath.Join(fleet, "trust-roots.json")
	keyDir := t.TempDir()
	e2e.LogKey(t, keyDir)
	args := []string{"--trust-roots", roots, "--listen", e2e.FreeAddr(t), "--storage", "gcp", "--gcp-project", gcptest.Project,
		"--spanner", e.Database, "--gcs-bucket", e.Bucket, "--log-key", filepath.Join(keyDir, "log.key")}
	if _, stderr, code := e2e.Run(t, "vigild", args...); code == 0 || !strings.Contains(stderr, "start the first frontend of a new log with --create") {
		t.Errorf("vigild on empty GCP storage without --create: exit %d, stderr %q", code, stderr)
	}
}

// TestWitnessPolicy checks that --witness-policy is parsed and enforced:
// a malformed policy stops vigild, and with a policy whose witness cannot be
// reached, entries are still sequenced but no checkpoint that lacks the
// cosignature is published; waiting submitters get 202 with their index.
func TestWitnessPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	dir := t.TempDir()
	roots := e2e.ModuleFile(t, "testdata/dev/trust-roots.json")
	bad := filepath.Join(dir, "bad-policy.txt")
	os.WriteFile(bad, []byte("witness only-a-name\n"), 0o644)
	_, stderr, code := e2e.Run(t, "vigild", "--data", filepath.Join(dir, "never"), "--origin", "x.example/log",
		"--trust-roots", roots, "--witness-policy", bad, "--listen", e2e.FreeAddr(t))
	if code == 0 || !strings.Contains(stderr, "bad-policy.txt") {
		t.Errorf("vigild with a malformed policy: exit %d, stderr %q; want a failure naming the file", code, stderr)
	}

	key := filepath.Join(dir, "w1.key")
	if _, stderr, code := e2e.Run(t, "vigil", "keygen", "--type", "witness", "--name", "w1.example", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	vkey, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.txt")
	// Nothing listens on the witness's address.
	os.WriteFile(policy, fmt.Appendf(nil, "witness w1 %s http://%s/\nquorum w1\n", strings.TrimSpace(string(vkey)), e2e.FreeAddr(t)), 0o644)

	data := filepath.Join(dir, "data")
	e2e.StartVigild(t, data, roots).Stop() // a log, with its empty checkpoint
	v := e2e.StartVigild(t, data, roots, "--witness-policy", policy, "--wait-timeout", "1s", "--shutdown-timeout", "1s")
	// SIGTERM would wait for a publication that cannot happen, then exit 1.
	defer v.Kill()
	envFile := filepath.Join(dir, "enrollment.dsse.json")
	if _, stderr, code := e2e.Run(t, "vigil", "sign", "--kind", "enrollment",
		"--key", e2e.ModuleFile(t, "testdata/dev/manufacturer.key"), "--device-key", e2e.ModuleFile(t, "testdata/dev/device.key"),
		"--predicate", e2e.ModuleFile(t, "testdata/dev/enrollment.json"), "--out", envFile); code != 0 {
		t.Fatal(stderr)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	s, err := (&client.LogClient{URL: v.URL}).Submit(ctx, env, true)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if s.Bundle != nil || s.Index != 0 {
		t.Errorf("submit answered index %d with bundle %v; want 202 with index 0 and no bundle", s.Index, s.Bundle != nil)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("submit took %v; the wait timeout is 1s", el)
	}
	time.Sleep(time.Second) // several checkpoint intervals
	cp, err := v.Get(ctx, "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(cp), "\n"); len(lines) < 2 || lines[1] != "0" {
		t.Errorf("published checkpoint %q; want the empty tree's, nothing unwitnessed", cp)
	}
	metrics, err := v.Get(ctx, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(metrics), "log_integrated_size 1\n") {
		t.Errorf("the entry was not sequenced while the witness was away")
	}
}

// TestSlowClient checks that a client which never finishes its request
// headers is disconnected (ReadHeaderTimeout, 5s) rather than holding a
// connection forever.
func TestSlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	v := e2e.StartVigild(t, filepath.Join(t.TempDir(), "data"), e2e.ModuleFile(t, "testdata/dev/trust-roots.json"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(v.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /v1/entries HTTP/1.1\r\nHost: vigil\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	if el := time.Since(start); err != nil || el < 4*time.Second || el > 10*time.Second {
		t.Errorf("a half-sent request was cut off after %v (%v); want about 5s", el, err)
	}
}

// TestDemoCluster runs make demo-cluster's script (deploy/local/cluster.sh
// under deploy/local/demo-cluster.sh) on free loopback ports with a small
// fleet: MariaDB, three witnesses and two vigild frontends come up, the
// scenario goes through both frontends, each frontend's answers equal the
// ground truth, the audit replays the log, and everything stops.
func TestDemoCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	// No skip without MariaDB: make test installs it, and cluster.sh
	// fails naming the package to install.
	port := func() string { _, p, _ := net.SplitHostPort(e2e.FreeAddr(t)); return p }
	cmd := exec.Command("bash", e2e.ModuleFile(t, "deploy/local/demo-cluster.sh"))
	cmd.Dir = filepath.Dir(e2e.ModuleFile(t, "go.mod"))
	cmd.Env = append(os.Environ(), "BIN="+e2e.Build(t), "DEVICES=24", "DAYS=5",
		"FRONTENDS="+e2e.FreeAddr(t)+" "+e2e.FreeAddr(t), "WITNESS_PORTS="+port()+" "+port()+" "+port(), "DB_PORT="+port())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo-cluster: %v\n%s", err, out)
	}
	for _, want := range []string{"cluster: vigild frontend 2 at", "every answer equals the ground truth", "anomalies"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo-cluster's output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(string(out), "every answer equals the ground truth"); n != 2 {
		t.Errorf("%d frontends' answers equal the truth, want 2:\n%s", n, out)
	}
}
