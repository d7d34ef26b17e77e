package index

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/vigil-log/vigil/log/gcptest"
	"github.com/vigil-log/vigil/log/logtest"
	"github.com/vigil-log/vigil/log/mysqltest"
)

func TestMain(m *testing.M) { logtest.Main(m) }

// backend is one of the databases the index runs on.
type backend struct {
	name string
	// store makes an empty database that lasts as long as tb and returns a
	// function that opens the index in it.
	store func(tb testing.TB) func() (*Index, error)
	// tables lists the names of the database's tables.
	tables string
}

// sharedBackend is a database that several processes share.
type sharedBackend struct {
	name string
	// database makes an empty database that lasts as long as tb and
	// returns a function that opens a pool of connections to it (another
	// process's, say), closed when tb ends.
	database func(tb testing.TB) func() *sql.DB
	// open opens the index in a database.
	open   func(ctx context.Context, db *sql.DB) (*Index, error)
	tables string
}

// sharedBackends are the databases several vigild share: MySQL, on
// log/mysqltest's MariaDB server, and Cloud Spanner, on log/gcptest's
// emulator (the environment the emulator sets is the process's: tests
// using it are not parallel).
var sharedBackends = []sharedBackend{
	{"mysql", func(tb testing.TB) func() *sql.DB {
		dsn := mysqltest.DSN(tb)
		return func() *sql.DB {
			db, err := sql.Open("mysql", dsn)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			return db
		}
	}, OpenMySQL, `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()`},
	{"spanner", func(tb testing.TB) func() *sql.DB {
		e := gcptest.Emulator(tb)
		return func() *sql.DB {
			db, err := OpenSpannerDB(context.Background(), e.Database)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			return db
		}
	}, OpenSpanner, `SELECT table_name FROM information_schema.tables WHERE table_schema = ''`},
}

// backends are the index's backends: SQLite, and the shared ones.
var backends = func() []backend {
	out := []backend{{"sqlite", func(tb testing.TB) func() (*Index, error) {
		dir := tb.TempDir()
		return func() (*Index, error) { return Open(dir) }
	}, `SELECT name FROM sqlite_master WHERE type = 'table'`}}
	for _, sb := range sharedBackends {
		out = append(out, backend{sb.name, func(tb testing.TB) func() (*Index, error) {
			db := sb.database(tb)()
			return func() (*Index, error) { return sb.open(context.Background(), db) }
		}, sb.tables})
	}
	return out
}()

// open opens the index in a new database of the backend, closed when tb
// ends.
func (be backend) open(tb testing.TB) *Index {
	tb.Helper()
	return mustOpen(tb, be.store(tb))
}

// mustOpen opens an index, closed when tb ends.
func mustOpen(tb testing.TB, open func() (*Index, error)) *Index {
	tb.Helper()
	x, err := open()
	if err != nil {
		tb.Fatalf("opening the index: %v", err)
	}
	tb.Cleanup(func() { x.Close() })
	return x
}

// forBackends runs test on each backend, as a subtest named after it.
func forBackends(t *testing.T, test func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { test(t, be) })
	}
}

// TestOpenRelative opens an index under a relative directory, as vigild
// does with --data data: the SQLite URI must name the file, not a host.
func TestOpenRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	x, err := Open("data/index")
	if err != nil {
		t.Fatalf("Open(relative) = %v", err)
	}
	defer x.Close()
	if n, err := x.Size(context.Background()); err != nil || n != 0 {
		t.Errorf("Size of a new index = %d, %v; want 0", n, err)
	}
}

// TestTables checks that the index creates exactly its idx_ tables, which
// leave the names of a shared database's other tables (Tessera's, vigil's
// vigil_ ones) free, and that opening it again changes nothing.
func TestTables(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		open := be.store(t)
		mustOpen(t, open)
		x := mustOpen(t, open)
		rows, err := x.db.Query(be.tables)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			got = append(got, name)
		}
		slices.Sort(got)
		var want []string
		for _, tb := range tables {
			if !strings.HasPrefix(tb.name, "idx_") {
				t.Errorf("table %s lacks the idx_ prefix", tb.name)
			}
			want = append(want, tb.name)
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
	})
}

// TestVersion checks that an index of another schema version is refused.
func TestVersion(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		open := be.store(t)
		x := mustOpen(t, open)
		args, err := x.d.args([]any{"version"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.db.Exec(`UPDATE idx_meta SET v = 99 WHERE k = ?`, args...); err != nil {
			t.Fatal(err)
		}
		y, err := open()
		if err == nil {
			y.Close()
			t.Fatal("an index of schema version 99 opened")
		}
		if !strings.Contains(err.Error(), "schema version 99") {
			t.Errorf("opening an index of schema version 99: %v, want an error that names the version", err)
		}
	})
}

// TestVersion1 checks that a SQLite index of the first schema version,
// whose tables had no prefix, is discarded but for its checkpoints: the
// index that replaces it is empty, so the follower's audit starts again.
func TestVersion1(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`,
		`INSERT INTO meta (k, v) VALUES ('size', 9), ('version', 1)`,
		`CREATE TABLE devices (key_id TEXT PRIMARY KEY, device_id TEXT NOT NULL)`,
		`CREATE INDEX devices_by_id ON devices (device_id)`,
		`CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, raw BLOB NOT NULL)`,
		`INSERT INTO checkpoints (size, raw) VALUES (4, 'four'), (9, 'nine')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	x, err := Open(dir)
	if err != nil {
		t.Fatalf("opening an index of version 1: %v", err)
	}
	defer x.Close()
	ctx := context.Background()
	if n, err := x.Size(ctx); err != nil || n != 0 {
		t.Errorf("Size of an index of version 1, opened = %d, %v; want 0", n, err)
	}
	if raw, err := x.CheckpointCovering(ctx, 5); err != nil || string(raw) != "nine" {
		t.Errorf("CheckpointCovering(5) after opening an index of version 1 = %q, %v; want its checkpoint 9", raw, err)
	}
	var old int
	if err := x.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('meta', 'devices', 'devices_by_id', 'checkpoints')`).Scan(&old); err != nil || old != 0 {
		t.Errorf("tables and indexes of version 1 left: %d, %v", old, err)
	}
}

// makeVersion2 turns the index in db back into one of schema version 2,
// whose components were looked up by their text (by a prefix of it on
// MySQL).
func makeVersion2(tb testing.TB, db *sql.DB, d *dialect) {
	tb.Helper()
	v2 := table{name: "idx_components", key: "sbom, ord", columns: `sbom {int} NOT NULL, ord {int} NOT NULL, firmware {digest} NOT NULL,
		name {text} NOT NULL, version {text} NOT NULL, purl {text} NOT NULL, purl_key {text} NOT NULL, cpe {text} NOT NULL`,
		indexes: []tableIndex{{"idx_components_by_purl", "purl_key, version"}}}
	if d == mysqlDialect {
		v2.indexes[0].columns = "purl_key(255), version(255)"
	}
	var stmts []string
	if d.dropIndexes {
		stmts = append(stmts, "DROP INDEX idx_components_by_purl")
	}
	stmts = append(stmts, "DROP TABLE idx_components")
	for _, s := range d.create(&v2) {
		stmts = append(stmts, d.types.Replace(s))
	}
	ctx := context.Background()
	if err := runDDL(ctx, db, d.ddlBatch, stmts); err != nil {
		tb.Fatal(err)
	}
	args, err := d.args([]any{"version"})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE idx_meta SET v = 2 WHERE k = ?`, args...); err != nil {
		tb.Fatal(err)
	}
}

// TestVersion2 checks that a SQLite index of schema version 2 is discarded
// as it opens, but for its checkpoints, and replaced by an empty one of this
// version; and that a shared one is refused with what to do (a follower's
// rebuild replaces it: see TestSharedFollower).
func TestVersion2(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		open := be.store(t)
		x := mustOpen(t, open)
		l := &batch{tb: t, x: x}
		newFleet(l, 4, 1).day(0)
		l.commit()
		if err := x.RecordCheckpoint(ctx, l.size, []byte("cp")); err != nil {
			t.Fatal(err)
		}
		makeVersion2(t, x.db, x.d)
		y, err := open()
		if be.name != "sqlite" {
			if err == nil || !strings.Contains(err.Error(), "schema version 2") || !strings.Contains(err.Error(), "vigild reindex") {
				t.Errorf("opening a shared index of schema version 2: %v; want a refusal that says to run vigild reindex", err)
			}
			if err == nil {
				y.Close()
			}
			return
		}
		if err != nil {
			t.Fatalf("opening an index of schema version 2: %v", err)
		}
		defer y.Close()
		if n, err := y.Size(ctx); err != nil || n != 0 {
			t.Errorf("Size of an index of version 2, opened = %d, %v; want 0", n, err)
		}
		if raw, err := y.CheckpointCovering(ctx, 0); err != nil || string(raw) != "cp" {
			t.Errorf("CheckpointCovering(0) after opening an index of version 2 = %q, %v; want its checkpoint", raw, err)
		}
		l = &batch{tb: t, x: y}
		newFleet(l, 4, 1)
		l.commit()
		if im, err := y.Impact(ctx, ImpactQuery{PURL: "pkg:generic/openssl@3.0.7"}); err != nil || len(im.Builds) != 4 {
			t.Errorf("Impact(openssl 3.0.7) in the new index = %+v, %v; want 4 builds", im, err)
		}
	})
}

