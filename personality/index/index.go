// Package index is vigil's query index: the facts of a log's entries, as
// [client.Audit] judges and folds them, kept in a SQL database, and the
// queries of the log's query API over them. The database is an embedded
// SQLite file (Open), or tables in a MySQL or MariaDB database that several
// vigild share (OpenMySQL); the two give the same answers.
//
// The index is derived state. vigild builds it by auditing its own log
// (Follow), and rebuilds it from the log alone when it is missing or behind;
// vigil audit builds a regulator's own copy with the same code, so the two
// can be compared answer for answer. An entry the audit finds the log should
// have refused changes no answer: only its anomalies are kept.
//
// The database is written by one Audit at a time (client.Audit locks its
// directory) and read concurrently: SQLite's write-ahead log, or InnoDB's
// multiversioning, lets queries read the last committed state while the
// follower writes, and each query reads in one transaction, so its answer is
// of exactly TreeSize entries.
package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-log/vigil/client"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no cgo, so the binaries stay static
)

// File is the index's database file name in a directory.
const File = "index.db"

// schemaVersion is the version of tables that idx_meta records. Version 1
// had the same tables without the idx_ prefix, which a MySQL database
// shared with Tessera and the rest of vigil needs.
const schemaVersion = 2

// tables are the index's tables, in both dialects' SQL but for the column
// types, written as placeholders: {int}, {bool}, {blob}; text as {digest}
// (a hex SHA-256), {id} (a UDI or DI), {label} (text client.NewEntry bounds)
// or {text} (unbounded); and {prefix} after a {text} column in an index,
// for the length of the prefix MySQL indexes.
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
		name {text} NOT NULL, version {text} NOT NULL, purl {text} NOT NULL, purl_key {text} NOT NULL, cpe {text} NOT NULL`,
		indexes: []tableIndex{{"idx_components_by_purl", "purl_key{prefix}, version{prefix}"}}},
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
}

// writer is a write transaction and the statements prepared in it: the
// fold runs the same few statements for every entry, and parsing each anew
// cost a fifth of the time.
type writer struct {
	tx    *sql.Tx
	d     *dialect
	stmts map[string]*sql.Stmt
}

func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st, ok := w.stmts[query]
	if !ok {
		var err error
		if st, err = w.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		w.stmts[query] = st
	}
	return st, nil
}

func (w *writer) exec(ctx context.Context, query string, args ...any) error {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// Open opens the index in dir/File, a SQLite database, creating it (and
// dir) if missing. An index of the first schema version is discarded, but
// for its recorded checkpoints: the empty index that replaces it is behind
// its audit's state, so the audit starts again and rebuilds it. An index of
// another version is refused.
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
	if err := checkVersion(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &Index{db: db, d: sqliteDialect, ownDB: true}, nil
}

// OpenMySQL opens the index in a MySQL or MariaDB database, creating its
// tables if missing; an index of another schema version is refused. The
// tables' names all begin with idx_, so the database may hold others', such
// as Tessera's. Several Index values, in one process or many, may share the
// database, but only one may write it at a time (see Index).
//
// The caller owns db and closes it after the Index. Its DSN needs no
// particular parameters: the index stores times as integers and sends one
// statement at a time. With interpolateParams=true the driver saves a round
// trip a statement: a device query took half the time on a local MariaDB.
func OpenMySQL(ctx context.Context, db *sql.DB) (*Index, error) {
	if err := create(ctx, db, mysqlDialect); err != nil {
		return nil, err
	}
	if err := checkVersion(ctx, db); err != nil {
		return nil, err
	}
	return &Index{db: db, d: mysqlDialect}, nil
}

// create creates the index's tables if missing, one statement at a time (a
// MySQL DSN may not allow several in one Exec).
func create(ctx context.Context, db *sql.DB, d *dialect) error {
	for _, s := range d.ddl() {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("creating the index's tables: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO idx_meta (k, v) VALUES ('size', 0), ('version', ?)`+d.keep("k"), schemaVersion); err != nil {
		return fmt.Errorf("creating the index's tables: %w", err)
	}
	return nil
}

