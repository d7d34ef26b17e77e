// Package index is vigil's query index: the facts of a log's entries, as
// [client.Audit] judges and folds them, kept in a SQL database, and the
// queries of the log's query API over them. The database is an embedded
// SQLite file (Open), or tables in a database that several vigild share: a
// MySQL or MariaDB database (OpenMySQL) or a Cloud Spanner one
// (OpenSpanner). The three give the same answers.
//
// The index is derived state. vigild builds it by auditing its own log
// (Follow), and rebuilds it from the log alone when it is missing or behind;
// vigil audit builds a regulator's own copy with the same code, so the two
// can be compared answer for answer. An entry the audit finds the log should
// have refused changes no answer: only its anomalies are kept.
//
// The database is written by one Audit at a time (client.Audit locks its
// directory, a shared database's lease elects one writer) and read
// concurrently: SQLite's write-ahead log, InnoDB's multiversioning, or
// Spanner's read-only transactions let queries read the last committed state
// while the follower writes, and each query reads in one transaction, so its
// answer is of exactly TreeSize entries.
//
// # Cloud Spanner
//
// Spanner bounds a commit to 80,000 mutations, counted a cell at a time,
// secondary indexes included. The index on Spanner therefore commits in
// steps: Add commits, at the size it has reached, whenever the facts added
// since the last commit reach the dialect's budget, 1,000 mutations, kept
// far below the limit so that a write is short (an SBOM of thousands of components
// may take several commits, its build's row last, so that queries see it
// whole or not at all); Truncate cuts from the top down, each step leaving
// the index as a Commit of a smaller size would. So the index may get ahead
// of its audit's state, as after a crash between their commits, which
// client.Audit mends with Truncate. A cut through many entries scans
// idx_devices and idx_device_firmware once a step.
//
// Spanner also bounds an index key to 8 KiB, so components are looked up
// by the hashes of their package-URL key and version, which may be of any
// length. Statements take at most 950 arguments, so lists are passed as one
// array.
//
// The tests run on the Cloud Spanner emulator, which cannot show how real
// Spanner plans and times the queries (the emulator has no query plans or
// costs, and takes milliseconds a statement), nor the limit on mutations
// (it committed 30,000 rows of an indexed table at once), nor how
// concurrent writes wait (it runs one read-write transaction at a time: a
// second aborts the first, which go-sql-spanner replays).
package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	spannerdriver "github.com/googleapis/go-sql-spanner"
	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no cgo, so the binaries stay static
)

// File is the index's database file name in a directory.
const File = "index.db"

// schemaVersion is the version of tables that idx_meta records. Version 1
// had the same tables without the idx_ prefix, which a MySQL database
// shared with Tessera and the rest of vigil needs. Version 2 looked
// components up by their package-URL key and version themselves, which
// Spanner cannot index once they pass its 8 KiB bound on a key; version 3
// looks them up by their hashes.
const schemaVersion = 3

