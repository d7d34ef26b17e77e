// Package logtest runs a real vigil log for tests: Tessera's POSIX driver
// and badger antispam in a test's temporary directory, Tessera's MySQL
// driver on a real MariaDB (package mysqltest), or Tessera's GCP driver on
// the Spanner emulator or spannertest and a GCS fake (package gcptest), with short batching and
// checkpoint intervals so receipts come quickly.
package logtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/spanner"
	gcs "cloud.google.com/go/storage"
	"github.com/transparency-dev/tessera"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/gcptest"
	"github.com/vigil-log/vigil/log/mysqltest"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the origin of test logs.
const Origin = "test.vigil.local/log"

// New creates a log in t.TempDir and closes it when the test ends. It
// returns the log and the verifier of its checkpoints.
func New(t testing.TB) (*vlog.Log, note.Verifier) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, Origin)
	if err != nil {
		t.Fatalf("generating log key: %v", err)
	}
	return NewWithKey(t, skey)
}

// NewKey returns a new note signer key of the given origin, its signer and
// its verifier.
func NewKey(t testing.TB, origin string) (string, note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return skey, s, v
}

// NewWithKey is New with the given note signer key: two logs made with one
// key are two histories signed by the same log, as a log that shows
// different views to different clients would make.
func NewWithKey(t testing.TB, skey string) (*vlog.Log, note.Verifier) {
	t.Helper()
	return NewOn(t, POSIX(t), skey)
}

// Backend makes the storage of a test log.
type Backend func(t testing.TB) vlog.Storage

// Backends are the storages tests run on, by name. A package using them
// calls Main from its TestMain. "gcp" is the Cloud Spanner emulator (see
// package gcptest for where it is missing); "gcp-inprocess" is spannertest,
// which hosts a log for one start of one frontend.
var Backends = []struct {
	Name string
	New  Backend
}{{"posix", POSIX}, {"mysql", MySQL}, {"gcp", GCP}}

// Main runs the tests, then stops the servers they started (MariaDB, the
// Spanner emulator, the GCS fake).
func Main(m *testing.M) {
	code := m.Run()
	mysqltest.Stop()
	gcptest.Stop()
	os.Exit(code)
}

// POSIX is a POSIX tree and badger antispam index in t.TempDir.
func POSIX(t testing.TB) vlog.Storage {
	dir := t.TempDir()
	return vlog.POSIX{Dir: dir + "/tree", AntispamDir: dir + "/antispam"}
}

// MySQL is a fresh database on the test binary's MariaDB server.
func MySQL(t testing.TB) vlog.Storage {
	t.Helper()
	dsn := mysqltest.DSN(t)
	db, err := vlog.OpenMySQL(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return vlog.MySQL{DSN: dsn, DB: db}
}

// GCP is a fresh database on the test binary's Cloud Spanner emulator and
// a fresh bucket on its GCS fake.
func GCP(t testing.TB) vlog.Storage {
	t.Helper()
	return OnGCP(t, gcptest.Emulator(t))
}

// GCPInProcess is a fresh in-process spannertest database and a fresh
// bucket.
func GCPInProcess(t testing.TB) vlog.Storage {
	t.Helper()
	return OnGCP(t, gcptest.InProcess(t))
}

// OnGCP is the storage of a GCP test environment, through GCS and Spanner
// clients of its own: each call is another frontend of the same log.
func OnGCP(t testing.TB, e *gcptest.Env) vlog.GCP {
	t.Helper()
	c, err := gcs.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := spanner.NewClient(context.Background(), e.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Close)
	return vlog.GCP{Spanner: e.Database, Client: sc, Bucket: e.Bucket, GCS: c}
}

// SecondFrontend is the same MySQL database through a pool of its own, as
// another vigild frontend of the log would reach it.
func SecondFrontend(t testing.TB, st vlog.MySQL) vlog.MySQL {
	t.Helper()
	db, err := vlog.OpenMySQL(context.Background(), st.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return vlog.MySQL{DSN: st.DSN, DB: db}
}

// NewOn creates a log on the given storage with the given note signer key,
// or opens the one there: a second frontend of a shared log. It closes the
// log when the test ends.
func NewOn(t testing.TB, st vlog.Storage, skey string) (*vlog.Log, note.Verifier) {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkeyOf(t, skey))
	if err != nil {
		t.Fatal(err)
	}
	interval := max(100*time.Millisecond, vlog.MinCheckpointInterval(st))
	cfg := vlog.Config{
		Storage:      st,
		Signer:       s,
		Verifier:     v,
		Options:      tessera.NewAppendOptions().WithCheckpointInterval(interval).WithBatching(256, 10*time.Millisecond),
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	}
	l, err := vlog.Create(context.Background(), cfg)
	if errors.Is(err, vlog.ErrExists) {
		l, err = vlog.Open(context.Background(), cfg)
	}
	if err != nil {
		t.Fatalf("creating log: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("closing log: %v", err)
		}
	})
	return l, v
}

// vkeyOf derives the verifier key of a note signer key
// ("PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 and the Ed25519 seed>"),
// which the note package does not offer.
func vkeyOf(t testing.TB, skey string) string {
	t.Helper()
	f := strings.SplitN(skey, "+", 5)
	if len(f) != 5 {
		t.Fatal("malformed note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		t.Fatal("malformed note signer key")
	}
	vkey, err := note.NewEd25519VerifierKey(f[2], ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}
