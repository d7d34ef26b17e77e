package log_test

import (
	"context"
	"database/sql"
	"errors"
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

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/logtest"
	"golang.org/x/sync/errgroup"
)

// mustCheckpointCovering waits for a published checkpoint of at least size.
func mustCheckpointCovering(t *testing.T, l *vlog.Log, size uint64) []byte {
	t.Helper()
	leaf, err := l.ReadLeaf(context.Background(), size-1, size)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Prove(context.Background(), size-1, leaf)
	if err != nil {
		t.Fatal(err)
	}
	return r.Checkpoint
}

func TestMain(m *testing.M) { logtest.Main(m) }

// onBackends runs a test on each storage backend.
func onBackends(t *testing.T, test func(t *testing.T, st logtest.Backend)) {
	for _, b := range logtest.Backends {
		t.Run(b.Name, func(t *testing.T) { test(t, b.New) })
	}
}

func TestSequenceProveLookup(t *testing.T) {
	onBackends(t, testSequenceProveLookup)
	// spannertest hosts one start of one frontend (package gcptest): the
	// in-process half of the GCP suite, which runs where the emulator is
	// missing too.
	t.Run("gcp-inprocess", func(t *testing.T) { testSequenceProveLookup(t, logtest.GCPInProcess) })
}

func testSequenceProveLookup(t *testing.T, backend logtest.Backend) {
	ctx := context.Background()
	skey, _, _ := logtest.NewKey(t, logtest.Origin)
	l, v := logtest.NewOn(t, backend(t), skey)
	var leaves [][]byte
	for i := range 300 { // more than one entry bundle (256)
		leaves = append(leaves, fmt.Appendf(nil, "leaf %d", i))
	}
	// Added concurrently, as a server would; each gets its own index.
	index := make([]uint64, len(leaves))
	var g errgroup.Group
	for i, leaf := range leaves {
		g.Go(func() error {
			idx, dup, err := l.Sequence(ctx, leaf)
			if err != nil || dup {
				return fmt.Errorf("Sequence(%q) = %d, %v, %v", leaf, idx, dup, err)
			}
			index[i] = idx
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, idx := range index {
		if seen[idx] || idx >= uint64(len(leaves)) {
			t.Fatalf("index %d assigned twice or out of range", idx)
		}
		seen[idx] = true
	}
	// Reorder so that leaves[i] is the leaf at index i.
	byIndex := make([][]byte, len(leaves))
	for i, idx := range index {
		byIndex[idx] = leaves[i]
	}
	leaves = byIndex
	idx, dup, err := l.Sequence(ctx, leaves[7])
	if err != nil || !dup || idx != 7 {
		t.Errorf("Sequence(duplicate) = %d, %v, %v; want 7, true, nil", idx, dup, err)
	}
	if idx, found, err := l.Lookup(ctx, leaves[42]); err != nil || !found || idx != 42 {
		t.Errorf("Lookup(leaf 42) = %d, %v, %v; want 42, true", idx, found, err)
	}
	if _, found, err := l.Lookup(ctx, []byte("never added")); err != nil || found {
		t.Errorf("Lookup(absent) = %v, %v; want not found", found, err)
	}
	r, err := l.Prove(ctx, 299, leaves[299])
	if err != nil {
		t.Fatalf("Prove: %v", err)
	}
	cp, _, _, err := flog.ParseCheckpoint(r.Checkpoint, logtest.Origin, v)
	if err != nil {
		t.Fatalf("receipt checkpoint: %v", err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 299, cp.Size, rfc6962.DefaultHasher.HashLeaf(leaves[299]), r.Hashes, cp.Hash); err != nil {
		t.Errorf("receipt's inclusion proof: %v", err)
	}
	// Prove refuses to vouch for a leaf that is not the one at the index.
	if _, err := l.Prove(ctx, 5, []byte("not a leaf of the log")); err == nil {
		t.Error("Prove(wrong leaf) succeeded")
	}
	r2, leaf, err := l.ProveUnder(ctx, 3, r.Checkpoint)
	if err != nil || string(leaf) != string(leaves[3]) || r2.Index != 3 {
		t.Errorf("ProveUnder(3) = %v, %q, %v", r2, leaf, err)
	}
	if _, _, err := l.ProveUnder(ctx, cp.Size, r.Checkpoint); !errors.Is(err, vlog.ErrNotFound) {
		t.Errorf("ProveUnder(size) = %v, want ErrNotFound", err)
	}
	var got []string
	if err := l.Leaves(ctx, 250, 260, func(i uint64, b []byte) error {
		if string(b) != string(leaves[i]) {
			t.Errorf("Leaves: index %d holds %q", i, b)
		}
		got = append(got, string(b))
		return nil
	}); err != nil || len(got) != 10 {
		t.Errorf("Leaves(250, 260) = %d leaves, %v", len(got), err)
	}
}

func TestCreateOpen(t *testing.T) { onBackends(t, testCreateOpen) }

func testCreateOpen(t *testing.T, backend logtest.Backend) {
	ctx := context.Background()
	_, s, v := logtest.NewKey(t, "o.example/log")
	st := backend(t)
	opts := tessera.NewAppendOptions().WithCheckpointInterval(max(time.Second, vlog.MinCheckpointInterval(st)))
	if p, ok := st.(vlog.POSIX); ok {
		// Tessera's badger antispam lets its directory go only after the
		// log has closed, so this test, reopening at once, does without.
		st = vlog.POSIX{Dir: p.Dir}
	}
	cfg := vlog.Config{Storage: st, Signer: s, Verifier: v, Options: opts}
	if _, err := vlog.Open(ctx, cfg); err == nil {
		t.Fatal("Open of storage with no log succeeded")
	}
	l, err := vlog.Create(ctx, cfg)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, _, err := l.Sequence(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := vlog.Create(ctx, cfg); err == nil {
		t.Fatal("Create over an existing log succeeded")
	}
	l, err = vlog.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if n, err := l.IntegratedSize(ctx); err != nil || n != 1 {
		t.Errorf("reopened log has size %d, %v; want 1", n, err)
	}
	mustCheckpointCovering(t, l, 1)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The same storage under another key of the same origin is another
	// log's: refused before anything is signed.
	_, s2, v2 := logtest.NewKey(t, "o.example/log")
	if _, err := vlog.Open(ctx, vlog.Config{Storage: cfg.Storage, Signer: s2, Verifier: v2, Options: opts}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("Open under another key = %v, want a refusal", err)
	}
	if l, err = vlog.Open(ctx, cfg); err != nil {
		t.Fatalf("Open after the refusal: %v", err)
	}
	defer l.Close(ctx)
	if _, err := vlog.Create(ctx, vlog.Config{Storage: backend(t), Signer: s}); err == nil {
		t.Error("Create without a verifier succeeded")
	}
}

func TestCreatePOSIX(t *testing.T) {
	ctx := context.Background()
	_, s, v := logtest.NewKey(t, "o.example/log")
	other := t.TempDir()
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, "file"), nil, 0o644)
	if _, err := vlog.Create(ctx, vlog.Config{Storage: vlog.POSIX{Dir: other}, Signer: s, Verifier: v}); err == nil {
		t.Error("Create in a non-empty directory succeeded")
	}
}

// TestCheckpointFloor: Tessera's MySQL driver publishes at most once a
// second, its GCP driver once every 1.2 s; a shorter interval is refused
// with the reason.
func TestCheckpointFloor(t *testing.T) {
	for _, c := range []struct {
		backend logtest.Backend
		floor   string
	}{{logtest.MySQL, "1s"}, {logtest.GCP, "1.2s"}} {
		_, s, v := logtest.NewKey(t, "o.example/log")
		_, err := vlog.Create(context.Background(), vlog.Config{Storage: c.backend(t), Signer: s, Verifier: v,
			Options: tessera.NewAppendOptions().WithCheckpointInterval(250 * time.Millisecond)})
		if err == nil || !strings.Contains(err.Error(), "below the "+c.floor) {
			t.Errorf("Create with a 250ms interval = %v, want a refusal naming %s", err, c.floor)
		}
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	l, _ := logtest.New(t)
	var g errgroup.Group
	for i := range 256 {
		g.Go(func() error {
			_, _, err := l.Sequence(ctx, fmt.Appendf(nil, "%d", i))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.ProveUnder(ctx, 0, mustCheckpointCovering(t, l, 256)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, contentType, cache string
		status                   int
	}{
		{"/checkpoint", "text/plain; charset=utf-8", "no-cache", 200},
		{"/tile/0/000", "application/octet-stream", "public, max-age=31536000, immutable", 200},
		{"/tile/entries/000", "application/octet-stream", "public, max-age=31536000, immutable", 200},
		{"/tile/1/000.p/1", "application/octet-stream", "public, max-age=5", 200},
		{"/tile/0/001", "", "", 404},
		{"/tile/entries/x001/000", "", "", 404},
		{"/tile/entries/x01/000", "", "", 400},
		{"/tile/zz/000", "", "", 400},
		{"/tile/0/abc", "", "", 400},
		{"/tile/entries/000.p/0", "", "", 400},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s = %d (%s), want %d", tc.path, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.contentType)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != tc.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tc.path, cc, tc.cache)
		}
	}
}

// TestMySQLSchema: vigil's copy of Tessera's MySQL schema creates the same
// tables, column for column, as the schema.sql of the Tessera module this
// build uses.
func TestMySQLSchema(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/transparency-dev/tessera").Output()
	if err != nil {
		t.Fatalf("locating the Tessera module: %v", err)
	}
	file, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "storage", "mysql", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tables := func(db *sql.DB) map[string]string {
		t.Helper()
		got := map[string]string{}
		rows, err := db.QueryContext(ctx, "SHOW TABLES")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		rows.Close()
		for _, n := range names {
			var name, create string
			if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE `"+n+"`").Scan(&name, &create); err != nil {
				t.Fatal(err)
			}
			got[n] = create
		}
		return got
	}
	ours := logtest.MySQL(t).(vlog.MySQL)
	_, s, v := logtest.NewKey(t, "o.example/log")
	l, err := vlog.Create(ctx, vlog.Config{Storage: ours, Signer: s, Verifier: v, Options: tessera.NewAppendOptions().WithCheckpointInterval(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	theirs := logtest.MySQL(t).(vlog.MySQL)
	var stmt strings.Builder
	for _, line := range strings.Split(string(file), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		stmt.WriteString(line + "\n")
	}
	for _, q := range strings.Split(stmt.String(), ";") {
		if strings.TrimSpace(q) == "" {
			continue
		}
		if _, err := theirs.DB.ExecContext(ctx, q); err != nil {
			t.Fatalf("Tessera's schema.sql: %v", err)
		}
	}
	want := tables(theirs.DB)
	got := tables(ours.DB)
	for name, create := range want {
		if got[name] != create {
			t.Errorf("table %s:\nvigil creates %s\nTessera's schema.sql %s", name, got[name], create)
		}
	}
	if len(want) != 5 {
		t.Errorf("Tessera's schema.sql made %d tables, want 5", len(want))
	}
}
