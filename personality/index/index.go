// Package index is vigil's query index: the facts of a log's entries, as
// [client.Audit] judges and folds them, kept in an embedded SQLite database,
// and the queries of the log's query API over them.
//
// The index is derived state. vigild builds it by auditing its own log
// (Follow), and rebuilds it from the log alone when it is missing or behind;
// vigil audit builds a regulator's own copy with the same code, so the two
// can be compared answer for answer. An entry the audit finds the log should
// have refused changes no answer: only its anomalies are kept.
//
// The database is written by one Audit at a time (client.Audit locks its
// directory) and read concurrently: SQLite's write-ahead log lets queries
// read the last committed state while the follower writes, and each query
// reads in one transaction, so its answer is of exactly TreeSize entries.
package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-log/vigil/client"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no cgo, so the binaries stay static
)

// File is the index's database file name in a directory.
const File = "index.db"

// schema creates the tables. Log indexes are the primary keys where an
// entry owns its row, so adding a fact twice replaces it; rows derived from
// several entries (a device's latest attestation, the first time a model ran
// a build) keep the extreme that the order-free MIN or MAX gives.
const schema = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('size', 0), ('version', 1);
CREATE TABLE IF NOT EXISTS devices (
	key_id TEXT PRIMARY KEY,
	device_id TEXT NOT NULL,
	udi TEXT NOT NULL,
	di TEXT NOT NULL,
	manufacturer TEXT NOT NULL,
	model TEXT NOT NULL,
	enrollment INTEGER NOT NULL,
	latest INTEGER,
	latest_seq INTEGER,
	latest_time INTEGER,
	latest_firmware TEXT,
	latest_version TEXT
);
CREATE INDEX IF NOT EXISTS devices_by_id ON devices (device_id, enrollment);
-- Covering indexes for the device lists of impact queries (refColumns):
-- thousands of rows are read from the index alone, with no table lookups.
CREATE INDEX IF NOT EXISTS device_refs_by_firmware ON devices (latest_firmware, latest_time, udi, enrollment, latest, latest_seq, latest_version);
CREATE INDEX IF NOT EXISTS device_refs_by_model ON devices (di, latest_time, udi, enrollment, latest, latest_seq, latest_firmware, latest_version);
CREATE TABLE IF NOT EXISTS attestations (
	idx INTEGER PRIMARY KEY,
	key_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	time INTEGER NOT NULL,
	firmware TEXT NOT NULL,
	version TEXT NOT NULL,
	head INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attestations_by_seq ON attestations (key_id, seq, idx);
CREATE INDEX IF NOT EXISTS attestations_by_time ON attestations (key_id, head, time, idx);
CREATE INDEX IF NOT EXISTS attestations_by_firmware ON attestations (firmware, idx);
CREATE TABLE IF NOT EXISTS device_firmware (
	key_id TEXT NOT NULL,
	firmware TEXT NOT NULL,
	first INTEGER NOT NULL,
	PRIMARY KEY (key_id, firmware)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS device_firmware_by_firmware ON device_firmware (firmware, first);
CREATE TABLE IF NOT EXISTS model_firmware (
	firmware TEXT NOT NULL,
	di TEXT NOT NULL,
	first INTEGER NOT NULL,
	PRIMARY KEY (firmware, di)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS firmware (
	digest TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	manufacturer TEXT NOT NULL,
	sbom INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS components (
	sbom INTEGER NOT NULL,
	ord INTEGER NOT NULL,
	firmware TEXT NOT NULL,
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	purl TEXT NOT NULL,
	purl_key TEXT NOT NULL,
	cpe TEXT NOT NULL,
	PRIMARY KEY (sbom, ord)
);
CREATE INDEX IF NOT EXISTS components_by_purl ON components (purl_key, version);
CREATE TABLE IF NOT EXISTS revocations (
	idx INTEGER PRIMARY KEY,
	type TEXT NOT NULL,
	target TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revocations_by_target ON revocations (target, type);
CREATE TABLE IF NOT EXISTS field_actions (
	idx INTEGER PRIMARY KEY,
	id TEXT NOT NULL,
	manufacturer TEXT NOT NULL,
	body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS field_actions_by_id ON field_actions (id, idx);
CREATE TABLE IF NOT EXISTS checkpoints (
	size INTEGER PRIMARY KEY,
	raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS anomalies (
	idx INTEGER NOT NULL,
	n INTEGER NOT NULL,
	code TEXT NOT NULL,
	body TEXT NOT NULL,
	PRIMARY KEY (idx, n)
);
`

// Index is a query index in a SQLite database. It implements client.Indexer
// for one audit at a time; its queries may run concurrently with that audit
// and each other.
type Index struct {
	db *sql.DB
	w  *writer // open from the first Add after a Commit until the next
}

// writer is a write transaction and the statements prepared in it: the
// fold runs the same few statements for every entry, and parsing each anew
// cost a fifth of the time.
type writer struct {
	tx    *sql.Tx
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

// Open opens the index in dir/File, creating it (and dir) if missing.
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
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the index's tables: %w", err)
	}
	return &Index{db: db}, nil
}

// Close closes the database, rolling back facts added but not committed.
func (x *Index) Close() error {
	if x.w != nil {
		x.w.tx.Rollback()
		x.w = nil
	}
	return x.db.Close()
}

// Size returns the number of log entries the committed index covers.
func (x *Index) Size(ctx context.Context) (uint64, error) {
	var n uint64
	if err := x.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'size'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the index's size: %w", err)
	}
	return n, nil
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
		x.w = &writer{tx: tx, stmts: map[string]*sql.Stmt{}}
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
		if err := w.exec(ctx, `INSERT OR REPLACE INTO anomalies (idx, n, code, body) VALUES (?, ?, ?, ?)`, f.Index, n, an.Code, body); err != nil {
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
		err := w.exec(ctx, `INSERT OR IGNORE INTO devices (key_id, device_id, udi, di, manufacturer, model, enrollment) VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
		err := w.exec(ctx, `INSERT OR REPLACE INTO revocations (idx, type, target) VALUES (?, ?, ?)`, f.Index, t.Type, target)
		return err
	case client.KindFieldAction:
		body, err := json.Marshal(e.FieldAction)
		if err != nil {
			return err
		}
		err = w.exec(ctx, `INSERT OR REPLACE INTO field_actions (idx, id, manufacturer, body) VALUES (?, ?, ?, ?)`, f.Index, e.FieldAction.ID, f.Manufacturer, body)
		return err
	}
	return nil
}

func addAttestation(ctx context.Context, w *writer, f *client.Fact) error {
	e, at := f.Entry, f.Entry.Attestation
	keyID, t := e.SignerKeyID(), at.Time.UnixNano()
	fw := at.Firmware
	if err := w.exec(ctx, `INSERT OR REPLACE INTO attestations (idx, key_id, seq, time, firmware, version, head) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		f.Index, keyID, at.Seq, t, fw.Digest, fw.Version, f.Head); err != nil {
		return err
	}
	if f.Head {
		if err := w.exec(ctx, `UPDATE devices SET latest = ?, latest_seq = ?, latest_time = ?, latest_firmware = ?, latest_version = ?
			WHERE key_id = ? AND (latest IS NULL OR latest < ?)`, f.Index, at.Seq, t, fw.Digest, fw.Version, keyID, f.Index); err != nil {
			return err
		}
	}
	if err := w.exec(ctx, `INSERT INTO device_firmware (key_id, firmware, first) VALUES (?, ?, ?)
		ON CONFLICT (key_id, firmware) DO UPDATE SET first = MIN(first, excluded.first)`, keyID, fw.Digest, f.Index); err != nil {
		return err
	}
	err := w.exec(ctx, `INSERT INTO model_firmware (firmware, di, first) VALUES (?, ?, ?)
		ON CONFLICT (firmware, di) DO UPDATE SET first = MIN(first, excluded.first)`, fw.Digest, e.UDI().DI.String(), f.Index)
	return err
}

// addSBOM records a firmware build from its first SBOM, with the SBOM's
// components; a later SBOM of the same build changes nothing, as in the
// audit.
func addSBOM(ctx context.Context, w *writer, f *client.Fact) error {
	e, digest := f.Entry, f.Entry.FirmwareDigest()
	if err := w.exec(ctx, `INSERT OR IGNORE INTO firmware (digest, name, version, manufacturer, sbom) VALUES (?, ?, ?, ?, ?)`,
		digest, e.SBOM.Name, e.SBOM.Version, f.Manufacturer, f.Index); err != nil {
		return err
	}
	var first uint64
	st, err := w.stmt(ctx, `SELECT sbom FROM firmware WHERE digest = ?`)
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
		if err := w.exec(ctx, `INSERT OR REPLACE INTO components (sbom, ord, firmware, name, version, purl, purl_key, cpe) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
	if err := w.exec(ctx, `UPDATE meta SET v = ? WHERE k = 'size'`, size); err != nil {
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
	for _, q := range []string{
		`DELETE FROM anomalies WHERE idx >= ?`,
		`DELETE FROM devices WHERE enrollment >= ?`,
		`DELETE FROM attestations WHERE idx >= ?`,
		// first is the least index of the pair's attestations: a pair
		// first seen at or above size has no attestation below it.
		`DELETE FROM device_firmware WHERE first >= ?`,
		`DELETE FROM model_firmware WHERE first >= ?`,
		`DELETE FROM firmware WHERE sbom >= ?`,
		`DELETE FROM components WHERE sbom >= ?`,
		`DELETE FROM revocations WHERE idx >= ?`,
		`DELETE FROM field_actions WHERE idx >= ?`,
		// The latest attestation of each device whose latest was cut.
		`UPDATE devices SET (latest, latest_seq, latest_time, latest_firmware, latest_version) =
			(SELECT idx, seq, time, firmware, version FROM attestations a
			 WHERE a.key_id = devices.key_id AND a.head ORDER BY idx DESC LIMIT 1)
		 WHERE latest >= ?`,
		`UPDATE meta SET v = ? WHERE k = 'size'`,
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

// RecordCheckpoint keeps a checkpoint the log published (verified by the
// caller), so that CheckpointCovering can later name the first one known to
// include an entry. It is kept apart from the facts: Truncate keeps it,
// since a checkpoint stays true of the log whatever the index holds.
func (x *Index) RecordCheckpoint(ctx context.Context, size uint64, raw []byte) error {
	if _, err := x.db.ExecContext(ctx, `INSERT OR IGNORE INTO checkpoints (size, raw) VALUES (?, ?)`, size, raw); err != nil {
		return fmt.Errorf("recording checkpoint %d: %w", size, err)
	}
	return nil
}

// CheckpointCovering returns the smallest recorded checkpoint that includes
// the entry at index: the one whose witness cosignatures bound, from above,
// when the entry was logged. The error wraps ErrNotFound if none does.
func (x *Index) CheckpointCovering(ctx context.Context, index uint64) ([]byte, error) {
	var raw []byte
	err := x.db.QueryRowContext(ctx, `SELECT raw FROM checkpoints WHERE size > ? ORDER BY size LIMIT 1`, index).Scan(&raw)
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
