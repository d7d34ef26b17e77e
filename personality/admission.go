package personality

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Admission extends the personality's locks (see locks) across the
// frontends of one log. Without it, two frontends could each judge a
// submission against an authority state that lacks the other's latest
// change: an attestation checked on one frontend just before another
// sequences its device's revocation would land after it.
//
// Acquire takes, for every frontend at once, the locks of a plan, and
// returns the fence: the log size the caller's authority state must reach
// before it judges, which covers the last change any frontend made under
// those locks. release lets the locks go; after a sequenced write it records
// the entry's index as its stripes' last change.
type Admission interface {
	Acquire(ctx context.Context, p lockPlan) (fence uint64, release func(sequenced bool, index uint64) error, err error)
}

// SQLAdmission is an Admission in a MySQL or MariaDB table, vigil_admission,
// in the log's database: a row per stripe, and row 0 for the global lock,
// each with the log size after the last change made under it. Locks are
// InnoDB row locks, shared (LOCK IN SHARE MODE) or exclusive (FOR UPDATE),
// held by a transaction from before the check until the entry is sequenced.
//
// Attestations, nearly all of a log's traffic, only read: they join a
// group, one transaction taking the union of its members' stripes shared
// in one statement, so a frontend holds a few connections, not one per
// submission. Every transaction takes its rows in ascending order, the
// global row first, and takes nothing after its first statements, so
// transactions never wait on each other in a cycle; should the server still
// report a deadlock, the acquisition is retried, nothing having been judged.
//
// The guarantee has two gaps, both failures of the database or the
// process, not of timing. If the server drops a group's connection between
// a member's check and its sequencing, its locks go early (the group's
// commit then fails, and is logged). If a writer's fence is not recorded
// (its process dies between sequencing and commit), readers on other
// frontends may judge without that change until their follower folds it, a
// second later; writers fold the whole log before judging, so they never
// do. The audit of the log shows any entry that slipped through.
type SQLAdmission struct {
	db     *sql.DB
	logger *slog.Logger
	reads  readGroups
}

// readGroups gathers concurrent readers into groups, each of which takes the
// union of its members' stripes shared at once, and lets them go after its
// last member has been sequenced: a frontend then takes a few locks for its
// attestations, not one per submission.
type readGroups struct {
	// lock takes rows (stripe+1, ascending) shared and returns their
	// largest last_size, and the function that lets them go.
	lock func(ids []int) (fence uint64, unlock func(), err error)
	mu   sync.Mutex
	open *readGroup // accepting members, nil if none
}

// readGroup is one lock taken for concurrent readers.
type readGroup struct {
	stripes map[int]bool
	ready   chan struct{} // closed once the locks are held, or failed
	fence   uint64
	err     error
	members sync.WaitGroup
}

// read joins, or opens, the read group, and waits until it holds its locks.
func (r *readGroups) read(ctx context.Context, p lockPlan) (uint64, func(bool, uint64) error, error) {
	r.mu.Lock()
	g := r.open
	if g == nil {
		g = &readGroup{stripes: map[int]bool{}, ready: make(chan struct{})}
		r.open = g
		go r.lockGroup(g)
	}
	for _, s := range p.stripes {
		g.stripes[s.stripe+1] = true
	}
	g.members.Add(1)
	r.mu.Unlock()
	select {
	case <-g.ready:
	case <-ctx.Done():
		g.members.Done()
		return 0, nil, fmt.Errorf("admission: %w", ctx.Err())
	}
	if g.err != nil {
		g.members.Done()
		return 0, nil, g.err
	}
	return g.fence, func(bool, uint64) error { g.members.Done(); return nil }, nil
}

// lockGroup closes a group to new members after groupWindow, takes its
// stripes, lets its members go on, and lets the stripes go when the last
// has been sequenced.
func (r *readGroups) lockGroup(g *readGroup) {
	time.Sleep(groupWindow)
	r.mu.Lock()
	r.open = nil
	r.mu.Unlock()
	ids := make([]int, 0, len(g.stripes))
	for id := range g.stripes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var unlock func()
	g.fence, unlock, g.err = r.lock(ids)
	close(g.ready)
	if g.err != nil {
		return
	}
	g.members.Wait()
	unlock()
}

// admissionLayout names how lock names map onto vigil_admission's rows: 1
// is FNV-1a over 1024 stripes (locks.go). Change it with the mapping.
const admissionLayout = 1

// groupWindow is how long a read group gathers members before it locks.
const groupWindow = 2 * time.Millisecond

