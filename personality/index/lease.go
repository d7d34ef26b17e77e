package index

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrStandby is CatchUp's answer on a frontend whose follower stands by
// because another process holds the lease on a shared index.
var ErrStandby = errors.New("index: another process follows the log into the shared index")

// lease is the right to write a shared index, which one process holds at a
// time. Each holder takes a new generation, in vigil_index_lease, and every
// write transaction checks it first (guard), so that a process that lost the
// lease (cut off, or paused past it) cannot write beside the next holder:
// its write either commits before the next holder's generation is taken, or
// fails.
//
// A lease's methods may be called concurrently. What hold and release
// change is committed when they return. Errors are the database's, and
// ErrStandby from guard.
type lease interface {
	// hold reports whether this process holds the lease, taking it if it
	// is free.
	hold(ctx context.Context) (bool, error)
	// guard fails a write transaction, with ErrStandby, unless this process
	// still holds the generation it took with the lease; it is run first
	// in the transaction.
	guard(ctx context.Context, tx *sql.Tx) error
	// release lets the lease go.
	release()
}

// lockLease is the lease in a MySQL database: a server-side named lock
// (GET_LOCK), held by one connection. The server frees it when that
// connection ends, so a crashed frontend's lease passes to another within a
// follower's interval; named locks are server-wide, so the name is derived
// from the database's.
//
// The writes themselves go through other connections, which would go on
// after the lease's connection was cut. So guard holds the generation's
// row shared until its transaction commits: a new holder's generation waits
// for the old holder's open write, and the old holder's next write fails.
type lockLease struct {
	db   *sql.DB
	mu   sync.Mutex
	conn *sql.Conn // nil while not held
	gen  int64     // the generation taken with the lock
}

