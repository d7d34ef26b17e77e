// Package personality decides what may enter a vigil log and serves the
// submission API. It checks each DSSE envelope against the evidence model of
// package client (schema, signature, the signer's authority over the device,
// UDI or firmware named), stores large payloads as blobs, appends the
// canonical leaf through the log, and answers with an evidence bundle whose
// core is a [c2sp.org/tlog-proof].
//
// The authority state it checks against (enrolled devices, revocations,
// firmware ownership) is derived from the log: at start it folds every entry
// already in the log, and afterwards it folds each entry it accepts, so it is
// rebuilt correctly after a restart or from an empty state directory.
//
// [c2sp.org/tlog-proof]: https://c2sp.org/tlog-proof
package personality

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/personality/index"
)

// Log is what the personality needs of a log. *log.Log implements it.
//
// All methods may be called concurrently. Sequence returns once the leaf is
// durably sequenced (it survives a crash); its error wraps log.ErrPushback
// when the log is overloaded. Lookup finds an identical leaf already in the
// log without adding anything. Prove blocks until a published checkpoint
// covers the index. ProveUnder's error wraps log.ErrNotFound for an index the
// checkpoint does not cover.
type Log interface {
	Sequence(ctx context.Context, leaf []byte) (index uint64, dup bool, err error)
	Lookup(ctx context.Context, leaf []byte) (index uint64, found bool, err error)
	Prove(ctx context.Context, index uint64, leaf []byte) (*vlog.Receipt, error)
	Checkpoint(ctx context.Context) ([]byte, error)
	ProveUnder(ctx context.Context, index uint64, checkpoint []byte) (*vlog.Receipt, []byte, error)
	IntegratedSize(ctx context.Context) (uint64, error)
	Leaves(ctx context.Context, from, to uint64, fn func(index uint64, leaf []byte) error) error
}

// Config configures a Personality.
type Config struct {
	// Log is the log entries are appended to. Required.
	Log Log
	// Blobs stores payloads that do not fit in a leaf. Required.
	Blobs Blobs
	// Roots are the trust-root manufacturers. Required.
	Roots *client.TrustRoots
	// Admission coordinates admission with the other frontends of a shared
	// log (SQLAdmission on MySQL, SpannerAdmission on GCP). Optional: nil
	// for a log only this process writes.
	Admission Admission
	// Index answers the query API. Optional: without it the query routes
	// answer 501.
	Index *index.Index
	// WaitTimeout bounds how long a submission waits for a checkpoint that
	// includes it before answering 202 with its index. Default 10s.
	WaitTimeout time.Duration
	// TurnTimeout bounds how long a submission waits for its turn (the
	// locks of the entries that could change its verdict, in this process
	// and, on a shared log, across frontends) before it is answered with
	// pushback, having changed nothing. Default 10s. A server's write
	// timeout must exceed it and WaitTimeout together, with room for
	// sequencing, or a slow answer is lost after its entry is logged.
	TurnTimeout time.Duration
	// MaxBodyBytes bounds a submission's body. Default 16 MiB.
	MaxBodyBytes int64
	// Logger receives one Debug line per rejected submission and lifecycle
	// events. Nil discards.
	Logger *slog.Logger
	// Registerer receives the personality's metrics. Nil registers nothing.
	Registerer prometheus.Registerer
}

// Personality is the submission front end of one log.
type Personality struct {
	cfg     Config
	state   *client.State
	locks   *locks
	metrics *metrics
	logger  *slog.Logger
	foldMu  sync.Mutex // held by fold
	// folded is how many log entries have been folded into state; under
	// foldMu.
	folded uint64
}

