package personality

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"cloud.google.com/go/spanner"
	database "cloud.google.com/go/spanner/admin/database/apiv1"
	"cloud.google.com/go/spanner/admin/database/apiv1/databasepb"
	"github.com/prometheus/client_golang/prometheus"
	vlog "github.com/vigil-log/vigil/log"
	"google.golang.org/grpc/codes"
)

// SpannerAdmission is an Admission in a Cloud Spanner table,
// vigil_admission, in the log's database: the rows of SQLAdmission (a row
// per stripe, row 0 for the global lock, row -1 for the layout, each with
// the log size after the last change made under it), locked otherwise.
//
// A Spanner transaction cannot be held from a check until the entry is
// sequenced, as InnoDB's row locks are: the sequencing is itself a Spanner
// transaction of Tessera's, which a long transaction of ours would abort or
// stall (and the emulator runs one read-write transaction at a time). So a
// lock here is a lease recorded in the row by a short transaction: a
// writer's token and the time its lease ends, or a count of readers and the
// time the last of their leases ends. A writer that finds its rows held
// marks them wanted, so that new readers wait and writers are not starved,
// and tries again after a short, growing pause. Releasing is another short
// transaction. A frontend's takes and releases are batched: all those
// waiting at a time go in one transaction, so it has one in flight.
//
// Beyond SQLAdmission's gaps, leases bring one of their own: a frontend that
// holds a lock longer than leaseTime (a process paused, or a sequencing
// stalled that long) may find another frontend judging under it; and a
// frontend that dies holding a lock blocks its stripes until the lease ends.
// Lease times are the database's (CURRENT_TIMESTAMP()), not the frontends'.
// The audit of the log shows any entry that slipped through.
type SpannerAdmission struct {
	client *spanner.Client
	logger *slog.Logger
	reads  readGroups

	mu      sync.Mutex
	queue   []*leaseOp // waiting for the next batch
	running bool       // a goroutine is doing batches (run)

	transactions, ops prometheus.Counter
}

// leaseTime bounds how long a lock is held: far beyond the check and
// sequencing of an entry (well under a second; Tessera answers pushback at
// once rather than queue), short enough that a dead frontend's stripes are
// free again soon.
const leaseTime = 10 * time.Second

// NewSpannerAdmission creates the vigil_admission table in the database if
// it is missing, through an admin client of its own, and locks through c,
// which the caller closes. Failures no submission sees go to logger; nil
// discards. reg, if not nil, receives its metrics:
// personality_admission_transactions_total and personality_admission_ops_total
// (takes and releases of leases), whose ratio is the mean batch.
func NewSpannerAdmission(ctx context.Context, c *spanner.Client, logger *slog.Logger, reg prometheus.Registerer) (*SpannerAdmission, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := createAdmissionTable(ctx, c, logger); err != nil {
		return nil, fmt.Errorf("admission: creating vigil_admission: %w", err)
	}
	// Row -1 records how names map onto rows: see SQLAdmission.
	var layout int64
	_, err := c.ReadWriteTransaction(ctx, func(ctx context.Context, tx *spanner.ReadWriteTransaction) error {
		row, err := tx.ReadRow(ctx, "vigil_admission", spanner.Key{-1}, []string{"last_size"})
		if spanner.ErrCode(err) == codes.NotFound {
			layout = admissionLayout
			return tx.BufferWrite([]*spanner.Mutation{spanner.Insert("vigil_admission",
				[]string{"id", "last_size", "readers"}, []any{-1, layout, 0})})
		}
		if err != nil {
			return err
		}
		return row.Columns(&layout)
	})
	if err != nil {
		return nil, fmt.Errorf("admission: reading vigil_admission's layout: %w", err)
	}
	if layout != admissionLayout {
		return nil, fmt.Errorf("admission: vigil_admission is laid out as %d by another vigil version, this one uses %d: stop every frontend of the log and start them all on one version", layout, admissionLayout)
	}
	a := &SpannerAdmission{client: c, logger: logger,
		transactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "personality_admission_transactions_total",
			Help: "Spanner transactions run to take and release admission leases, each a batch of ops.",
		}),
		ops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "personality_admission_ops_total",
			Help: "Takes and releases of admission leases done in Spanner transactions.",
		}),
	}
	if reg != nil {
		reg.MustRegister(a.transactions, a.ops)
	}
	a.reads.lock = func(ids []int) (uint64, func(), error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rows := make([]leaseReq, len(ids))
		for i, id := range ids {
			rows[i] = leaseReq{id: id}
		}
		fence, release, err := a.take(ctx, rows, nil)
		if err != nil {
			return 0, nil, err
		}
		return fence, func() {
			if err := release(false, 0); err != nil {
				a.logger.Error("admission: ending a read group", "err", err, "stripes", len(ids))
			}
		}, nil
	}
	return a, nil
}