// tables are the index's tables, in every dialect's SQL but for the column
// types, written as placeholders: {int}, {bool}, {blob}; text as {digest}
// (a hex SHA-256), {id} (a UDI or DI), {label} (text client.NewEntry bounds)
// or {text} (unbounded, so in no index: the databases bound a key, MySQL to
// 3 KiB, Spanner to 8 KiB).
//
// Log indexes are the primary keys where an entry owns its row, so adding a
// fact twice replaces it; rows derived from several entries (a device's
// latest attestation, the first time a model ran a build) keep the extreme
// that the order-free MIN or MAX gives.
var tables = []table{
	{name: "idx_meta", columns: "k {label} NOT NULL, v {int} NOT NULL", key: "k"},
	{name: "idx_devices", key: "key_id", columns: `key_id {digest} NOT NULL, device_id {id} NOT NULL, udi {id} NOT NULL,
		di {id} NOT NULL, manufacturer {text} NOT NULL, model {text} NOT NULL, enrollment {int} NOT NULL,
		latest {int}, latest_seq {int}, latest_time {int}, latest_firmware {digest}, latest_version {label}`,
		indexes: []tableIndex{
			{"idx_devices_by_id", "device_id, enrollment"},
			// Covering indexes for the device lists of impact queries
			// (refColumns): thousands of rows are read from the index
			// alone, with no table lookups.
			{"idx_device_refs_by_firmware", "latest_firmware, latest_time, udi, enrollment, latest, latest_seq, latest_version"},
			{"idx_device_refs_by_model", "di, latest_time, udi, enrollment, latest, latest_seq, latest_firmware, latest_version"},
		}},
	{name: "idx_attestations", key: "idx", columns: `idx {int} NOT NULL, key_id {digest} NOT NULL, seq {int} NOT NULL,
		time {int} NOT NULL, firmware {digest} NOT NULL, version {label} NOT NULL, head {bool} NOT NULL`,
		indexes: []tableIndex{
			{"idx_attestations_by_seq", "key_id, seq, idx"},
			{"idx_attestations_by_time", "key_id, head, time, idx"},
			{"idx_attestations_by_firmware", "firmware, idx"},
		}},
	{name: "idx_device_firmware", key: "key_id, firmware", withoutRowID: true,
		columns: "key_id {digest} NOT NULL, firmware {digest} NOT NULL, first {int} NOT NULL",
		indexes: []tableIndex{{"idx_device_firmware_by_firmware", "firmware, first"}}},
	{name: "idx_model_firmware", key: "firmware, di", withoutRowID: true,
		columns: "firmware {digest} NOT NULL, di {id} NOT NULL, first {int} NOT NULL"},
	{name: "idx_firmware", key: "digest",
		columns: "digest {digest} NOT NULL, name {text} NOT NULL, version {text} NOT NULL, manufacturer {text} NOT NULL, sbom {int} NOT NULL"},
	{name: "idx_components", key: "sbom, ord", columns: `sbom {int} NOT NULL, ord {int} NOT NULL, firmware {digest} NOT NULL,
		name {text} NOT NULL, version {text} NOT NULL, purl {text} NOT NULL, purl_key {text} NOT NULL, cpe {text} NOT NULL,
		purl_hash {digest} NOT NULL, version_hash {digest} NOT NULL`,
		// Unbounded text is looked up by its hash (lookupHash).
		indexes: []tableIndex{{"idx_components_by_purl", "purl_hash, version_hash"}}},
	{name: "idx_revocations", key: "idx", columns: "idx {int} NOT NULL, type {label} NOT NULL, target {id} NOT NULL",
		indexes: []tableIndex{{"idx_revocations_by_target", "target, type"}}},
	{name: "idx_field_actions", key: "idx",
		columns: "idx {int} NOT NULL, id {label} NOT NULL, manufacturer {text} NOT NULL, body {text} NOT NULL",
		indexes: []tableIndex{{"idx_field_actions_by_id", "id, idx"}}},
	{name: "idx_checkpoints", key: "size", columns: "size {int} NOT NULL, raw {blob} NOT NULL"},
	{name: "idx_anomalies", key: "idx, n", columns: "idx {int} NOT NULL, n {int} NOT NULL, code {label} NOT NULL, body {text} NOT NULL"},
}

// Index is a query index in a SQL database. It implements client.Indexer
// for one audit at a time; its queries may run concurrently with that audit
// and each other, and with those of other Index values on the same
// database.
type Index struct {
	db    *sql.DB
	d     *dialect
	ownDB bool    // Open opened db, and Close closes it
	w     *writer // open from the first Add after a Commit until the next
	// guard, if set, runs first in every write transaction and fails it
	// if this process may no longer write (a shared index's lease).
	guard func(ctx context.Context, tx *sql.Tx) error
	// budget is d.budget, or a test's.
	budget int
	// testingOnlySplit, if set, runs after split commits.
	testingOnlySplit func(size uint64)
}

// newIndex returns the index in db, whose tables exist.
func newIndex(db *sql.DB, d *dialect) *Index { return &Index{db: db, d: d, budget: d.budget} }

// writer is a write transaction and the statements prepared in it: the
// fold runs the same few statements for every entry, and parsing each anew
// cost a fifth of the time.
type writer struct {
	tx    *sql.Tx
	d     *dialect
	stmts map[string]*writeStmt
	// mutations bounds those of the statements run (see table.mutations).
	mutations int
	// held counts the statements the driver holds back (see writeBatch).
	held int
}

