// Package e2e builds vigil's commands and runs them as real processes on
// loopback, for the end-to-end tests of each command.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-log/vigil/log/gcptest"
	"github.com/vigil-log/vigil/log/mysqltest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Main runs a package's tests and then removes the binaries Build made and
// stops the MariaDB server and the GCP emulators, if a test started them.
// Use it from TestMain: func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	mysqltest.Stop()
	gcptest.Stop()
	return code
}

// Build compiles every command of the module once per test process and
// returns the directory holding the binaries.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "vigil-e2e-bin-")
		if buildErr != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./cmd/...")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// ModuleFile returns the path of a file given relative to the module root.
func ModuleFile(t testing.TB, rel string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, rel)
}

// Run runs a built command to completion and returns its stdout, stderr
// and exit code.
func Run(t testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(Build(t), bin), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", bin, err)
	}
	return o.String(), e.String(), 0
}

// Server is a running server process of ours (vigild, vigil-witness),
// listening on a loopback port.
type Server struct {
	URL string
	// Data is vigild's data directory, or the witness's state directory.
	Data string
	t    testing.TB
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan error
	log  *syncBuffer
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartVigild starts vigild on a free loopback port with the given data
// directory and trust roots, waits until it answers /healthz, and stops it
// (SIGTERM) when the test ends.
func StartVigild(t testing.TB, data, roots string, extra ...string) *Server {
	t.Helper()
	addr := FreeAddr(t)
	return startServer(t, "vigild", "http://"+addr, data,
		append([]string{"--data", data, "--trust-roots", roots, "--listen", addr, "--origin", "e2e.vigil.local/log"}, extra...))
}

// Backends are the storages vigild runs on in the end-to-end tests, posix
// first: posix, mysql (log/mysqltest's MariaDB) and gcp (log/gcptest's
// Spanner emulator and GCS fake; where the emulator is missing, the gcp
// tests skip loudly, or fail under CI).
var Backends = []string{"posix", "mysql", "gcp"}

// StartVigildOn starts vigild on the named backend, as StartVigild. On
// mysql the log lives in a fresh database of the test binary's MariaDB
// server, on gcp in a fresh database of its Spanner emulator and a fresh
// bucket of its GCS fake (package gcptest: the test must not be parallel),
// and data holds only its key: log.key, made if missing, with its verifier
// key as log.key.pub and, as on posix, log.vkey.
func StartVigildOn(t testing.TB, backend, data, roots string, extra ...string) *Server {
	t.Helper()
	switch backend {
	case "posix":
		return StartVigild(t, data, roots, extra...)
	case "mysql":
		return startFrontend(t, []string{"--storage", "mysql", "--mysql-dsn", mysqltest.DSN(t)}, data, roots, extra...)
	case "gcp":
		e := gcptest.Emulator(t)
		return startFrontend(t, []string{"--storage", "gcp", "--gcp-project", gcptest.Project, "--spanner", e.Database, "--gcs-bucket", e.Bucket}, data, roots, extra...)
	}
	t.Fatalf("no backend %q", backend)
	return nil
}

// startFrontend starts a vigild frontend of the shared log that storage
// (--storage and its flags) names, with the log key in data (made if
// missing, as StartVigildOn), creating the log if the storage holds none
// (--create).
func startFrontend(t testing.TB, storage []string, data, roots string, extra ...string) *Server {
	t.Helper()
	LogKey(t, data)
	addr := FreeAddr(t)
	args := append(slices.Clone(storage), "--log-key", filepath.Join(data, "log.key"), "--create", "--trust-roots", roots, "--listen", addr)
	return startServer(t, "vigild", "http://"+addr, data, append(args, extra...))
}

// LogKey makes a log key for e2e.vigil.local/log in dir, unless there is
// one: log.key, log.key.pub, and a copy of it as log.vkey. It returns the
// vkey.
func LogKey(t testing.TB, dir string) string {
	t.Helper()
	key := filepath.Join(dir, "log.key")
	if _, err := os.Stat(key); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, stderr, code := Run(t, "vigil", "keygen", "--type", "log", "--name", "e2e.vigil.local/log", "--out", key); code != 0 {
			t.Fatal(stderr)
		}
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "log.vkey"), pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vkey, err := os.ReadFile(filepath.Join(dir, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(vkey))
}

// StartWitness starts vigil-witness on a free loopback port with the given
// key, logs file and state directory, like StartVigild.
func StartWitness(t testing.TB, key, logs, state string, extra ...string) *Server {
	t.Helper()
	addr := FreeAddr(t)
	return startServer(t, "vigil-witness", "http://"+addr, state,
		append([]string{"--key", key, "--logs", logs, "--state", state, "--listen", addr}, extra...))
}

func startServer(t testing.TB, bin, url, data string, args []string) *Server {
	t.Helper()
	v := &Server{URL: url, Data: data, t: t, bin: bin, args: args}
	v.Start()
	t.Cleanup(func() {
		if v.cmd != nil {
			v.Stop()
		}
		if t.Failed() {
			// What the server said is often why.
			l := v.log.String()
			l = l[max(0, len(l)-8192):]
			t.Logf("%s %s, the end of its log:\n%s", bin, url, l)
		}
	})
	return v
}

// Start (re)starts the process with its original arguments.
func (v *Server) Start() {
	v.t.Helper()
	v.log = &syncBuffer{}
	v.cmd = exec.Command(filepath.Join(Build(v.t), v.bin), v.args...)
	v.cmd.Stderr = v.log
	if err := v.cmd.Start(); err != nil {
		v.t.Fatalf("starting %s: %v", v.bin, err)
	}
	v.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(v.cmd, v.done)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-v.done:
			v.cmd = nil
			v.t.Fatalf("%s exited at start: %v\n%s", v.bin, err, v.log.String())
		default:
		}
		if resp, err := http.Get(v.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.t.Fatalf("%s did not become healthy\n%s", v.bin, v.log.String())
}

// Another starts a second process with the same arguments on another
// free loopback port: a second frontend of a vigild whose log is in a
// shared database.
func (v *Server) Another(t testing.TB) *Server {
	t.Helper()
	addr := FreeAddr(t)
	args := slices.Clone(v.args)
	i := slices.Index(args, "--listen")
	if i < 0 || i+1 == len(args) {
		t.Fatalf("%s has no --listen to change", v.bin)
	}
	args[i+1] = addr
	return startServer(t, v.bin, "http://"+addr, v.Data, args)
}

// StorageArgs returns the flags that name a vigild's storage, as vigild
// reindex takes them.
func (v *Server) StorageArgs() []string {
	var out []string
	for i := 0; i+1 < len(v.args); i++ {
		switch v.args[i] {
		case "--data", "--storage", "--mysql-dsn", "--gcp-project", "--spanner", "--gcs-bucket", "--log-key":
			out = append(out, v.args[i], v.args[i+1])
		}
	}
	return out
}

// Kill sends SIGKILL and waits for the process to die.
func (v *Server) Kill() {
	v.t.Helper()
	_ = v.cmd.Process.Kill()
	<-v.done
	v.cmd = nil
}

// Stop sends SIGTERM and waits for a clean exit.
func (v *Server) Stop() {
	v.t.Helper()
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-v.done:
		if err != nil {
			v.t.Errorf("%s exited with %v\n%s", v.bin, err, v.log.String())
		}
	case <-time.After(60 * time.Second):
		_ = v.cmd.Process.Kill()
		v.t.Errorf("%s did not stop within a minute of SIGTERM", v.bin)
	}
	v.cmd = nil
}

// Log returns what the process wrote to stderr so far.
func (v *Server) Log() string { return v.log.String() }

// Get fetches a path from the server.
func (v *Server) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b.Bytes(), nil
}

// Lines returns the lines of s, without empty ones.
func Lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
