package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/mod/sumdb/note"
)

// FollowerConfig configures a Follower.
type FollowerConfig struct {
	// Tiles reads the log: its checkpoint, hash tiles and entry bundles.
	// Required.
	Tiles *client.Tiles
	// Verifier verifies the log's checkpoints. Required.
	Verifier note.Verifier
	// Blob reads an SBOM statement by its hex SHA-256, as
	// client.AuditConfig.Blob. Required if the log has SBOMs.
	Blob func(ctx context.Context, hexDigest string) ([]byte, error)
	// Roots are the trust roots the log admits under. Required.
	Roots *client.TrustRoots
	// Dir holds the index (Dir/index.db) and the state of the audit that
	// builds it (Dir/audit). Created if missing. Required unless DB is set.
	Dir string
	// DB, if set, is the log's MySQL or Cloud Spanner database, which
	// holds the index and the audit's state instead of Dir, for all the
	// frontends of the log. Its driver tells which: go-sql-spanner's (as
	// OpenSpannerDB opens) is Spanner's, any other is taken for MySQL's.
	// One follower at a time writes it, under a lease (see CatchUp); the
	// caller closes DB after the Follower.
	DB *sql.DB
	// Rebuild discards the index (what Dir holds, or DB's index and audit
	// state, once it holds the lease) and builds it from the first entry.
	// It is how a shared index of an earlier schema version is replaced,
	// which is otherwise refused.
	Rebuild bool
	// Interval is how often Run looks for a new checkpoint. Default 1s.
	Interval time.Duration
	// Progress, if set, receives the progress of each catch-up, as
	// client.AuditConfig.Progress.
	Progress func(client.AuditProgress)
	// Logger receives lifecycle events and new anomalies. Nil discards.
	Logger *slog.Logger
}

// Follower keeps an Index in step with a log: for each new checkpoint it
// records the checkpoint, with its cosignatures, and runs client.Audit from
// where the index stands, which folds the new entries in. It takes the log's signatures as verified (the log checked
// them at admission; vigil audit is the independent check) and checks
// everything else, so the index holds only what the log was right to
// accept, and the anomalies of anything else.
type Follower struct {
	cfg    FollowerConfig
	index  *Index
	unlock func()
	// store and lease are those of a shared index (DB set), else nil.
	store  *sqlStore
	lease  lease
	report atomic.Pointer[client.AuditReport] // the last catch-up's, to tell new anomalies
}