// createAdmissionTable creates vigil_admission unless it is there: a schema
// change, which Spanner makes one at a time, is made only when needed.
func createAdmissionTable(ctx context.Context, c *spanner.Client, logger *slog.Logger) error {
	var n int64
	err := c.Single().Query(ctx, spanner.NewStatement(
		"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '' AND table_name = 'vigil_admission'")).
		Do(func(r *spanner.Row) error { return r.Columns(&n) })
	if err != nil || n > 0 {
		return err
	}
	adm, err := database.NewDatabaseAdminClient(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	return vlog.RetrySchemaChange(ctx, logger, func() error {
		op, err := adm.UpdateDatabaseDdl(ctx, &databasepb.UpdateDatabaseDdlRequest{
			Database: c.DatabaseName(),
			Statements: []string{`CREATE TABLE IF NOT EXISTS vigil_admission (
				id INT64 NOT NULL,
				last_size INT64 NOT NULL,
				writer STRING(32),
				writer_until TIMESTAMP,
				readers INT64 NOT NULL,
				readers_until TIMESTAMP,
				wanted_until TIMESTAMP
			) PRIMARY KEY (id)`},
		})
		if err == nil {
			err = op.Wait(ctx)
		}
		return err
	})
}

// Acquire implements Admission.
func (a *SpannerAdmission) Acquire(ctx context.Context, p lockPlan) (uint64, func(bool, uint64) error, error) {
	if !p.global && !p.writes() {
		return a.reads.read(ctx, p)
	}
	var rows []leaseReq
	var record []int // the rows whose last_size a sequenced entry moves
	switch {
	case p.globalWrite:
		rows, record = append(rows, leaseReq{id: 0, write: true}), append(record, 0)
	case p.global:
		rows = append(rows, leaseReq{id: 0})
	}
	// As on MySQL, a writer takes all its stripes exclusively.
	for _, r := range p.stripes {
		rows = append(rows, leaseReq{id: r.stripe + 1, write: true})
		if r.write {
			record = append(record, r.stripe+1)
		}
	}
	return a.take(ctx, rows, record)
}

// leaseReq is a row to lease, exclusively (write) or shared.
type leaseReq struct {
	id    int
	write bool
}

// batchInterval is the least time between the starts of a frontend's
// batches, leaving the database room for others' transactions: on the
// emulator, BenchmarkThroughput/gcp's latency at half its peak went from
// 17 and 24 s (p50, batches back to back) to 9.9 s (one run each). On
// Spanner, whose commits take about 10 ms, it adds up to 25 ms a take.
const batchInterval = 25 * time.Millisecond

// leaseOp is one take or release of leases. A frontend's ops are done in
// batches, one transaction at a time (see run).
type leaseOp struct {
	rows    []leaseReq
	token   string // a writer's lease's
	release bool
	// On release: whether the entry was sequenced, its index, and the rows
	// whose last_size moves past it.
	sequenced bool
	index     uint64
	record    []int

	done  chan struct{} // closed once the outcome is set
	held  bool          // on take: the leases were taken
	fence uint64        // on take: the largest last_size among the rows
	err   error
}

// do queues op for the next batch and returns it; op.done is closed once
// the batch is done. A batch's transaction runs under its own deadline, not
// a submitter's: the Spanner client does not roll back a transaction whose
// commit a context ended, and one gcp benchmark whose lease transactions
// were cut off that way froze the emulator for good (the likely cause, not
// a proven one).
func (a *SpannerAdmission) do(op *leaseOp) *leaseOp {
	op.done = make(chan struct{})
	a.mu.Lock()
	a.queue = append(a.queue, op)
	if !a.running {
		a.running = true
		go a.run()
	}
	a.mu.Unlock()
	return op
}

// run does the queued ops, all of those queued at a time in one
// transaction, until none are left. So a frontend has one admission
// transaction in flight, however many submissions wait, and the slower the
// database, the larger the batches. With a transaction per lease and per
// release, Tessera's integration on the emulator missed its deadline for
// minutes (BenchmarkThroughput/gcp); the emulator aborting a transaction
// begun while another runs, and the client's growing back-off between
// retries, are the likely mechanism.
func (a *SpannerAdmission) run() {
	for {
		a.mu.Lock()
		batch := a.queue
		a.queue = nil
		if len(batch) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), leaseTime)
		err := a.apply(ctx, batch)
		cancel()
		a.transactions.Inc()
		a.ops.Add(float64(len(batch)))
		for _, op := range batch {
			if err != nil {
				op.held, op.err = false, err
			}
			close(op.done)
		}
		time.Sleep(time.Until(start.Add(batchInterval)))
	}
}