// newLockLease creates the lease's generation table if it is missing.
func newLockLease(ctx context.Context, db *sql.DB) (lease, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS vigil_index_lease (
		id INT NOT NULL PRIMARY KEY,
		generation BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("index: creating vigil_index_lease: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT IGNORE INTO vigil_index_lease (id, generation) VALUES (0, 0)`); err != nil {
		return nil, fmt.Errorf("index: filling vigil_index_lease: %w", err)
	}
	return &lockLease{db: db}, nil
}

func (l *lockLease) guard(ctx context.Context, tx *sql.Tx) error {
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

// hold takes the lease if it is free. A lease found lost (its connection
// ended) is let go first.
func (l *lockLease) hold(ctx context.Context) (bool, error) {
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

func (l *lockLease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.ExecContext(context.Background(), "DO RELEASE_LOCK("+leaseName+")")
		l.conn.Close()
		l.conn = nil
	}
}

// rowLease is the lease in a Cloud Spanner database, which has no named
// locks: vigil_index_lease's row names the generation that holds it and
// when the hold expires, by the database's clock. The holder renews it
// whenever it checks it: in hold (every catch-up) and in guard (every write
// transaction, whose renewal commits with the write). Another process takes
// it, in a read-write transaction, only once it has expired; so a crashed
// holder's lease passes on within ttl.
//
// guard renews by an UPDATE of the generation's row: a DML statement, which
// Spanner locks and checks at commit in every isolation level. A write
// transaction whose holder lost the lease meanwhile therefore does not
// commit: Spanner aborts it, and go-sql-spanner's replay of it finds the
// UPDATE changing no row and fails.
type rowLease struct {
	db     *sql.DB
	holder string        // this process, for operators reading the row
	ttl    time.Duration // how long a hold lasts unrenewed
	mu     sync.Mutex
	gen    int64 // the generation taken, or 0
}

// leaseTTL is how long a Spanner lease lasts unrenewed: how long a crashed
// holder's lease takes to pass on, and more than a write transaction
// should take (Spanner aborts one idle for 10 s).
const leaseTTL = 30 * time.Second

// newRowLease creates the lease's table, with its row, if missing.
func newRowLease(ctx context.Context, db *sql.DB) (lease, error) {
	if err := runDDL(ctx, db, true, []string{`CREATE TABLE IF NOT EXISTS vigil_index_lease (
			id INT64 NOT NULL,
			generation INT64 NOT NULL,
			holder STRING(MAX),
			expiry TIMESTAMP NOT NULL) PRIMARY KEY (id)`}); err != nil {
		return nil, fmt.Errorf("index: creating vigil_index_lease: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT OR IGNORE INTO vigil_index_lease (id, generation, expiry) VALUES (0, 0, TIMESTAMP '1970-01-01T00:00:00Z')`); err != nil {
		return nil, fmt.Errorf("index: filling vigil_index_lease: %w", err)
	}
	host, _ := os.Hostname()
	return &rowLease{db: db, holder: fmt.Sprintf("%s pid %d %s", host, os.Getpid(), rand.Text()[:8]), ttl: leaseTTL}, nil
}

// renew is the statement that renews generation ?'s hold, by ttl, and
// changes no row if another generation holds the lease.
const renew = `UPDATE vigil_index_lease SET expiry = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL ? MILLISECOND) WHERE id = 0 AND generation = ?`

func (l *rowLease) guard(ctx context.Context, tx *sql.Tx) error {
	l.mu.Lock()
	gen := l.gen
	l.mu.Unlock()
	if gen == 0 {
		return ErrStandby
	}
	res, err := tx.ExecContext(ctx, renew, l.ttl.Milliseconds(), gen)
	if err != nil {
		return fmt.Errorf("index: checking the lease: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("index: checking the lease: %w", err)
	} else if n != 1 {
		return ErrStandby
	}
	return nil
}

// hold renews the lease if this process holds it and half its time is
// gone, or takes it if it has expired. A strong read without locks comes
// first, so that a follower standing by does not contend with the
// holder's writes, which lock the row.
func (l *rowLease) hold(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gen, left int64
	if err := l.db.QueryRowContext(ctx, `SELECT generation, TIMESTAMP_DIFF(expiry, CURRENT_TIMESTAMP(), MILLISECOND)
		FROM vigil_index_lease WHERE id = 0`).Scan(&gen, &left); err != nil {
		return false, fmt.Errorf("index: reading the lease: %w", err)
	}
	mine := l.gen != 0 && gen == l.gen
	switch {
	case mine && left > l.ttl.Milliseconds()/2:
		return true, nil
	case !mine && left > 0:
		l.gen = 0
		return false, nil
	}
	// The read-write transaction reads only what a replay after an abort
	// (go-sql-spanner's) finds the same if no one took the lease meanwhile.
	took := int64(0)
	err := inTx(ctx, l.db, nil, func(tx *sql.Tx) error {
		var expired bool
		if err := tx.QueryRowContext(ctx, `SELECT generation, expiry <= CURRENT_TIMESTAMP() FROM vigil_index_lease WHERE id = 0`).Scan(&gen, &expired); err != nil {
			return err
		}
		switch {
		case l.gen != 0 && gen == l.gen:
			// Still ours, expired or not: no one has taken it since.
			_, err := tx.ExecContext(ctx, renew, l.ttl.Milliseconds(), gen)
			took = gen
			return err
		case !expired:
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE vigil_index_lease SET generation = ?, holder = ?,
			expiry = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL ? MILLISECOND) WHERE id = 0`, gen+1, l.holder, l.ttl.Milliseconds())
		took = gen + 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("index: taking the lease: %w", err)
	}
	l.gen = took
	return took != 0, nil
}

func (l *rowLease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != 0 {
		l.db.ExecContext(context.Background(), `UPDATE vigil_index_lease SET expiry = TIMESTAMP '1970-01-01T00:00:00Z' WHERE id = 0 AND generation = ?`, l.gen)
		l.gen = 0
	}
}

// sqlStore keeps the follower's audit state in the shared database, in
// vigil_audit_state, split into parts below the server's default packet
// limit (16 MiB on MariaDB) and Spanner's limit on a cell (10 MiB). A
// document is written in one transaction, which Spanner bounds to 100 MiB.
// Only the lease holder writes it.
type sqlStore struct {
	db    *sql.DB
	d     *dialect
	lease lease
}

// storePart is the size of one row of a document.
const storePart = 4 << 20

func newSQLStore(ctx context.Context, db *sql.DB, d *dialect, l lease) (*sqlStore, error) {
	if err := runDDL(ctx, db, d.ddlBatch, []string{d.stateTable}); err != nil {
		return nil, fmt.Errorf("index: creating vigil_audit_state: %w", err)
	}
	return &sqlStore{db: db, d: d, lease: l}, nil
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
	args, err := s.d.args([]any{name})
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT data FROM vigil_audit_state WHERE name = ? ORDER BY part", args...)
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
	args, err := s.d.args([]any{name})
	if err != nil {
		return err
	}
	return inTx(ctx, s.db, s.lease.guard, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM vigil_audit_state WHERE name = ?", args...); err != nil {
			return err
		}
		for part := 0; part == 0 || part*storePart < len(b); part++ {
			chunk := b[part*storePart : min(len(b), (part+1)*storePart)]
			if _, err := tx.ExecContext(ctx, "INSERT INTO vigil_audit_state (name, part, data) VALUES (?, ?, ?)", args[0], part, chunk); err != nil {
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
	return s.exec(ctx, "DELETE FROM vigil_audit_state WHERE TRUE")
}

// exec runs one statement in a transaction under the lease.
func (s *sqlStore) exec(ctx context.Context, q string, args ...any) error {
	args, err := s.d.args(args)
	if err != nil {
		return err
	}
	return inTx(ctx, s.db, s.lease.guard, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
}

func (s *sqlStore) String() string { return "the audit state in the log's database" }
