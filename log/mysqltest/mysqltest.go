// Package mysqltest runs a real MariaDB server for tests: Debian's
// mariadb-server binaries, started on a throwaway data directory, on
// loopback, once per test binary, and stopped when the binary's tests end.
// Each test gets a database of its own on that server.
//
// A package whose tests use it calls Main from its TestMain, or Stop after
// its tests have run:
//
//	func TestMain(m *testing.M) { mysqltest.Main(m) }
//
// VIGIL_TEST_MYSQL_SERVER, if set, names an existing server to use instead (a DSN
// for github.com/go-sql-driver/mysql, without a database name, whose user
// may create and drop databases). Where neither that nor the MariaDB binaries
// are found, tests that need the server fail, naming what to install: the
// MySQL backend is not optional. `make test` installs mariadb-server first
// (deploy/ci/install-test-deps.sh).
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/vigil-log/vigil/log/internal/testproc"
)

// server is the binary's shared server, started on first use.
var server struct {
	once sync.Once
	dsn  string // without a database name
	err  error
	stop func()
}

// Main runs the tests, then stops the server if one was started.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the server, if one was started, and removes its data.
func Stop() {
	if server.stop != nil {
		server.stop()
		server.stop = nil
	}
}

// DSN creates an empty database for the test on the shared server (starting
// it on first use), drops it when the test ends, and returns its DSN.
func DSN(t testing.TB) string {
	t.Helper()
	server.once.Do(func() { server.dsn, server.stop, server.err = start() })
	if server.err != nil {
		// Not a skip: a skipped backend test guards nothing.
		t.Fatalf("MariaDB: %v (install mariadb-server, as make test does, or set VIGIL_TEST_MYSQL_SERVER)", server.err)
	}
	root, err := sql.Open("mysql", server.dsn)
	if err != nil {
		t.Fatalf("MariaDB: %v", err)
	}
	defer root.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("MariaDB: creating database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", server.dsn)
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("MariaDB: dropping database %s: %v", name, err)
		}
	})
	cfg, err := mysql.ParseDSN(server.dsn)
	if err != nil {
		t.Fatalf("MariaDB: %v", err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// start runs mariadbd on a new data directory and a free loopback port, and
// returns a DSN for its passwordless root@127.0.0.1.
func start() (dsn string, stop func(), err error) {
	if dsn := os.Getenv("VIGIL_TEST_MYSQL_SERVER"); dsn != "" {
		return dsn, nil, nil
	}
	mariadbd, err := exec.LookPath("mariadbd")
	if err != nil {
		// Debian installs the server in sbin, which a user's PATH may lack.
		if _, serr := os.Stat("/usr/sbin/mariadbd"); serr != nil {
			return "", nil, errors.New("mariadbd is not installed")
		}
		mariadbd = "/usr/sbin/mariadbd"
	}
	installDB, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		return "", nil, errors.New("mariadb-install-db is not installed")
	}
	dir, err := os.MkdirTemp("", "vigil-mariadb-")
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, func(), error) {
		os.RemoveAll(dir)
		return "", nil, err
	}
	data := filepath.Join(dir, "data")
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=root"} // mariadbd refuses to run as root otherwise
	}
	install := exec.Command(installDB, append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, user...)...)
	if out, err := install.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("mariadb-install-db: %v\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	logFile := filepath.Join(dir, "error.log")
	cmd := exec.Command(mariadbd, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + filepath.Join(dir, "sock"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--log-error=" + logFile, "--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", port),
		// A test server: durability within the OS is enough, and the
		// throwaway directory is small.
		"--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=256M",
		"--innodb-log-file-size=256M", "--max-connections=1000", "--skip-name-resolve",
	}, user...)...)
	if err := testproc.Start(cmd); err != nil {
		return fail(fmt.Errorf("starting mariadbd: %w", err))
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	dsn = (&mysql.Config{User: "root", Net: "tcp", Addr: fmt.Sprintf("127.0.0.1:%d", port), AllowNativePasswords: true}).FormatDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		db, err := sql.Open("mysql", dsn)
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return dsn, stop, nil
		}
		select {
		case werr := <-exited:
			exited <- werr
			stop()
			log, _ := os.ReadFile(logFile)
			return "", nil, fmt.Errorf("mariadbd exited (%v):\n%s", werr, tail(string(log)))
		case <-ctx.Done():
			log, _ := os.ReadFile(logFile)
			stop()
			return "", nil, fmt.Errorf("mariadbd did not answer in 30s (%v):\n%s", err, tail(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a server log.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