// apply does a batch in one transaction: its releases first, then its
// takes in the order they came, each seeing the rows as the ops before it
// left them.
func (a *SpannerAdmission) apply(ctx context.Context, batch []*leaseOp) error {
	var ids []int64
	seen := map[int]bool{}
	for _, op := range batch {
		for _, r := range op.rows {
			if !seen[r.id] {
				seen[r.id] = true
				ids = append(ids, int64(r.id))
			}
		}
	}
	_, err := a.client.ReadWriteTransaction(ctx, func(ctx context.Context, tx *spanner.ReadWriteTransaction) error {
		cur, err := readLeases(ctx, tx, ids)
		if err != nil {
			return err
		}
		now, err := databaseNow(ctx, tx)
		if err != nil {
			return err
		}
		changed := map[int]bool{}
		for _, op := range batch {
			if op.release {
				releaseLeases(op, cur, changed)
			}
		}
		for _, op := range batch {
			if !op.release {
				takeLeases(op, cur, changed, now)
			}
		}
		ms := make([]*spanner.Mutation, 0, len(changed))
		for id := range changed {
			ms = append(ms, cur[id].mutation(id))
		}
		return tx.BufferWrite(ms)
	})
	return err
}

// releaseLeases ends op's leases in cur and moves its record rows past a
// sequenced entry.
func releaseLeases(op *leaseOp, cur map[int]*lease, changed map[int]bool) {
	for _, r := range op.rows {
		l := cur[r.id]
		if r.write {
			if l.writer.StringVal != op.token {
				continue // the lease ended and another took the row
			}
			l.writer, l.writerUntil = spanner.NullString{}, spanner.NullTime{}
		} else if l.readers > 0 {
			l.readers--
		}
		changed[r.id] = true
	}
	if op.sequenced {
		for _, id := range op.record {
			cur[id].lastSize = max(cur[id].lastSize, int64(op.index+1))
			changed[id] = true
		}
	}
}

// takeLeases takes op's leases in cur if all its rows are free, and
// otherwise marks the rows readers hold from a writer as wanted, so that
// no new readers come before it.
func takeLeases(op *leaseOp, cur map[int]*lease, changed map[int]bool, now time.Time) {
	op.held, op.fence = true, 0
	for _, r := range op.rows {
		l := cur[r.id]
		free := !l.writerHeld(now) && (r.write && !l.readersHeld(now) || !r.write && !l.wanted(now))
		op.held = op.held && free
		op.fence = max(op.fence, uint64(l.lastSize))
	}
	for _, r := range op.rows {
		l := cur[r.id]
		switch {
		case !op.held && r.write && !l.writerHeld(now):
			// Held by readers: no new ones until this writer is in.
			l.wantedUntil = spanner.NullTime{Time: now.Add(time.Second), Valid: true}
		case !op.held:
			continue
		case r.write:
			l.writer = spanner.NullString{StringVal: op.token, Valid: true}
			l.writerUntil = spanner.NullTime{Time: now.Add(leaseTime), Valid: true}
			l.wantedUntil = spanner.NullTime{}
		default:
			if !l.readersHeld(now) {
				l.readers = 0
			}
			l.readers++
			l.readersUntil = spanner.NullTime{Time: now.Add(leaseTime), Valid: true}
		}
		changed[r.id] = true
	}
}