// NewSQLAdmission creates the vigil_admission table if it is missing. The
// caller closes db. Failures no submission sees (a read group's commit) go
// to logger; nil discards.
func NewSQLAdmission(ctx context.Context, db *sql.DB, logger *slog.Logger) (*SQLAdmission, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS vigil_admission (
		id INT NOT NULL PRIMARY KEY,
		last_size BIGINT UNSIGNED NOT NULL)`); err != nil {
		return nil, fmt.Errorf("admission: creating vigil_admission: %w", err)
	}
	var rows strings.Builder
	rows.WriteString("INSERT IGNORE INTO vigil_admission (id, last_size) VALUES (0, 0)")
	for i := 1; i <= stripes; i++ {
		fmt.Fprintf(&rows, ", (%d, 0)", i)
	}
	if _, err := db.ExecContext(ctx, rows.String()); err != nil {
		return nil, fmt.Errorf("admission: filling vigil_admission: %w", err)
	}
	// Frontends that mapped names onto rows differently would not exclude
	// each other: row -1 records the mapping, and another is refused.
	if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO vigil_admission (id, last_size) VALUES (-1, ?)", admissionLayout); err != nil {
		return nil, fmt.Errorf("admission: filling vigil_admission: %w", err)
	}
	var layout uint64
	if err := db.QueryRowContext(ctx, "SELECT last_size FROM vigil_admission WHERE id = -1").Scan(&layout); err != nil {
		return nil, fmt.Errorf("admission: reading vigil_admission's layout: %w", err)
	}
	if layout != admissionLayout {
		return nil, fmt.Errorf("admission: vigil_admission is laid out as %d by another vigil version, this one uses %d: stop every frontend of the log and start them all on one version", layout, admissionLayout)
	}
	a := &SQLAdmission{db: db, logger: logger}
	a.reads.lock = a.lockShared
	return a, nil
}

// Acquire implements Admission.
func (a *SQLAdmission) Acquire(ctx context.Context, p lockPlan) (uint64, func(bool, uint64) error, error) {
	if !p.global && !p.writes() {
		return a.reads.read(ctx, p)
	}
	for attempt := 0; ; attempt++ {
		fence, release, err := a.write(ctx, p)
		if err == nil || !isDeadlock(err) || attempt == 10 {
			return fence, release, err
		}
	}
}

// isDeadlock reports InnoDB's deadlock (1213) or lock wait timeout (1205).
func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// write locks a plan with stripes to change in a transaction of its own.
func (a *SQLAdmission) write(ctx context.Context, p lockPlan) (uint64, func(bool, uint64) error, error) {
	// The transaction, and so its locks, must outlive the request: once an
	// entry is handed to the log it is sequenced whatever the client does,
	// and database/sql rolls back a transaction whose context ends. Only
	// the wait for the locks ends with the request.
	tx, err := a.db.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, nil, fmt.Errorf("admission: %w", err)
	}
	fail := func(err error) (uint64, func(bool, uint64) error, error) {
		tx.Rollback()
		return 0, nil, fmt.Errorf("admission: %w", err)
	}
	var fence uint64
	switch {
	case p.globalWrite:
		fence, err = lockRows(ctx, tx, []int{0}, "FOR UPDATE")
	case p.global:
		fence, err = lockRows(ctx, tx, []int{0}, "LOCK IN SHARE MODE")
	}
	if err != nil {
		return fail(err)
	}
	// Shared and exclusive stripes in two statements would take rows out
	// of order; a writer's stripes are all taken exclusively (plan gives
	// writers no read stripes today), only its written ones recorded.
	var all, excl []int
	for _, r := range p.stripes {
		all = append(all, r.stripe+1)
		if r.write {
			excl = append(excl, r.stripe+1)
		}
	}
	f, err := lockRows(ctx, tx, all, "FOR UPDATE")
	if err != nil {
		return fail(err)
	}
	fence = max(fence, f)
	release := func(sequenced bool, index uint64) error {
		ids := excl
		if p.globalWrite {
			ids = append([]int{0}, ids...)
		}
		if sequenced && len(ids) > 0 {
			q := "UPDATE vigil_admission SET last_size = GREATEST(last_size, ?) WHERE id IN (" + placeholders(len(ids)) + ")"
			var err error
			for range 3 {
				if _, err = tx.Exec(q, append([]any{index + 1}, intsAsArgs(ids)...)...); err == nil {
					break
				}
			}
			if err != nil {
				// The entry is in the log but its fence did not move.
				// Writers fold the whole log before they judge, so only
				// readers may judge without it, until their follower folds
				// it (a second).
				tx.Rollback()
				return fmt.Errorf("admission: recording entry %d: %w", index, err)
			}
		}
		if err := tx.Commit(); err != nil && sequenced {
			return fmt.Errorf("admission: recording entry %d: %w", index, err)
		}
		return nil
	}
	return fence, release, nil
}

// lockShared takes rows shared in a transaction that lasts until unlock.
func (a *SQLAdmission) lockShared(ids []int) (uint64, func(), error) {
	// Taking the locks may take a while; holding them may not end before
	// the members are sequenced, so the transaction has no deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		tx, err := a.db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelReadCommitted})
		if err == nil {
			var fence uint64
			if fence, err = lockRows(ctx, tx, ids, "LOCK IN SHARE MODE"); err == nil {
				return fence, func() {
					if err := tx.Commit(); err != nil {
						// The shared locks went when the transaction ended,
						// perhaps before the members were sequenced: the
						// guarantee's one gap (see the type).
						a.logger.Error("admission: ending a read group", "err", err, "stripes", len(ids))
					}
				}, nil
			}
			tx.Rollback()
		}
		if !isDeadlock(err) || attempt == 10 {
			return 0, nil, fmt.Errorf("admission: %w", err)
		}
	}
}

// lockRows locks rows (ids ascending) and returns the largest last_size.
func lockRows(ctx context.Context, tx *sql.Tx, ids []int, mode string) (uint64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	q := "SELECT last_size FROM vigil_admission WHERE id IN (" + placeholders(len(ids)) + ") ORDER BY id " + mode
	rows, err := tx.QueryContext(ctx, q, intsAsArgs(ids)...)
	if err != nil {
		return 0, fmt.Errorf("locking admission rows: %w", err)
	}
	defer rows.Close()
	var fence uint64
	for rows.Next() {
		var n uint64
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("locking admission rows: %w", err)
		}
		fence = max(fence, n)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("locking admission rows: %w", err)
	}
	return fence, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func intsAsArgs(ids []int) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}