// NewFollower opens, or creates, the index in cfg.Dir or cfg.DB. It holds
// Dir for its lifetime: a second Follower of the same Dir (a vigild reindex
// while vigild runs) is refused. Followers of one DB take turns instead:
// the one holding the lease writes, the others stand by.
func NewFollower(ctx context.Context, cfg FollowerConfig) (*Follower, error) {
	switch {
	case cfg.Tiles == nil || cfg.Verifier == nil || cfg.Roots == nil || cfg.Dir == "" && cfg.DB == nil:
		return nil, errors.New("index: Tiles, Verifier, Roots and Dir or DB are required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DB != nil {
		return newSharedFollower(ctx, cfg)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	unlock, err := hold(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if cfg.Rebuild {
		for _, name := range []string{File, File + "-wal", File + "-shm", "audit"} {
			if err := os.RemoveAll(filepath.Join(cfg.Dir, name)); err != nil {
				unlock()
				return nil, fmt.Errorf("index: discarding %s: %w", name, err)
			}
		}
	}
	idx, err := Open(cfg.Dir)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("index: %w", err)
	}
	return &Follower{cfg: cfg, index: idx, unlock: unlock}, nil
}

// newSharedFollower opens the index in cfg.DB. A rebuild waits for the
// lease, then discards an index of an earlier schema version (see
// discardOlder) and empties the index and the audit's state.
func newSharedFollower(ctx context.Context, cfg FollowerConfig) (*Follower, error) {
	d := sharedDialect(cfg.DB)
	if err := create(ctx, cfg.DB, d); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	l, err := d.newLease(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	store, err := newSQLStore(ctx, cfg.DB, d, l)
	if err != nil {
		l.release()
		return nil, err
	}
	fail := func(err error) (*Follower, error) {
		l.release()
		return nil, fmt.Errorf("index: %w", err)
	}
	if cfg.Rebuild {
		for {
			ok, err := l.hold(ctx)
			if err != nil {
				return fail(err)
			}
			if ok {
				break
			}
			select {
			case <-ctx.Done():
				return fail(fmt.Errorf("waiting for the lease to rebuild: %w", ctx.Err()))
			case <-time.After(cfg.Interval):
			}
		}
		if err := discardOlder(ctx, cfg.DB, d); err != nil {
			return fail(err)
		}
	}
	if err := checkVersion(ctx, cfg.DB, d); err != nil {
		return fail(err)
	}
	idx := newIndex(cfg.DB, d)
	idx.guard = l.guard
	f := &Follower{cfg: cfg, index: idx, unlock: l.release, store: store, lease: l}
	if cfg.Rebuild {
		if err := idx.Truncate(ctx, 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("index: emptying the index: %w", err)
		}
		if err := store.clear(ctx); err != nil {
			f.Close()
			return nil, fmt.Errorf("index: discarding the audit state: %w", err)
		}
	}
	return f, nil
}

// hold takes an exclusive lock on dir/HOLD, or fails at once if someone
// holds it.
func hold(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "HOLD"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("index: %s is in use by another process (a running vigild?)", dir)
		}
		return nil, fmt.Errorf("index: locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// Index returns the index, for queries.
func (f *Follower) Index() *Index { return f.index }

// CatchUp folds the entries up to the log's latest checkpoint into the
// index. On a shared index it first takes, or checks, the lease, and
// returns ErrStandby while another process holds it.
func (f *Follower) CatchUp(ctx context.Context) (*client.AuditReport, error) {
	if f.lease != nil {
		ok, err := f.lease.hold(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			f.report.Store(nil) // the next leader's report is not ours
			return nil, ErrStandby
		}
	}
	raw, err := f.cfg.Tiles.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("index: reading the checkpoint: %w", err)
	}
	cp, err := client.VerifyCheckpoint(raw, f.cfg.Verifier)
	if err != nil {
		return nil, fmt.Errorf("index: the log's checkpoint: %w", err)
	}
	if err := f.index.RecordCheckpoint(ctx, cp.Size, raw); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	before := f.report.Load()
	cfg := client.AuditConfig{
		Tiles:          f.cfg.Tiles,
		Blob:           f.cfg.Blob,
		Roots:          f.cfg.Roots,
		Index:          f.index,
		SkipSignatures: true,
		Progress:       f.cfg.Progress,
	}
	if f.store != nil {
		cfg.Store = f.store
	} else {
		cfg.Dir = filepath.Join(f.cfg.Dir, "audit")
	}
	r, err := client.Audit(ctx, cfg, cp)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	f.report.Store(r)
	switch {
	case before == nil:
		// The first catch-up of this process: what earlier runs found was
		// logged then; say how many there are.
		f.cfg.Logger.InfoContext(ctx, "index caught up", "size", r.Size, "new", r.New, "anomalies", len(r.Anomalies))
	case len(r.Anomalies) > len(before.Anomalies):
		for _, an := range r.Anomalies[len(before.Anomalies):] {
			f.cfg.Logger.WarnContext(ctx, "anomaly in the log", "index", an.Index, "code", an.Code, "udi", an.UDI, "detail", an.Detail)
		}
	}
	return r, nil
}

// Run catches up every Interval until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		if r, err := f.CatchUp(ctx); errors.Is(err, ErrStandby) {
			f.cfg.Logger.DebugContext(ctx, "another process follows the log into the shared index")
		} else if errors.Is(err, fs.ErrNotExist) && f.report.Load() == nil {
			// A new log has no checkpoint until the first one is published.
			f.cfg.Logger.DebugContext(ctx, "no checkpoint to follow yet", "err", err)
		} else if err != nil && ctx.Err() == nil {
			f.cfg.Logger.ErrorContext(ctx, "following the log into the index", "err", err)
		} else if err == nil && r.New > 0 {
			f.cfg.Logger.DebugContext(ctx, "index caught up", "size", r.Size, "new", r.New)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes the index and lets Dir go.
func (f *Follower) Close() error {
	err := f.index.Close()
	f.unlock()
	return err
}