// checkVersion refuses an index of another schema version.
func checkVersion(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `SELECT v FROM idx_meta WHERE k = 'version'`).Scan(&v); err != nil {
		return fmt.Errorf("reading the index's version: %w", err)
	}
	if v != schemaVersion {
		return fmt.Errorf("the index is of schema version %d, and this vigil reads version %d: discard it (its file, or its idx_ tables in MySQL) and the follower rebuilds it from the log", v, schemaVersion)
	}
	return nil
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
// database, closes it. It does not close the *sql.DB given to OpenMySQL.
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
	if err := x.db.QueryRowContext(ctx, `SELECT v FROM idx_meta WHERE k = 'size'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the index's size: %w", err)
	}
	return n, nil
}

// begin returns the open write transaction, starting one if there is none.
// guarded runs the guard, if any, in a write transaction.
func (x *Index) guarded(ctx context.Context, tx *sql.Tx) error {
	if x.guard == nil {
		return nil
	}
	return x.guard(ctx, tx)
}

func (x *Index) begin(ctx context.Context) (*writer, error) {
	if x.w == nil {
		// The transaction outlives the call: database/sql would roll it
		// back when ctx ends, and an audit adds under one context and
		// commits under another.
		tx, err := x.db.BeginTx(context.WithoutCancel(ctx), nil)
		if err != nil {
			return nil, fmt.Errorf("starting a write: %w", err)
		}
		if err := x.guarded(ctx, tx); err != nil {
			tx.Rollback()
			return nil, err
		}
		x.w = &writer{tx: tx, d: x.d, stmts: map[string]*sql.Stmt{}}
	}
	return x.w, nil
}

// Add records facts; see client.Indexer. They are visible to queries once
// committed.
func (x *Index) Add(ctx context.Context, facts []client.Fact) error {
	w, err := x.begin(ctx)
	if err != nil {
		return err
	}
	for i := range facts {
		if err := add(ctx, w, &facts[i]); err != nil {
			return fmt.Errorf("indexing entry %d: %w", facts[i].Index, err)
		}
	}
	return nil
}

// add records one fact in w.
func add(ctx context.Context, w *writer, f *client.Fact) error {
	for n, an := range f.Anomalies {
		body, err := json.Marshal(an)
		if err != nil {
			return err
		}
		if err := w.exec(ctx, `REPLACE INTO idx_anomalies (idx, n, code, body) VALUES (?, ?, ?, ?)`, f.Index, n, an.Code, body); err != nil {
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
		err := w.exec(ctx, `INSERT INTO idx_devices (key_id, device_id, udi, di, manufacturer, model, enrollment) VALUES (?, ?, ?, ?, ?, ?, ?)`+w.d.keep("key_id"),
			e.DeviceKey().ID(), u.DeviceID(), u.String(), u.DI.String(), f.Manufacturer, e.Enrollment.Model, f.Index)
		return err
	case client.KindAttestation:
		return addAttestation(ctx, w, f)
	case client.KindSBOM:
		return addSBOM(ctx, w, f)
	case client.KindRevocation:
		t := e.Revocation.Target
		target := t.ID
		if t.Type == client.TargetUDI {
			target = e.UDI().DeviceID()
		}
		err := w.exec(ctx, `REPLACE INTO idx_revocations (idx, type, target) VALUES (?, ?, ?)`, f.Index, t.Type, target)
		return err
	case client.KindFieldAction:
		body, err := json.Marshal(e.FieldAction)
		if err != nil {
			return err
		}
		err = w.exec(ctx, `REPLACE INTO idx_field_actions (idx, id, manufacturer, body) VALUES (?, ?, ?, ?)`, f.Index, e.FieldAction.ID, f.Manufacturer, body)
		return err
	}
	return nil
}

func addAttestation(ctx context.Context, w *writer, f *client.Fact) error {
	e, at := f.Entry, f.Entry.Attestation
	keyID, t := e.SignerKeyID(), at.Time.UnixNano()
	fw := at.Firmware
	if err := w.exec(ctx, `REPLACE INTO idx_attestations (idx, key_id, seq, time, firmware, version, head) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		f.Index, keyID, at.Seq, t, fw.Digest, fw.Version, f.Head); err != nil {
		return err
	}
	if f.Head {
		if err := w.exec(ctx, `UPDATE idx_devices SET latest = ?, latest_seq = ?, latest_time = ?, latest_firmware = ?, latest_version = ?
			WHERE key_id = ? AND (latest IS NULL OR latest < ?)`, f.Index, at.Seq, t, fw.Digest, fw.Version, keyID, f.Index); err != nil {
			return err
		}
	}
	if err := w.exec(ctx, `INSERT INTO idx_device_firmware (key_id, firmware, first) VALUES (?, ?, ?)`+w.d.least("key_id, firmware", "first"),
		keyID, fw.Digest, f.Index); err != nil {
		return err
	}
	err := w.exec(ctx, `INSERT INTO idx_model_firmware (firmware, di, first) VALUES (?, ?, ?)`+w.d.least("firmware, di", "first"),
		fw.Digest, e.UDI().DI.String(), f.Index)
	return err
}