// writeStmt is a prepared statement and the mutations of one run.
type writeStmt struct {
	*sql.Stmt
	mutations int
}

func (w *writer) stmt(ctx context.Context, query string) (*writeStmt, error) {
	st, ok := w.stmts[query]
	if !ok {
		prepared, err := w.tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		st = &writeStmt{prepared, writeMutations(query)}
		w.stmts[query] = st
	}
	return st, nil
}

func (w *writer) exec(ctx context.Context, query string, args ...any) error {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return err
	}
	if args, err = w.d.args(args); err != nil {
		return err
	}
	if _, err = st.ExecContext(ctx, args...); err != nil {
		return err
	}
	w.mutations += st.mutations
	if b := w.d.batch; b != nil {
		if w.held++; w.held == b.length {
			w.held = 0
			_, err = w.tx.ExecContext(ctx, b.run)
		}
	}
	return err
}

// Open opens the index in dir/File, a SQLite database, creating it (and
// dir) if missing. An index of an earlier schema version is discarded, but
// for its recorded checkpoints: the empty index that replaces it is behind
// its audit's state, so the audit starts again and rebuilds it. An index of
// a later version is refused.
func Open(dir string) (*Index, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening the index: %w", err)
	}
	// Every connection: write-ahead logging (readers do not block the
	// writer), a full fsync at commit (a committed size survives a power
	// cut, so the audit's state never gets ahead of it), and a wait rather
	// than an error when the writer holds the lock.
	abs, err := filepath.Abs(filepath.Join(dir, File))
	if err != nil {
		return nil, fmt.Errorf("opening the index: %w", err)
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening the index: %w", err)
	}
	ctx := context.Background()
	if err := create(ctx, db, sqliteDialect); err != nil {
		db.Close()
		return nil, err
	}
	if err := dropVersion1(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := discardOlder(ctx, db, sqliteDialect); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the index: %w", err)
	}
	if err := checkVersion(ctx, db, sqliteDialect); err != nil {
		db.Close()
		return nil, err
	}
	x := newIndex(db, sqliteDialect)
	x.ownDB = true
	return x, nil
}

// OpenMySQL opens the index in a MySQL or MariaDB database, creating its
// tables if missing; an index of another schema version is refused (a
// follower's rebuild, see FollowerConfig.Rebuild, replaces one of an
// earlier version). The
// tables' names all begin with idx_, so the database may hold others', such
// as Tessera's. Several Index values, in one process or many, may share the
// database, but only one may write it at a time (see Index).
//
// The caller owns db and closes it after the Index. Its DSN needs no
// particular parameters: the index stores times as integers and sends one
// statement at a time. With interpolateParams=true the driver saves a round
// trip a statement: a device query took half the time on a local MariaDB.
func OpenMySQL(ctx context.Context, db *sql.DB) (*Index, error) {
	return openShared(ctx, db, mysqlDialect)
}

