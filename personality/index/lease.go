package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// ErrStandby is CatchUp's answer on a frontend whose follower stands by
// because another process holds the lease on a shared index.
var ErrStandby = errors.New("index: another process follows the log into the shared index")

// lease is the right to write a shared index in a MySQL database: a
// server-side named lock (GET_LOCK), held by one connection. The server
// frees it when that connection ends, so a crashed frontend's lease passes
// to another within a follower's interval; named locks are server-wide, so
// the name is derived from the database's.
//
// The writes themselves go through other connections, which would go on
// after the lease's connection was cut. So each holder takes a new
// generation, in vigil_index_lease, and every write transaction checks it
// (guard), holding the row shared until it commits: a new holder's
// generation waits for the old holder's open write, and the old holder's
// next write fails.
type lease struct {
	db   *sql.DB
	mu   sync.Mutex
	conn *sql.Conn // nil while not held
	gen  int64     // the generation taken with the lock
}

// newLease creates the lease's generation table if it is missing.
func newLease(ctx context.Context, db *sql.DB) (*lease, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS vigil_index_lease (
		id INT NOT NULL PRIMARY KEY,
		generation BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("index: creating vigil_index_lease: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT IGNORE INTO vigil_index_lease (id, generation) VALUES (0, 0)`); err != nil {
		return nil, fmt.Errorf("index: filling vigil_index_lease: %w", err)
	}
	return &lease{db: db}, nil
}

// guard fails a write transaction, with ErrStandby, unless this process
// still holds the generation it took with the lease.
func (l *lease) guard(ctx context.Context, tx *sql.Tx) error {
	l.mu.Lock()
	gen := l.gen
	l.mu.Unlock()
	var now int64
	if err := tx.QueryRowContext(ctx, "SELECT generation FROM vigil_index_lease WHERE id = 0 LOCK IN SHARE MODE").Scan(&now); err != nil {
		return fmt.Errorf("index: checking the lease: %w", err)
	}
	if now != gen {
		return ErrStandby
	}
	return nil
}

// leaseName is the named lock of the current database: at most 64
// characters, whatever the database's name.
const leaseName = "CONCAT('vigil_index.', LEFT(SHA2(DATABASE(), 256), 40))"

// hold reports whether this process holds the lease, taking it if it is
// free. A lease found lost (its connection ended) is let go first.
func (l *lease) hold(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		var mine sql.NullBool
		err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+leaseName+") = CONNECTION_ID()").Scan(&mine)
		if err == nil && mine.Valid && mine.Bool {
			return true, nil
		}
		l.conn.Close()
		l.conn = nil
		if err != nil && ctx.Err() != nil {
			return false, err
		}
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("index: taking the lease: %w", err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+leaseName+", 0)").Scan(&got); err != nil {
		conn.Close()
		return false, fmt.Errorf("index: taking the lease: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return false, nil
	}
	// A new generation; it waits for a write the last holder still has open.
	if _, err := conn.ExecContext(ctx, "UPDATE vigil_index_lease SET generation = generation + 1 WHERE id = 0"); err != nil {
		conn.Close()
		return false, fmt.Errorf("index: taking the lease: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT generation FROM vigil_index_lease WHERE id = 0").Scan(&l.gen); err != nil {
		conn.Close()
		return false, fmt.Errorf("index: taking the lease: %w", err)
	}
	l.conn = conn
	return true, nil
}

// release lets the lease go.
func (l *lease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.ExecContext(context.Background(), "DO RELEASE_LOCK("+leaseName+")")
		l.conn.Close()
		l.conn = nil
	}
}

// sqlStore keeps the follower's audit state in the shared database, in
// vigil_audit_state, split into parts below the server's default packet
// limit (16 MiB on MariaDB). Only the lease holder writes it.
type sqlStore struct {
	db    *sql.DB
	lease *lease
}

// storePart is the size of one row of a document.
const storePart = 4 << 20

func newSQLStore(ctx context.Context, db *sql.DB, l *lease) (*sqlStore, error) {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS vigil_audit_state (
		name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
		part INT NOT NULL,
		data LONGBLOB NOT NULL,
		PRIMARY KEY (name, part))`)
	if err != nil {
		return nil, fmt.Errorf("index: creating vigil_audit_state: %w", err)
	}
	return &sqlStore{db: db, lease: l}, nil
}

// Lock checks that this process holds the lease: the follower takes it
// before each catch-up, and only its holder may write.
func (s *sqlStore) Lock(ctx context.Context) (func(), error) {
	ok, err := s.lease.hold(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrStandby
	}
	return func() {}, nil
}

func (s *sqlStore) Read(ctx context.Context, name string) ([]byte, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT data FROM vigil_audit_state WHERE name = ? ORDER BY part", name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var doc []byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		doc = append(doc, b...)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, nil // no rows: no document
	}
	return doc, nil
}

// Write replaces a document in one transaction, under the lease.
func (s *sqlStore) Write(ctx context.Context, name string, b []byte) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM vigil_audit_state WHERE name = ?", name); err != nil {
			return err
		}
		for part := 0; part == 0 || part*storePart < len(b); part++ {
			chunk := b[part*storePart : min(len(b), (part+1)*storePart)]
			if _, err := tx.ExecContext(ctx, "INSERT INTO vigil_audit_state (name, part, data) VALUES (?, ?, ?)", name, part, chunk); err != nil {
				return err
			}
		}
		return nil
	})
}

// Remove removes a document, under the lease.
func (s *sqlStore) Remove(ctx context.Context, name string) error {
	return s.exec(ctx, "DELETE FROM vigil_audit_state WHERE name = ?", name)
}

// clear removes every document, for a rebuild, under the lease.
func (s *sqlStore) clear(ctx context.Context) error {
	return s.exec(ctx, "DELETE FROM vigil_audit_state")
}

// exec runs one statement in a transaction under the lease.
func (s *sqlStore) exec(ctx context.Context, q string, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
}

// inTx runs fn in a transaction that the lease guards, and commits it.
func (s *sqlStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lease.guard(ctx, tx); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) String() string { return "the audit state in the log's database" }