// New builds the personality and folds the log's existing entries into its
// authority state before returning, so it never judges a submission against
// an incomplete history.
func New(ctx context.Context, cfg Config) (*Personality, error) {
	if cfg.Log == nil || cfg.Blobs == nil || cfg.Roots == nil {
		return nil, errors.New("personality: Log, Blobs and Roots are required")
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 10 * time.Second
	}
	if cfg.TurnTimeout == 0 {
		cfg.TurnTimeout = 10 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Personality{
		cfg:     cfg,
		state:   client.NewState(cfg.Roots),
		locks:   newLocks(),
		metrics: newMetrics(cfg.Registerer),
		logger:  cfg.Logger,
	}
	start := time.Now()
	if err := p.fold(ctx); err != nil {
		return nil, err
	}
	p.logger.InfoContext(ctx, "authority state rebuilt from the log", "entries", p.folded, "duration", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// Follow keeps folding new log entries into the authority state until ctx
// ends. Submissions this personality accepts are folded as they are
// sequenced; the follower catches the rest: entries whose submitter went away
// before the log answered, and (with shared storage) other frontends' entries.
func (p *Personality) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.fold(ctx); err != nil && ctx.Err() == nil {
			p.logger.ErrorContext(ctx, "following the log", "err", err)
		}
	}
}

// fold replays integrated log entries not yet folded into the authority
// state. Only the kinds that change it (enrollments, SBOMs, revocations) are
// decoded. Entries are not re-verified: the log admitted them, and
// `vigil audit` is the independent re-check.
func (p *Personality) fold(ctx context.Context) error {
	p.foldMu.Lock()
	defer p.foldMu.Unlock()
	size, err := p.cfg.Log.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading log size: %w", err)
	}
	if size <= p.folded {
		return nil
	}
	err = p.cfg.Log.Leaves(ctx, p.folded, size, func(idx uint64, leaf []byte) error {
		e, err := p.entryOf(ctx, leaf, client.KindEnrollment, client.KindSBOM, client.KindRevocation)
		if err != nil {
			return fmt.Errorf("entry %d: %w", idx, err)
		}
		if e != nil {
			p.state.Apply(idx, e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("folding the log into the authority state: %w", err)
	}
	p.folded = size
	return nil
}

// entryOf decodes a leaf from the log into an entry, fetching its blob if it
// has one. It returns nil for kinds not in want (all kinds if want is empty).
func (p *Personality) entryOf(ctx context.Context, leaf []byte, want ...client.Kind) (*client.Entry, error) {
	l, err := client.ParseLeaf(leaf)
	if err != nil {
		return nil, err
	}
	if len(want) > 0 && !slices.Contains(want, l.Kind) {
		return nil, nil
	}
	var payload []byte
	if l.InBlob() {
		if payload, err = p.cfg.Blobs.Get(ctx, l.BlobDigest()); err != nil {
			// %v, not %w: a blob the log commits to and the store lacks is
			// the server's failure, never a client's 404.
			return nil, fmt.Errorf("the log commits to blob sha256:%s, which the store cannot give: %v", l.BlobDigest(), err)
		}
	}
	env, err := l.Envelope(payload)
	if err != nil {
		return nil, err
	}
	return client.NewEntry(env)
}

// submission is the outcome of submit.
type submission struct {
	entry *client.Entry
	leaf  []byte
	index uint64
	dup   bool
	turn  time.Time // when its locks were held, if they were
}

// submit checks an envelope and appends it, returning once it has a durable
// index. It does not wait for a checkpoint. Errors wrap client's sentinels
// for refusals and log.ErrPushback for overload.
func (p *Personality) submit(ctx context.Context, envelopeJSON []byte) (*submission, error) {
	e, err := client.ParseEntry(envelopeJSON)
	if err != nil {
		return nil, err
	}
	leaf, err := e.Leaf().Marshal()
	if err != nil {
		return &submission{entry: e}, err
	}
	sub, err := p.admit(ctx, e, leaf)
	var r refusal
	if errors.As(err, &r) {
		// An entry the log already holds is answered with its index even if
		// history has since made it inadmissible (its device enrolled by
		// itself, its signer revoked): resubmission is idempotent. The
		// lookup comes after the locks are let go: on a shared log it may
		// wait a moment for the antispam index.
		if idx, found, lerr := p.cfg.Log.Lookup(ctx, leaf); lerr == nil && found {
			return &submission{entry: e, leaf: leaf, index: idx, dup: true}, nil
		}
		return sub, r.error
	}
	return sub, err
}

// noTurn is the error of a submission whose wait for its locks failed:
// pushback if the admission says so (its database too busy to answer), or
// if the wait ran out of turn's time while the request went on (a driver
// may report that in its own error).
func (p *Personality) noTurn(ctx, turn context.Context, err error) error {
	if errors.Is(err, vlog.ErrPushback) {
		return err
	}
	if turn.Err() != nil && ctx.Err() == nil {
		p.logger.DebugContext(ctx, "no turn for a submission", "timeout", p.cfg.TurnTimeout, "err", err)
		return fmt.Errorf("%w: the entries that could change this one's verdict held its locks for %v", vlog.ErrPushback, p.cfg.TurnTimeout)
	}
	return fmt.Errorf("waiting for the entry's locks: %w", err)
}

// refusal is judgeAndSequence's error for an entry the authority state
// refuses, as opposed to a failure to store or sequence it.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// admit takes the entry's locks, in this process and, on a shared log,
// across frontends, then judges and sequences it.
func (p *Personality) admit(ctx context.Context, e *client.Entry, leaf []byte) (*submission, error) {
	pl := plan(e)
	turn, cancel := context.WithTimeout(ctx, p.cfg.TurnTimeout)
	defer cancel()
	unlock, err := p.locks.lock(turn, pl)
	if err != nil {
		return &submission{entry: e}, p.noTurn(ctx, turn, err)
	}
	defer unlock()
	turnAt := time.Now()
	if p.cfg.Admission == nil {
		sub, err := p.judgeAndSequence(ctx, e, leaf, 0)
		sub.turn = turnAt
		return sub, err
	}
	// Only the wait ends with turn: a shared lock, once taken, lasts until
	// release.
	fence, release, err := p.cfg.Admission.Acquire(turn, pl)
	if err != nil {
		return &submission{entry: e}, p.noTurn(ctx, turn, err)
	}
	turnAt = time.Now()
	if pl.writes() {
		// A writer judges against the whole log, not only the fences: a
		// fence another frontend failed to record cannot mislead it.
		size, serr := p.cfg.Log.IntegratedSize(ctx)
		if serr != nil {
			release(false, 0)
			return &submission{entry: e}, fmt.Errorf("reading log size: %w", serr)
		}
		fence = max(fence, size)
	}
	sequenced := false
	var sub *submission
	defer func() {
		// Deferred, so that even a panic lets the database locks go. A
		// duplicate records its original index too: harmless, and it
		// repairs a fence its first submitter failed to record.
		var idx uint64
		if sequenced {
			idx = sub.index
		}
		if rerr := release(sequenced, idx); rerr != nil {
			p.logger.ErrorContext(ctx, "releasing the admission locks", "err", rerr)
		}
	}()
	sub, err = p.judgeAndSequence(ctx, e, leaf, fence)
	sequenced = err == nil
	sub.turn = turnAt
	return sub, err
}

// reach folds the log into the authority state until it covers the first
// size entries, which other frontends may have sequenced a moment ago.
func (p *Personality) reach(ctx context.Context, size uint64) error {
	if size == 0 {
		return nil
	}
	reached := func() bool {
		p.foldMu.Lock()
		defer p.foldMu.Unlock()
		return p.folded >= size
	}
	for !reached() {
		if err := p.fold(ctx); err != nil {
			return err
		}
		if reached() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the log to integrate %d entries: %w", size, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// judgeAndSequence checks an entry against the authority state of at least
// the first fence entries and, if it is admissible, appends it. The caller
// holds the entry's locks.
func (p *Personality) judgeAndSequence(ctx context.Context, e *client.Entry, leaf []byte, fence uint64) (*submission, error) {
	if err := p.reach(ctx, fence); err != nil {
		return &submission{entry: e}, err
	}
	if err := p.state.Check(e); err != nil {
		return &submission{entry: e}, refusal{err}
	}
	if e.Kind == client.KindSBOM {
		// The blob must be durable before the log commits to it.
		if err := p.cfg.Blobs.Put(ctx, e.PayloadDigest(), e.Envelope.Payload); err != nil {
			return &submission{entry: e}, err
		}
	}
	// Once handed to the log the entry may be sequenced whatever the client
	// does, so the answer is awaited even if the client goes away, and the
	// state learns of the entry.
	idx, dup, err := p.cfg.Log.Sequence(context.WithoutCancel(ctx), leaf)
	if err != nil {
		return &submission{entry: e}, err
	}
	p.state.Apply(idx, e)
	return &submission{entry: e, leaf: leaf, index: idx, dup: dup}, nil
}

// bundle builds the evidence bundle for a leaf under a receipt; for an
// attestation it embeds the device's enrollment, proven under the same
// checkpoint. It needs only the leaf's kind and signer, which the leaf
// itself carries, so an SBOM's blob is never read to answer.
func (p *Personality) bundle(ctx context.Context, kind client.Kind, signerKeyID string, leaf []byte, r *vlog.Receipt) (*client.Bundle, error) {
	b, err := client.NewBundle(leaf, r.Index, r.Hashes, r.Checkpoint)
	if err != nil {
		return nil, err
	}
	if kind != client.KindAttestation {
		return b, nil
	}
	d := p.state.Device(signerKeyID)
	if d == nil {
		// Another frontend of a shared log may have sequenced the
		// enrollment, and this one not folded it yet: it precedes the
		// attestation, so folding up to it finds it.
		if err := p.reach(ctx, r.Index+1); err != nil {
			return nil, err
		}
		if d = p.state.Device(signerKeyID); d == nil {
			return nil, fmt.Errorf("attestation %d: signer is not an enrolled device", r.Index)
		}
	}
	er, eleaf, err := p.cfg.Log.ProveUnder(ctx, d.Enrollment, r.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("proving enrollment %d: %w", d.Enrollment, err)
	}
	if b.Enrollment, err = client.NewBundle(eleaf, er.Index, er.Hashes, er.Checkpoint); err != nil {
		return nil, err
	}
	return b, nil
}