// OpenSpannerDB opens a pool of connections to a Cloud Spanner database,
// projects/P/instances/I/databases/D (a go-sql-spanner DSN, which may
// carry ;name=value options), and checks that it answers. Google's client
// library finds credentials itself (Application Default Credentials), and
// the emulator through SPANNER_EMULATOR_HOST.
func OpenSpannerDB(ctx context.Context, database string) (*sql.DB, error) {
	db, err := sql.Open("spanner", database)
	if err != nil {
		return nil, fmt.Errorf("opening Spanner database %s: %w", database, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening Spanner database %s: %w", database, err)
	}
	return db, nil
}

// OpenSpanner opens the index in a Cloud Spanner database (GoogleSQL), as
// OpenMySQL does in a MySQL one: db is a go-sql-spanner pool, such as
// OpenSpannerDB's, which the caller closes after the Index. Creating the
// tables is a schema change, which takes Spanner some seconds even when
// they exist.
func OpenSpanner(ctx context.Context, db *sql.DB) (*Index, error) {
	return openShared(ctx, db, spannerDialect)
}

// openShared opens the index in a database that several processes may
// share.
func openShared(ctx context.Context, db *sql.DB, d *dialect) (*Index, error) {
	if err := create(ctx, db, d); err != nil {
		return nil, err
	}
	if err := checkVersion(ctx, db, d); err != nil {
		return nil, err
	}
	return newIndex(db, d), nil
}

// sharedDialect is the dialect of a shared database, by its driver:
// go-sql-spanner's is Cloud Spanner's; any other is taken for MySQL's.
func sharedDialect(db *sql.DB) *dialect {
	if _, ok := db.Driver().(*spannerdriver.Driver); ok {
		return spannerDialect
	}
	return mysqlDialect
}

// create creates the index's tables if missing.
func create(ctx context.Context, db *sql.DB, d *dialect) error {
	if err := runDDL(ctx, db, d.ddlBatch, d.ddl()); err != nil {
		return fmt.Errorf("creating the index's tables: %w", err)
	}
	args, err := d.args([]any{"size", "version", schemaVersion})
	if err == nil {
		_, err = db.ExecContext(ctx, d.keep("idx_meta", "k, v", "(?, 0), (?, ?)", "k"), args...)
	}
	if err != nil {
		return fmt.Errorf("creating the index's tables: %w", err)
	}
	return nil
}

// runDDL runs schema statements on one connection, one at a time (a MySQL
// DSN may not allow several in one Exec), or in one batch (see
// dialect.ddlBatch).
func runDDL(ctx context.Context, db *sql.DB, batch bool, stmts []string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if batch {
		stmts = slices.Concat([]string{"START BATCH DDL"}, stmts, []string{"RUN BATCH"})
	}
	// Spanner makes one schema change at a time and refuses others: see
	// log.RetrySchemaChange.
	return vlog.RetrySchemaChange(ctx, nil, func() error {
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				if batch {
					conn.ExecContext(ctx, "ABORT BATCH") // if the failure left one open
				}
				return err
			}
		}
		return nil
	})
}

// discardOlder discards an index of an earlier schema version but for its
// recorded checkpoints, which are not derived from the log's entries (the
// first one over an entry bounds when it was logged), and creates its
// tables again, empty: the index is then behind its audit's state, so the
// audit starts again and rebuilds it. It leaves an index of this version,
// or of a later one, as it is.
func discardOlder(ctx context.Context, db *sql.DB, d *dialect) error {
	var v int
	if err := queryMeta(ctx, db, d, "version", &v); err != nil {
		return fmt.Errorf("reading the index's version: %w", err)
	}
	if v >= schemaVersion {
		return nil
	}
	if err := runDDL(ctx, db, d.ddlBatch, d.dropDDL()); err != nil {
		return fmt.Errorf("discarding an index of schema version %d: %w", v, err)
	}
	return create(ctx, db, d)
}

// checkVersion refuses an index of another schema version.
func checkVersion(ctx context.Context, db *sql.DB, d *dialect) error {
	var v int
	if err := queryMeta(ctx, db, d, "version", &v); err != nil {
		return fmt.Errorf("reading the index's version: %w", err)
	}
	switch {
	case v < schemaVersion:
		return fmt.Errorf("the index is of schema version %d, older than this vigil's %d: rebuild it from the log with vigild reindex, with every frontend stopped", v, schemaVersion)
	case v > schemaVersion:
		return fmt.Errorf("the index is of schema version %d, and this vigil reads version %d: discard it (its file, or its idx_ tables in MySQL or Spanner) and the follower rebuilds it from the log", v, schemaVersion)
	}
	return nil
}

// queryer is a database, a transaction or a connection.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryMeta reads idx_meta's value of k into v.
func queryMeta(ctx context.Context, q queryer, d *dialect, k string, v any) error {
	args, err := d.args([]any{k})
	if err != nil {
		return err
	}
	return q.QueryRowContext(ctx, `SELECT v FROM idx_meta WHERE k = ?`, args...).Scan(v)
}

// version1Tables are the tables of the first schema version, in SQLite.
var version1Tables = []string{"meta", "devices", "attestations", "device_firmware", "model_firmware", "firmware", "components", "revocations", "field_actions", "checkpoints", "anomalies"}