// TestKeysBounded checks that no key or index of the tables holds
// unbounded text, which the databases cannot always index.
func TestKeysBounded(t *testing.T) {
	for _, tb := range tables {
		types := map[string]string{}
		for def := range strings.SplitSeq(tb.columns, ",") {
			f := strings.Fields(def)
			types[f[0]] = f[1]
		}
		keys := []string{tb.key}
		for _, ix := range tb.indexes {
			keys = append(keys, ix.columns)
		}
		for _, k := range keys {
			for col := range strings.SplitSeq(k, ",") {
				col = strings.TrimSpace(col)
				if typ, ok := types[col]; !ok || typ == "{text}" || typ == "{blob}" {
					t.Errorf("%s: key column %q is of type %q", tb.name, col, typ)
				}
			}
		}
	}
}

// TestClose checks that Close closes the database Open opened, and not the
// one given to OpenMySQL or OpenSpanner, which its caller owns.
func TestClose(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		x, err := be.store(t)()
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		err = x.db.Ping()
		if open := err == nil; open != (be.name != "sqlite") {
			t.Errorf("after Close, the database answers a ping: %v; want %v", open, be.name != "sqlite")
		}
	})
}

// TestSnapshot checks that a query reads one committed state throughout:
// a read begun before a commit does not see it, and facts added but not
// committed are seen by none.
func TestSnapshot(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		x := be.open(t)
		l := &batch{tb: t, x: x}
		f := newFleet(l, 2, 2)
		l.commit()
		enrolled := l.size
		r, err := x.read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		f.day(0)
		l.commit()
		f.day(1)
		l.flush() // added, not committed
		udi := f.devs[0].udi
		if d, err := r.device(ctx, udi); err != nil || r.size != enrolled || d.Latest != nil {
			t.Errorf("a read begun before a commit: size %d, device %+v, %v; want size %d and no attestation", r.size, d, err, enrolled)
		}
		info, err := x.Device(ctx, udi)
		if err != nil {
			t.Fatal(err)
		}
		if want := enrolled + uint64(len(f.devs)); info.TreeSize != want || info.Attestations != 1 {
			t.Errorf("a read after a commit, with facts added since: size %d, %d attestations; want size %d, 1 attestation", info.TreeSize, info.Attestations, want)
		}
		if err := x.Truncate(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if n, err := x.Size(ctx); err != nil || n != 0 {
			t.Errorf("Size after Truncate(0) = %d, %v", n, err)
		}
	})
}

// TestHugeArguments checks the queries' answers to numbers beyond the
// databases' signed integers, which the SQLite driver refuses as
// arguments and the MySQL one passes.
func TestHugeArguments(t *testing.T) {
	forBackends(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		x := be.open(t)
		l := &batch{tb: t, x: x}
		f := newFleet(l, 1, 1)
		f.day(0)
		l.commit()
		if err := x.RecordCheckpoint(ctx, l.size, []byte("cp")); err != nil {
			t.Fatal(err)
		}
		for _, index := range []uint64{math.MaxInt64, math.MaxUint64} {
			if raw, err := x.CheckpointCovering(ctx, index); !errors.Is(err, ErrNotFound) {
				t.Errorf("CheckpointCovering(%d) = %q, %v; want ErrNotFound", index, raw, err)
			}
		}
		h, err := x.History(ctx, f.devs[0].udi, math.MaxUint64, 10)
		if err != nil || len(h.Attestations) != 0 || h.NextSeq != nil {
			t.Errorf("History from 2^64-1 = %+v, %v; want no attestations", h, err)
		}
	})
}