// addSBOM records a firmware build from its first SBOM, with the SBOM's
// components; a later SBOM of the same build changes nothing, as in the
// audit.
func addSBOM(ctx context.Context, w *writer, f *client.Fact) error {
	e, digest := f.Entry, f.Entry.FirmwareDigest()
	if err := w.exec(ctx, `INSERT INTO idx_firmware (digest, name, version, manufacturer, sbom) VALUES (?, ?, ?, ?, ?)`+w.d.keep("digest"),
		digest, e.SBOM.Name, e.SBOM.Version, f.Manufacturer, f.Index); err != nil {
		return err
	}
	var first uint64
	st, err := w.stmt(ctx, `SELECT sbom FROM idx_firmware WHERE digest = ?`)
	if err != nil {
		return err
	}
	if err := st.QueryRowContext(ctx, digest).Scan(&first); err != nil {
		return err
	}
	if first != f.Index {
		return nil
	}
	for i, c := range e.SBOM.Components {
		key, _, err := client.PackageKey(c.PURL)
		if err != nil {
			key = "" // no package URL, or one the purl library refuses: found by no purl query
		}
		if err := w.exec(ctx, `REPLACE INTO idx_components (sbom, ord, firmware, name, version, purl, purl_key, cpe) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.Index, i, digest, c.Name, c.Version, c.PURL, key, c.CPE); err != nil {
			return err
		}
	}
	return nil
}

// Commit makes the facts added durable and records size; see
// client.Indexer.
func (x *Index) Commit(ctx context.Context, size uint64) error {
	w, err := x.begin(ctx)
	if err != nil {
		return err
	}
	x.w = nil
	if err := w.exec(ctx, `UPDATE idx_meta SET v = ? WHERE k = 'size'`, size); err != nil {
		w.tx.Rollback()
		return fmt.Errorf("recording the index's size: %w", err)
	}
	if err := w.tx.Commit(); err != nil {
		return fmt.Errorf("committing the index: %w", err)
	}
	return nil
}

// Truncate drops the uncommitted facts and every fact of an index at or
// above size; see client.Indexer.
func (x *Index) Truncate(ctx context.Context, size uint64) error {
	if x.w != nil {
		x.w.tx.Rollback()
		x.w = nil
	}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting a write: %w", err)
	}
	defer tx.Rollback()
	if err := x.guarded(ctx, tx); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM idx_anomalies WHERE idx >= ?`,
		`DELETE FROM idx_devices WHERE enrollment >= ?`,
		`DELETE FROM idx_attestations WHERE idx >= ?`,
		// first is the least index of the pair's attestations: a pair
		// first seen at or above size has no attestation below it.
		`DELETE FROM idx_device_firmware WHERE first >= ?`,
		`DELETE FROM idx_model_firmware WHERE first >= ?`,
		`DELETE FROM idx_firmware WHERE sbom >= ?`,
		`DELETE FROM idx_components WHERE sbom >= ?`,
		`DELETE FROM idx_revocations WHERE idx >= ?`,
		`DELETE FROM idx_field_actions WHERE idx >= ?`,
		relatest,
		`UPDATE idx_meta SET v = ? WHERE k = 'size'`,
	} {
		if _, err := tx.ExecContext(ctx, q, size); err != nil {
			return fmt.Errorf("truncating the index to %d entries: %w", size, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing the truncated index: %w", err)
	}
	return nil
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
	if _, err := x.db.ExecContext(ctx, `INSERT INTO idx_checkpoints (size, raw) VALUES (?, ?)`+x.d.keep("size"), size, raw); err != nil {
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
		err = x.db.QueryRowContext(ctx, `SELECT raw FROM idx_checkpoints WHERE size > ? ORDER BY size LIMIT 1`, index).Scan(&raw)
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
