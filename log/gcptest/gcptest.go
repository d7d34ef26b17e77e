// Package gcptest runs vigil's GCP backend for tests, on emulators: Google's
// Cloud Spanner emulator (emulator_main, from the
// google-cloud-cli-spanner-emulator package) or, in process,
// cloud.google.com/go/spanner/spannertest; and, for GCS, an in-process
// github.com/fsouza/fake-gcs-server on loopback. Google's client libraries
// reach both through SPANNER_EMULATOR_HOST and STORAGE_EMULATOR_HOST, so the
// code under test is the production code, unchanged.
//
// The emulator and the GCS fake are started once per test binary, on first
// use; a package whose tests use them calls Stop after its tests
// (logtest.Main does).
// Each test gets a database and a bucket of its own.
//
// Where the emulator binary is missing, tests that need it fail under CI
// (CI=true: this project's machines ship it) and elsewhere skip with a
// message saying what was not tested and what to install; the in-process
// tests run either way. VIGIL_TEST_SPANNER_EMULATOR, if set, names a running
// emulator (host:port) to use instead.
//
// What the emulators cannot show is listed in deploy/README.md: among it,
// the emulator runs one read-write transaction at a time, aborting the
// others, and spannertest neither isolates transactions nor honours IF NOT
// EXISTS, so it can host one frontend of a log for one start only.
package gcptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	database "cloud.google.com/go/spanner/admin/database/apiv1"
	"cloud.google.com/go/spanner/admin/database/apiv1/databasepb"
	instance "cloud.google.com/go/spanner/admin/instance/apiv1"
	"cloud.google.com/go/spanner/admin/instance/apiv1/instancepb"
	"cloud.google.com/go/spanner/spannertest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/vigil-log/vigil/log/internal/testproc"
)

// Project and Instance are the test project and Spanner instance.
const (
	Project  = "vigil-test"
	Instance = "projects/" + Project + "/instances/test"
)

// Env is a GCP backend for one test: a Spanner database and a GCS bucket.
// The test's environment points Google's clients at them, and so does that
// of the processes it starts.
type Env struct {
	// Database is the Spanner database, projects/P/instances/I/databases/D.
	Database string
	// Bucket is the GCS bucket.
	Bucket string
}

var (
	emulator struct {
		once sync.Once
		addr string
		err  error
		stop func()
	}
	gcs struct {
		once sync.Once
		srv  *fakestorage.Server
		err  error
	}
)

// Stop stops the emulator and the GCS fake, if they were started.
func Stop() {
	if emulator.stop != nil {
		emulator.stop()
		emulator.stop = nil
	}
	if gcs.srv != nil {
		gcs.srv.Stop()
		gcs.srv = nil
	}
}

// Emulator returns a new database on the Cloud Spanner emulator and a new
// bucket, and points the test's environment at them. Tests using it must
// not be parallel (the environment is the process's).
func Emulator(t testing.TB) *Env {
	t.Helper()
	emulator.once.Do(func() { emulator.addr, emulator.stop, emulator.err = startEmulator() })
	if emulator.err != nil {
		msg := fmt.Sprintf("Cloud Spanner emulator: %v. The GCP backend's emulator suite (two frontends, the index in Spanner) did NOT run; install google-cloud-cli-spanner-emulator or set VIGIL_TEST_SPANNER_EMULATOR", emulator.err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("NOT TESTED: " + msg)
	}
	e := newEnv(t, emulator.addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm, err := database.NewDatabaseAdminClient(ctx)
	if err != nil {
		t.Fatalf("Spanner emulator: %v", err)
	}
	defer adm.Close()
	id := e.Database[strings.LastIndex(e.Database, "/")+1:]
	op, err := adm.CreateDatabase(ctx, &databasepb.CreateDatabaseRequest{Parent: Instance, CreateStatement: "CREATE DATABASE `" + id + "`"})
	if err == nil {
		_, err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("Spanner emulator: creating database: %v", err)
	}
	t.Cleanup(func() {
		adm, err := database.NewDatabaseAdminClient(context.Background())
		if err != nil {
			return
		}
		defer adm.Close()
		// The emulator keeps every database in memory.
		_ = adm.DropDatabase(context.Background(), &databasepb.DropDatabaseRequest{Database: e.Database})
	})
	return e
}

// InProcess returns a new in-process spannertest server and a new bucket,
// and points the test's environment at them. spannertest implements less
// than Spanner (see the package comment): one frontend, started once.
func InProcess(t testing.TB) *Env {
	t.Helper()
	srv, err := spannertest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatalf("spannertest: %v", err)
	}
	t.Cleanup(srv.Close)
	return newEnv(t, srv.Addr)
}

// newEnv makes a bucket and names a database for a Spanner at addr.
func newEnv(t testing.TB, spannerAddr string) *Env {
	gcs.once.Do(func() {
		var port int
		if port, gcs.err = freePort(); gcs.err != nil {
			return
		}
		// The client reads objects through the XML API at
		// STORAGE_EMULATOR_HOST/bucket/object, which the fake serves only
		// on its PublicHost.
		gcs.srv, gcs.err = fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme: "http", Host: "127.0.0.1", Port: uint16(port), Writer: nopWriter{},
			PublicHost: fmt.Sprintf("127.0.0.1:%d", port),
		})
	})
	if gcs.err != nil {
		t.Fatalf("GCS fake: %v", gcs.err)
	}
	var b [5]byte
	rand.Read(b[:])
	name := "t" + hex.EncodeToString(b[:])
	gcs.srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	vars := []string{
		"SPANNER_EMULATOR_HOST=" + spannerAddr,
		"STORAGE_EMULATOR_HOST=" + strings.TrimPrefix(gcs.srv.URL(), "http://"),
		// The Spanner client hangs at start against the emulator with
		// multiplexed sessions (cloud.google.com/go/spanner v1.87.0,
		// emulator 528.0.0).
		"GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS=false",
		// The client prints its options at every start otherwise.
		"GOOGLE_CLOUD_SPANNER_DISABLE_LOG_CLIENT_OPTIONS=true",
	}
	for _, v := range vars {
		k, val, _ := strings.Cut(v, "=")
		t.Setenv(k, val)
	}
	return &Env{Database: Instance + "/databases/" + name, Bucket: name}
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// emulatorPaths are where Debian's google-cloud-cli-spanner-emulator puts
// emulator_main, which gcloud emulators spanner start runs.
var emulatorPaths = []string{
	"/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main",
	"/usr/share/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main",
}

// startEmulator runs emulator_main on a free loopback port and creates the
// test instance.
func startEmulator() (addr string, stop func(), err error) {
	os.Setenv("GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS", "false")
	if addr = os.Getenv("VIGIL_TEST_SPANNER_EMULATOR"); addr == "" {
		bin, err := exec.LookPath("emulator_main")
		for _, p := range emulatorPaths {
			if err == nil {
				break
			}
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
		if err != nil {
			return "", nil, errors.New("emulator_main is not installed")
		}
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--host_port", addr)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := testproc.Start(cmd); err != nil {
			return "", nil, fmt.Errorf("starting %s: %w", bin, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		stop = func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				return "", nil, fmt.Errorf("%s exited at start", bin)
			default:
			}
			if time.Now().After(deadline) {
				stop()
				return "", nil, fmt.Errorf("%s did not listen on %s within 30s", bin, addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	os.Setenv("SPANNER_EMULATOR_HOST", addr)
	defer os.Unsetenv("SPANNER_EMULATOR_HOST")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm, err := instance.NewInstanceAdminClient(ctx)
	if err == nil {
		defer adm.Close()
		var op *instance.CreateInstanceOperation
		op, err = adm.CreateInstance(ctx, &instancepb.CreateInstanceRequest{
			Parent: "projects/" + Project, InstanceId: Instance[strings.LastIndex(Instance, "/")+1:],
			Instance: &instancepb.Instance{Config: "projects/" + Project + "/instanceConfigs/emulator-config", DisplayName: "vigil tests", NodeCount: 1},
		})
		if err == nil {
			_, err = op.Wait(ctx)
		}
		if err != nil && strings.Contains(err.Error(), "AlreadyExists") {
			err = nil // a shared emulator (VIGIL_TEST_SPANNER_EMULATOR)
		}
	}
	if err != nil {
		if stop != nil {
			stop()
		}
		return "", nil, fmt.Errorf("creating the test instance: %w", err)
	}
	return addr, stop, nil
}