// take leases rows, trying again until they are free or ctx ends, and
// returns the largest last_size among them and the function that ends the
// lease, moving record's last_size past a sequenced entry.
func (a *SpannerAdmission) take(ctx context.Context, rows []leaseReq, record []int) (uint64, func(bool, uint64) error, error) {
	token := rand.Text()
	release := func(sequenced bool, index uint64) error {
		// The lease outlives the request: see SQLAdmission.write.
		op := a.do(&leaseOp{rows: rows, token: token, release: true, sequenced: sequenced, index: index, record: record})
		<-op.done
		if op.err != nil && sequenced {
			// As on MySQL: readers elsewhere may judge without this entry
			// until their follower folds it; the lease ends by itself.
			return fmt.Errorf("admission: recording entry %d: %w", index, op.err)
		}
		if op.err != nil {
			return fmt.Errorf("admission: ending a lease: %w", op.err)
		}
		return nil
	}
	pause := time.Millisecond
	for {
		op := a.do(&leaseOp{rows: rows, token: token})
		select {
		case <-op.done:
		case <-ctx.Done():
			// The submitter's turn ran out, or it left (Personality.noTurn
			// tells which); a lease taken for it is given back.
			go func() {
				if <-op.done; op.err == nil && op.held {
					release(false, 0)
				}
			}()
			return 0, nil, fmt.Errorf("admission: waiting for locks: %w", ctx.Err())
		}
		if spanner.ErrCode(op.err) == codes.DeadlineExceeded || errors.Is(op.err, context.DeadlineExceeded) {
			// The transaction's deadline, or the client's own on a call:
			// the database is too busy to answer in time, which the
			// submitter may retry.
			return 0, nil, fmt.Errorf("admission: %w: %v", vlog.ErrPushback, op.err)
		}
		if op.err != nil {
			return 0, nil, fmt.Errorf("admission: %w", op.err)
		}
		if op.held {
			return op.fence, release, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("admission: waiting for locks: %w", ctx.Err())
		case <-time.After(pause/2 + mrand.N(pause)):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// lease is a vigil_admission row.
type lease struct {
	lastSize, readers                      int64
	writer                                 spanner.NullString
	writerUntil, readersUntil, wantedUntil spanner.NullTime
}

func (l *lease) writerHeld(now time.Time) bool {
	return l.writer.Valid && l.writerUntil.Valid && l.writerUntil.Time.After(now)
}

func (l *lease) readersHeld(now time.Time) bool {
	return l.readers > 0 && l.readersUntil.Valid && l.readersUntil.Time.After(now)
}

func (l *lease) wanted(now time.Time) bool {
	return l.wantedUntil.Valid && l.wantedUntil.Time.After(now)
}

var leaseColumns = []string{"id", "last_size", "writer", "writer_until", "readers", "readers_until", "wanted_until"}

func (l *lease) mutation(id int) *spanner.Mutation {
	return spanner.InsertOrUpdate("vigil_admission", leaseColumns,
		[]any{int64(id), l.lastSize, l.writer, l.writerUntil, l.readers, l.readersUntil, l.wantedUntil})
}

// databaseNow is the database's time, so that leases never depend on the
// frontends' clocks agreeing.
func databaseNow(ctx context.Context, tx *spanner.ReadWriteTransaction) (time.Time, error) {
	var now time.Time
	err := tx.Query(ctx, spanner.NewStatement("SELECT CURRENT_TIMESTAMP()")).Do(func(r *spanner.Row) error { return r.Columns(&now) })
	if err != nil {
		return now, fmt.Errorf("reading the database's time: %w", err)
	}
	return now, nil
}

// readLeases reads rows in tx; a row not yet written is a free one.
func readLeases(ctx context.Context, tx *spanner.ReadWriteTransaction, ids []int64) (map[int]*lease, error) {
	keys := make([]spanner.KeySet, len(ids))
	out := make(map[int]*lease, len(ids))
	for i, id := range ids {
		keys[i] = spanner.Key{id}
		out[int(id)] = &lease{}
	}
	err := tx.Read(ctx, "vigil_admission", spanner.KeySets(keys...), leaseColumns).Do(func(r *spanner.Row) error {
		var id int64
		l := &lease{}
		if err := r.Columns(&id, &l.lastSize, &l.writer, &l.writerUntil, &l.readers, &l.readersUntil, &l.wantedUntil); err != nil {
			return err
		}
		out[int(id)] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading admission rows: %w", err)
	}
	return out, nil
}