// dropVersion1 drops the tables of an index of the first schema version in
// a SQLite database, if it has them, after copying the checkpoints they
// recorded: those are not derived from the log's entries, and the first
// one over an entry bounds when it was logged.
func dropVersion1(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("discarding an index of version 1: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).Scan(&n); err != nil {
		return fmt.Errorf("looking for an index of version 1: %w", err)
	}
	if n == 0 {
		return nil
	}
	stmts := []string{`INSERT OR IGNORE INTO idx_checkpoints (size, raw) SELECT size, raw FROM checkpoints`}
	for _, t := range version1Tables {
		stmts = append(stmts, `DROP TABLE IF EXISTS `+t)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("discarding an index of version 1: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("discarding an index of version 1: %w", err)
	}
	return nil
}

// Close rolls back facts added but not committed and, if Open opened the
// database, closes it. It does not close the *sql.DB given to OpenMySQL or
// OpenSpanner.
func (x *Index) Close() error {
	if x.w != nil {
		x.w.tx.Rollback()
		x.w = nil
	}
	if !x.ownDB {
		return nil
	}
	return x.db.Close()
}

// Size returns the number of log entries the committed index covers.
func (x *Index) Size(ctx context.Context) (uint64, error) {
	var n uint64
	if err := queryMeta(ctx, x.db, x.d, "size", &n); err != nil {
		return 0, fmt.Errorf("reading the index's size: %w", err)
	}
	return n, nil
}

// inTx runs fn in a write transaction of its own, which guard, if set,
// checks first, and commits it.
func inTx(ctx context.Context, db *sql.DB, guard func(context.Context, *sql.Tx) error, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if guard != nil {
		if err := guard(ctx, tx); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// begin returns the open write transaction, starting one if there is none.
func (x *Index) begin(ctx context.Context) (*writer, error) {
	if x.w == nil {
		// The transaction outlives the call: database/sql would roll it
		// back when ctx ends, and an audit adds under one context and
		// commits under another.
		tx, err := x.db.BeginTx(context.WithoutCancel(ctx), nil)
		if err != nil {
			return nil, fmt.Errorf("starting a write: %w", err)
		}
		if x.guard != nil {
			if err := x.guard(ctx, tx); err != nil {
				tx.Rollback()
				return nil, err
			}
		}
		if b := x.d.batch; b != nil {
			for _, s := range b.begin {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					tx.Rollback()
					return nil, fmt.Errorf("starting a write: %w", err)
				}
			}
		}
		x.w = &writer{tx: tx, d: x.d, stmts: map[string]*writeStmt{}}
	}
	return x.w, nil
}

// write runs a statement in the open write transaction, starting one if
// there is none.
func (x *Index) write(ctx context.Context, query string, args ...any) error {
	w, err := x.begin(ctx)
	if err != nil {
		return err
	}
	return w.exec(ctx, query, args...)
}

// split commits the open write transaction, recording size, once its
// mutations reach the budget; the next write begins another. Every fact
// below size must have been added.
func (x *Index) split(ctx context.Context, size uint64) error {
	if x.budget == 0 || x.w == nil || x.w.mutations < x.budget {
		return nil
	}
	if err := x.Commit(ctx, size); err != nil {
		return err
	}
	if x.testingOnlySplit != nil {
		x.testingOnlySplit(size)
	}
	return nil
}

// Add records facts; see client.Indexer. They are visible to queries once
// committed. Where the dialect has a budget (Spanner), Add also commits on
// the way, at the index's size so far.
func (x *Index) Add(ctx context.Context, facts []client.Fact) error {
	for i := range facts {
		f := &facts[i]
		if err := x.split(ctx, f.Index); err != nil {
			return err
		}
		if err := x.add(ctx, f); err != nil {
			return fmt.Errorf("indexing entry %d: %w", f.Index, err)
		}
	}
	return nil
}

// add records one fact.
func (x *Index) add(ctx context.Context, f *client.Fact) error {
	for n, an := range f.Anomalies {
		body, err := json.Marshal(an)
		if err != nil {
			return err
		}
		if err := x.write(ctx, x.d.replace+` INTO idx_anomalies (idx, n, code, body) VALUES (?, ?, ?, ?)`, f.Index, n, an.Code, body); err != nil {
			return err
		}
	}
	if !f.Accepted || f.Entry == nil {
		return nil
	}
	e := f.Entry
	switch e.Kind {
	case client.KindEnrollment:
		u := e.UDI()
		// The first enrollment of a key wins, as in client.State.
		return x.write(ctx, x.d.keep("idx_devices", "key_id, device_id, udi, di, manufacturer, model, enrollment", placeholders(7), "key_id"),
			e.DeviceKey().ID(), u.DeviceID(), u.String(), u.DI.String(), f.Manufacturer, e.Enrollment.Model, f.Index)
	case client.KindAttestation:
		return x.addAttestation(ctx, f)
	case client.KindSBOM:
		return x.addSBOM(ctx, f)
	case client.KindRevocation:
		t := e.Revocation.Target
		target := t.ID
		if t.Type == client.TargetUDI {
			target = e.UDI().DeviceID()
		}
		return x.write(ctx, x.d.replace+` INTO idx_revocations (idx, type, target) VALUES (?, ?, ?)`, f.Index, t.Type, target)
	case client.KindFieldAction:
		body, err := json.Marshal(e.FieldAction)
		if err != nil {
			return err
		}
		return x.write(ctx, x.d.replace+` INTO idx_field_actions (idx, id, manufacturer, body) VALUES (?, ?, ?, ?)`, f.Index, e.FieldAction.ID, f.Manufacturer, body)
	}
	return nil
}

func (x *Index) addAttestation(ctx context.Context, f *client.Fact) error {
	e, at := f.Entry, f.Entry.Attestation
	keyID, t := e.SignerKeyID(), at.Time.UnixNano()
	fw := at.Firmware
	if err := x.write(ctx, x.d.replace+` INTO idx_attestations (idx, key_id, seq, time, firmware, version, head) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		f.Index, keyID, at.Seq, t, fw.Digest, fw.Version, f.Head); err != nil {
		return err
	}
	if f.Head {
		if err := x.write(ctx, `UPDATE idx_devices SET latest = ?, latest_seq = ?, latest_time = ?, latest_firmware = ?, latest_version = ?
			WHERE key_id = ? AND (latest IS NULL OR latest < ?)`, f.Index, at.Seq, t, fw.Digest, fw.Version, keyID, f.Index); err != nil {
			return err
		}
	}
	if err := x.write(ctx, x.d.least("idx_device_firmware", "key_id, firmware, first", "key_id, firmware", "first"),
		keyID, fw.Digest, f.Index); err != nil {
		return err
	}
	return x.write(ctx, x.d.least("idx_model_firmware", "firmware, di, first", "firmware, di", "first"),
		fw.Digest, e.UDI().DI.String(), f.Index)
}

// addSBOM records a firmware build from its first SBOM, with the SBOM's
// components; a later SBOM of the same build changes nothing, as in the
// audit. The build's row goes in last, so that a query, which finds
// components through it (see reader.components), sees none of an SBOM
// whose components split committed in part; components of the entry that
// a split or a Truncate left behind go first.
func (x *Index) addSBOM(ctx context.Context, f *client.Fact) error {
	e, digest := f.Entry, f.Entry.FirmwareDigest()
	if first, ok, err := x.firstSBOM(ctx, digest); err != nil {
		return err
	} else if ok && first != f.Index {
		return nil
	}
	if err := x.write(ctx, `DELETE FROM idx_components WHERE sbom = ?`, f.Index); err != nil {
		return err
	}
	for i, c := range e.SBOM.Components {
		key, _, err := client.PackageKey(c.PURL)
		if err != nil {
			key = "" // no package URL, or one the purl library refuses: found by no purl query
		}
		if err := x.write(ctx, x.d.replace+` INTO idx_components (sbom, ord, firmware, name, version, purl, purl_key, cpe, purl_hash, version_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.Index, i, digest, c.Name, c.Version, c.PURL, key, c.CPE, lookupHash(key), lookupHash(c.Version)); err != nil {
			return err
		}
		if err := x.split(ctx, f.Index); err != nil {
			return err
		}
	}
	return x.write(ctx, x.d.keep("idx_firmware", "digest, name, version, manufacturer, sbom", placeholders(5), "digest"),
		digest, e.SBOM.Name, e.SBOM.Version, f.Manufacturer, f.Index)
}

// lookupHash is the hex SHA-256 of unbounded text that a query looks up:
// the databases index it, where they could not always index the text.
func lookupHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// firstSBOM returns the index of the first SBOM of a build, if the index
// has it, as the open write transaction sees it.
func (x *Index) firstSBOM(ctx context.Context, digest string) (uint64, bool, error) {
	w, err := x.begin(ctx)
	if err != nil {
		return 0, false, err
	}
	st, err := w.stmt(ctx, `SELECT sbom FROM idx_firmware WHERE digest = ?`)
	if err != nil {
		return 0, false, err
	}
	args, err := x.d.args([]any{digest})
	if err != nil {
		return 0, false, err
	}
	var first uint64
	err = st.QueryRowContext(ctx, args...).Scan(&first)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return first, err == nil, err
}

// Commit makes the facts added durable and records size; see
// client.Indexer.
func (x *Index) Commit(ctx context.Context, size uint64) error {
	w, err := x.begin(ctx)
	if err != nil {
		return err
	}
	x.w = nil
	if err := w.exec(ctx, `UPDATE idx_meta SET v = ? WHERE k = ?`, size, "size"); err != nil {
		w.tx.Rollback()
		return fmt.Errorf("recording the index's size: %w", err)
	}
	if err := w.tx.Commit(); err != nil {
		return fmt.Errorf("committing the index: %w", err)
	}
	return nil
}

// cuts are the statements that cut the index to a size (their one
// argument), but for idx_components and idx_meta.
var cuts = []string{
	`DELETE FROM idx_anomalies WHERE idx >= ?`,
	`DELETE FROM idx_devices WHERE enrollment >= ?`,
	`DELETE FROM idx_attestations WHERE idx >= ?`,
	// first is the least index of the pair's attestations: a pair
	// first seen at or above size has no attestation below it.
	`DELETE FROM idx_device_firmware WHERE first >= ?`,
	`DELETE FROM idx_model_firmware WHERE first >= ?`,
	`DELETE FROM idx_firmware WHERE sbom >= ?`,
	`DELETE FROM idx_revocations WHERE idx >= ?`,
	`DELETE FROM idx_field_actions WHERE idx >= ?`,
	relatest,
}

// Truncate drops the uncommitted facts and every fact of an index at or
// above size; see client.Indexer.
//
// It cuts the index, then the components of the SBOMs cut, which no query
// sees without their build's row. Where the dialect has a budget (Spanner),
// it cuts a step of entries at a time from the top down, each step leaving
// the index as a Commit of a smaller size would, and the components in
// batches.
func (x *Index) Truncate(ctx context.Context, size uint64) error {
	if x.w != nil {
		x.w.tx.Rollback()
		x.w = nil
	}
	if err := x.inSteps(ctx, size, x.cut); err != nil {
		return fmt.Errorf("truncating the index to %d entries: %w", size, err)
	}
	if err := x.inSteps(ctx, size, x.cutComponents); err != nil {
		return fmt.Errorf("truncating the index's components to %d entries: %w", size, err)
	}
	return nil
}

// inSteps runs step, each time in a guarded transaction of its own, until
// it reports that it is done.
func (x *Index) inSteps(ctx context.Context, size uint64, step func(context.Context, *sql.Tx, uint64) (bool, error)) error {
	for done := false; !done; {
		if err := inTx(ctx, x.db, x.guard, func(tx *sql.Tx) error {
			var err error
			done, err = step(ctx, tx, size)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// cut cuts the index in tx to size, or, where a step of the budget's
// entries is less, by that step, reporting whether it reached size.
func (x *Index) cut(ctx context.Context, tx *sql.Tx, size uint64) (bool, error) {
	to := size
	if x.budget > 0 {
		var n uint64
		if err := queryMeta(ctx, tx, x.d, "size", &n); err != nil {
			return false, err
		}
		if step := x.truncateStep(); n > size+step {
			to = n - step
		}
	}
	args, err := x.d.args([]any{to, "size"})
	if err != nil {
		return false, err
	}
	for _, q := range cuts {
		if _, err := tx.ExecContext(ctx, q, args[0]); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE idx_meta SET v = ? WHERE k = ?`, args...); err != nil {
		return false, err
	}
	return to == size, nil
}

// truncateStep is the entries one step of Truncate cuts: the budget over
// the mutations of the most rows one entry's facts write outside
// idx_components (one a table, and a device's latest set again).
func (x *Index) truncateStep() uint64 {
	per := 0
	for i := range tables {
		if tables[i].name != "idx_components" {
			per += tables[i].mutations()
		}
	}
	per += rowMutations("idx_devices")
	return uint64(max(1, x.budget/per))
}

// cutComponents deletes, in tx, the components of SBOMs at or above size:
// all, or the budget's worth, reporting whether none are left.
func (x *Index) cutComponents(ctx context.Context, tx *sql.Tx, size uint64) (bool, error) {
	args, err := x.d.args([]any{size})
	if err != nil {
		return false, err
	}
	if x.budget > 0 {
		// The key of the first component past one batch, if any.
		var sbom, ord int64
		batch := max(1, x.budget/rowMutations("idx_components"))
		err := tx.QueryRowContext(ctx, `SELECT sbom, ord FROM idx_components WHERE sbom >= ? ORDER BY sbom, ord LIMIT 1 OFFSET ?`, args[0], batch).Scan(&sbom, &ord)
		switch {
		case err == nil:
			_, err = tx.ExecContext(ctx, `DELETE FROM idx_components WHERE sbom >= ? AND (sbom < ? OR (sbom = ? AND ord < ?))`, args[0], sbom, sbom, ord)
			return false, err
		case !errors.Is(err, sql.ErrNoRows):
			return false, err
		}
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM idx_components WHERE sbom >= ?`, args...)
	return err == nil, err
}

// relatest sets the latest attestation of each device whose latest was cut
// (latest >= ?) to its latest head attestation left, column by column: MySQL
// has no row-value SET (a, b) = (SELECT ...). MySQL assigns the columns one
// after another, seeing those already set, but each subquery reads only
// key_id, which none sets.
var relatest = func() string {
	var set []string
	for _, c := range [][2]string{{"latest", "idx"}, {"latest_seq", "seq"}, {"latest_time", "time"}, {"latest_firmware", "firmware"}, {"latest_version", "version"}} {
		set = append(set, c[0]+` = (SELECT a.`+c[1]+` FROM idx_attestations a WHERE a.key_id = idx_devices.key_id AND a.head ORDER BY a.idx DESC LIMIT 1)`)
	}
	return `UPDATE idx_devices SET ` + strings.Join(set, ", ") + ` WHERE latest >= ?`
}()

// RecordCheckpoint keeps a checkpoint the log published (verified by the
// caller), so that CheckpointCovering can later name the first one known to
// include an entry. It is kept apart from the facts: Truncate keeps it,
// since a checkpoint stays true of the log whatever the index holds.
//
// It is not guarded: a checkpoint the log published is true whoever records
// it, and recording it twice keeps the first.
func (x *Index) RecordCheckpoint(ctx context.Context, size uint64, raw []byte) error {
	args, err := x.d.args([]any{size, raw})
	if err == nil {
		_, err = x.db.ExecContext(ctx, x.d.keep("idx_checkpoints", "size, raw", "(?, ?)", "size"), args...)
	}
	if err != nil {
		return fmt.Errorf("recording checkpoint %d: %w", size, err)
	}
	return nil
}

// CheckpointCovering returns the smallest recorded checkpoint that includes
// the entry at index: the one whose witness cosignatures bound, from above,
// when the entry was logged. The error wraps ErrNotFound if none does.
func (x *Index) CheckpointCovering(ctx context.Context, index uint64) ([]byte, error) {
	var raw []byte
	err := sql.ErrNoRows // the databases' integers are signed: no size exceeds an index above MaxInt64
	if index <= math.MaxInt64 {
		var args []any
		if args, err = x.d.args([]any{index}); err == nil {
			err = x.db.QueryRowContext(ctx, `SELECT raw FROM idx_checkpoints WHERE size > ? ORDER BY size LIMIT 1`, args...).Scan(&raw)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no recorded checkpoint includes entry %d: %w", index, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	return raw, nil
}

// Errors of the queries, which the query API maps to HTTP statuses.
var (
	// ErrNotFound: the index holds no such device or field action.
	ErrNotFound = errors.New("not found")
	// ErrBadQuery: a malformed UDI, package URL or time.
	ErrBadQuery = errors.New("bad query")
)

// nanos converts a stored device time.
func nanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }
