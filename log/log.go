// Package log is vigil's only door to Tessera: it creates or opens a
// [c2sp.org/tlog-tiles] log on a Tessera storage driver, sequences leaves,
// waits for checkpoints that commit to them, builds inclusion proofs it has
// checked itself with the transparency-dev verifier, and serves the tlog-tiles
// read API. It knows nothing of devices: a leaf is bytes.
//
// [c2sp.org/tlog-tiles]: https://c2sp.org/tlog-tiles
package log

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
	"github.com/vigil-log/vigil/client"
	"golang.org/x/mod/sumdb/note"
)

// ErrPushback is returned when the log cannot take more entries for now;
// callers should retry later. It wraps tessera.ErrPushback.
var ErrPushback = tessera.ErrPushback

// ErrWitnessPolicy is wrapped when the witness policy does not parse.
var ErrWitnessPolicy = errors.New("invalid witness policy")

// ErrExists is wrapped by Create when the storage already holds a log.
var ErrExists = errors.New("storage already holds a log")

// ErrNotFound is returned for an index the log has not integrated.
var ErrNotFound = errors.New("no such entry")

// Config configures a log.
type Config struct {
	// Storage is where the log lives: POSIX or MySQL. Required.
	Storage Storage
	// AntispamPushback is how far, in entries, the antispam follower may lag
	// the tree before the log answers with pushback. Entries in that window
	// are still deduplicated by the in-memory caches, which hold 256Ki
	// entries. Tessera's default, 2048, with its follower waking once a
	// second, caps sustained ingest near 2,000 entries/s. Default 65536.
	AntispamPushback uint
	// Signer signs checkpoints; its name is the log's origin. Required.
	Signer note.Signer
	// Verifier is the Signer's verifier, used to check every checkpoint the
	// log hands out before it returns it. Required.
	Verifier note.Verifier
	// Options is Tessera's append options builder, as built by the caller
	// (batching, checkpoint interval, pushback). Log adds the checkpoint
	// signer, antispam and witnesses. Nil means Tessera's defaults. A
	// checkpoint interval below the storage's floor (1s on MySQL) is
	// refused.
	Options *tessera.AppendOptions
	// WitnessPolicy is a C2SP tlog-policy file whose witnesses must cosign
	// a checkpoint before it is published (Tessera's WithWitnesses, fail
	// closed). Optional: empty publishes checkpoints the log alone signed.
	WitnessPolicy []byte
	// PollInterval is how often waiters look for a new checkpoint.
	// Default 100ms.
	PollInterval time.Duration
	// Logger receives lifecycle events. Nil discards.
	Logger *slog.Logger
	// Registerer receives the log's metrics. Nil registers nothing.
	Registerer prometheus.Registerer
}

// Log is an open log. Its methods may be called concurrently.
type Log struct {
	cfg      Config
	add      tessera.AddFn
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	metrics  *metrics
	logger   *slog.Logger

	// lookupAntispam asks Tessera's persistent antispam index for a leaf's
	// index without ever appending; nil without antispam.
	lookupAntispam tessera.AddFn
	// antispamProgress reports how much of the tree the persistent antispam
	// index covers; nil without antispam.
	antispamProgress tessera.Follower
	// recent maps the identity of leaves this process sequenced to their
	// index, covering the time before the antispam follower indexes them.
	recent *lru.Cache[[32]byte, uint64]

	// bundles caches parsed full entry bundles, which never change, by
	// bundle index: receipts for attestations read their device's
	// enrollment leaf, and without it every one reparses a whole bundle.
	bundles *lru.Cache[uint64, [][]byte]

	mu      sync.Mutex            // guards builder, bSize and lastCP
	lastCP  *checkedCheckpoint    // the checkpoint checked last
	builder *tclient.ProofBuilder // proofs for trees of size bSize
	bSize   uint64
}

// Receipt is proof that a leaf is in the log: its index, a checkpoint signed
// by the log that commits to it, and the inclusion proof, already verified.
type Receipt struct {
	Index uint64
	// Dup is true when the leaf was already in the log before this call.
	Dup        bool
	Checkpoint []byte
	Hashes     [][]byte
}

// Exists reports whether the storage holds a log.
func Exists(ctx context.Context, s Storage) (bool, error) { return s.exists(ctx) }

// Create makes a new, empty log in cfg.Storage, which must hold nothing (an
// empty or missing directory; a MySQL database without Tessera's tables).
func Create(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Storage == nil {
		return nil, errors.New("log: Storage is required")
	}
	ok, err := cfg.Storage.exists(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, fmt.Errorf("creating a log: %s: %w", cfg.Storage, ErrExists)
	}
	if err := cfg.Storage.prepare(ctx); err != nil {
		return nil, err
	}
	return start(ctx, cfg)
}

// Open opens the existing log in cfg.Storage. It fails if there is none, so
// a wrong path or database never quietly starts a new log.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Storage == nil {
		return nil, errors.New("log: Storage is required")
	}
	ok, err := cfg.Storage.exists(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("opening log: no log in %s", cfg.Storage)
	}
	return start(ctx, cfg)
}

func start(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Signer == nil || cfg.Verifier == nil || cfg.Signer.Name() != cfg.Verifier.Name() {
		return nil, errors.New("log: a checkpoint signer and its verifier are required")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.AntispamPushback == 0 {
		cfg.AntispamPushback = 1 << 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := cfg.Options
	if opts == nil {
		opts = tessera.NewAppendOptions()
	}
	if min := cfg.Storage.minCheckpointInterval(); opts.CheckpointInterval() < min {
		return nil, fmt.Errorf("log: a checkpoint interval of %v is below the %v that %s allows", opts.CheckpointInterval(), min, cfg.Storage)
	}
	// Tessera's background work lives as long as the log, not the caller's
	// ctx: Close ends it, after Tessera's own shutdown, in the documented order.
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// Tessera posts checkpoints to witnesses through the driver's HTTP
	// client; instrumenting it gives latency and failures per witness,
	// which Tessera does not export.
	httpClient := &http.Client{Timeout: tessera.DefaultWitnessTimeout}
	if len(cfg.WitnessPolicy) > 0 {
		wg, err := tessera.NewWitnessGroupFromPolicy(cfg.WitnessPolicy)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("%w: %v", ErrWitnessPolicy, err)
		}
		opts = opts.WithWitnesses(wg, nil)
		httpClient.Transport = newWitnessTransport(cfg.Registerer, wg.Endpoints())
	}
	// A log signed by another key would be extended under this one and
	// every client would reject it: refuse before Tessera publishes.
	if cp, err := cfg.Storage.checkpoint(ctx); err != nil {
		cancel()
		return nil, err
	} else if cp != nil {
		if _, _, _, err := log.ParseCheckpoint(cp, cfg.Signer.Name(), cfg.Verifier); err != nil {
			cancel()
			return nil, fmt.Errorf("%s holds a log whose checkpoint the key %s does not verify (%v): wrong key or wrong storage", cfg.Storage, cfg.Verifier.Name(), err)
		}
	}
	driver, as, err := cfg.Storage.open(lctx, httpClient, cfg.AntispamPushback)
	if err != nil {
		cancel()
		return nil, err
	}
	opts = opts.WithCheckpointSigner(cfg.Signer).WithAntispam(tessera.DefaultAntispamInMemorySize, as)
	var (
		a        *tessera.Appender
		shutdown func(context.Context) error
		reader   tessera.LogReader
	)
	err = RetrySchemaChange(ctx, cfg.Logger, func() (err error) {
		a, shutdown, reader, err = tessera.NewAppender(lctx, driver, opts)
		return err
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting Tessera appender: %w", err)
	}
	l := &Log{
		cfg:      cfg,
		add:      a.Add,
		reader:   reader,
		awaiter:  tessera.NewPublicationAwaiter(lctx, reader.ReadCheckpoint, cfg.PollInterval),
		shutdown: shutdown,
		cancel:   cancel,
		logger:   cfg.Logger.With("origin", cfg.Signer.Name()),
	}
	if as != nil {
		l.lookupAntispam = as.Decorator()(func(context.Context, *tessera.Entry) tessera.IndexFuture {
			return func() (tessera.Index, error) { return tessera.Index{}, errNotIndexed }
		})
		l.antispamProgress = as.Follower(nil) // only asked for its persisted position
		if err := l.awaitAntispam(ctx); err != nil {
			cancel()
			return nil, err
		}
	}
	if l.recent, err = lru.New[[32]byte, uint64](recentLeaves); err != nil {
		cancel()
		return nil, fmt.Errorf("creating recent-leaf cache: %w", err)
	}
	if l.bundles, err = lru.New[uint64, [][]byte](cachedBundles); err != nil {
		cancel()
		return nil, fmt.Errorf("creating entry bundle cache: %w", err)
	}
	l.metrics = newMetrics(cfg.Registerer, l)
	l.logger.InfoContext(ctx, "log started", "storage", cfg.Storage.String())
	return l, nil
}

// Origin returns the log's origin line.
func (l *Log) Origin() string { return l.cfg.Signer.Name() }

// Reader returns the Tessera log reader, for followers of the log's content.
func (l *Log) Reader() tessera.LogReader { return l.reader }

// Tiles reads the log's published checkpoint, tiles and entry bundles
// through its Tessera reader, for client code such as an audit of the log
// by its own server.
func (l *Log) Tiles() *client.Tiles {
	return &client.Tiles{Checkpoint: l.reader.ReadCheckpoint, Tile: l.reader.ReadTile, EntryBundle: l.reader.ReadEntryBundle}
}

// Sequence adds a leaf and blocks until it has a durable index: after it
// returns, the leaf survives a crash. An identical leaf already in the log
// gets its original index, with Dup set. Errors wrap ErrPushback when the log
// is overloaded.
func (l *Log) Sequence(ctx context.Context, leaf []byte) (index uint64, dup bool, err error) {
	idx, err := l.add(ctx, tessera.NewEntry(leaf))()
	if err != nil {
		return 0, false, fmt.Errorf("sequencing: %w", err)
	}
	l.recent.Add(sha256.Sum256(leaf), idx.Index)
	return idx.Index, idx.IsDup, nil
}

// awaitAntispam blocks until Tessera's persistent antispam index covers
// every entry that had an index when it is called. Its follower indexes
// entries a second or so after integration, and the in-memory index of
// recent entries dies with the process: without this wait at start, an
// entry sequenced just before a crash and resubmitted just after it would
// be appended a second time. Where the tree may lag the entries sequenced
// (twoPhase), the wait includes the integration of those.
func (l *Log) awaitAntispam(ctx context.Context) error {
	start := time.Now()
	// The log as it stands now: on a shared log other frontends keep
	// appending, and the follower, waking once a second, may never catch
	// a moving size.
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading integrated size: %w", err)
	}
	if tp, ok := l.cfg.Storage.(twoPhase); ok {
		seq, err := tp.sequenced(ctx)
		if err != nil {
			return err
		}
		size = max(size, seq)
	}
	for {
		done, err := l.antispamProgress.EntriesProcessed(ctx)
		if err != nil {
			return fmt.Errorf("reading antispam progress: %w", err)
		}
		if done >= size {
			if size > 0 && time.Since(start) > time.Second {
				l.logger.InfoContext(ctx, "antispam index covers the log", "size", size, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the antispam index to reach %d (at %d): %w", size, done, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errNotIndexed is what the lookup's delegate answers: not in the index.
var errNotIndexed = errors.New("not indexed")

// recentLeaves bounds the recent-leaf cache, as Tessera's in-memory antispam.
const recentLeaves = tessera.DefaultAntispamInMemorySize

// cachedBundles bounds the entry bundle cache: 1,024 bundles of 256 leaves,
// some 300 MB at most with vigil's 1 KiB attestations and enrollments.
const cachedBundles = 1024

// Lookup reports the index of an identical leaf already in the log, without
// adding anything. It knows the leaves this process sequenced recently and
// those in Tessera's persistent antispam index, which its follower fills
// shortly after integration; a leaf in neither is reported absent. On
// storage other frontends write too (MySQL), a leaf found in neither is
// looked up again once the antispam index covers the tree as it stood,
// since another frontend may have sequenced it a moment ago.
func (l *Log) Lookup(ctx context.Context, leaf []byte) (uint64, bool, error) {
	id := sha256.Sum256(leaf)
	if idx, ok := l.recent.Get(id); ok {
		return idx, true, nil
	}
	if l.lookupAntispam == nil {
		return 0, false, nil
	}
	idx, found, err := l.lookupPersistent(ctx, leaf)
	if found || err != nil {
		return idx, found, err
	}
	if !l.cfg.Storage.shared() {
		return 0, false, nil
	}
	if err := l.awaitAntispam(ctx); err != nil {
		return 0, false, err
	}
	return l.lookupPersistent(ctx, leaf)
}

// lookupPersistent asks the persistent antispam index alone.
func (l *Log) lookupPersistent(ctx context.Context, leaf []byte) (uint64, bool, error) {
	idx, err := l.lookupAntispam(ctx, tessera.NewEntry(leaf))()
	switch {
	case errors.Is(err, errNotIndexed):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("looking up a leaf: %w", err)
	}
	return idx.Index, true, nil
}

// Prove waits until a published checkpoint commits to index, then returns a
// receipt for leaf at index under that checkpoint. It checks the checkpoint's
// signature and the inclusion proof before returning, and counts a failure in
// the log_inclusion_self_check_failures_total alarm.
func (l *Log) Prove(ctx context.Context, index uint64, leaf []byte) (*Receipt, error) {
	resolved := func() (tessera.Index, error) { return tessera.Index{Index: index}, nil }
	// Tessera's awaiter sees ctx only when its poll loop wakes the waiters,
	// which it does not while the log has no checkpoint at all (a new log
	// whose witnesses have not cosigned yet). Waiting beside it keeps ctx's
	// deadline; the abandoned wait ends with the next checkpoint.
	type result struct {
		cp  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, cp, err := l.awaiter.Await(ctx, resolved)
		done <- result{cp, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("awaiting a checkpoint for index %d: %w", index, r.err)
	}
	return l.proveAt(ctx, index, leaf, r.cp)
}

// Checkpoint returns the latest published checkpoint.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	return cp, nil
}

// ProveUnder returns a receipt for the leaf at index under the given
// checkpoint (one the log published), and the leaf. The error wraps
// ErrNotFound if the checkpoint does not cover index.
func (l *Log) ProveUnder(ctx context.Context, index uint64, cp []byte) (*Receipt, []byte, error) {
	c, err := l.checkCheckpoint(cp)
	if err != nil {
		return nil, nil, err
	}
	if index >= c.Size {
		return nil, nil, fmt.Errorf("index %d: %w", index, ErrNotFound)
	}
	leaf, err := l.ReadLeaf(ctx, index, c.Size)
	if err != nil {
		return nil, nil, err
	}
	r, err := l.proveAt(ctx, index, leaf, cp)
	return r, leaf, err
}

// ReadLeaf returns the leaf at index in a tree of the given size.
func (l *Log) ReadLeaf(ctx context.Context, index, size uint64) ([]byte, error) {
	bi, i := index/layout.EntryBundleWidth, index%layout.EntryBundleWidth
	full := (bi+1)*layout.EntryBundleWidth <= size
	if entries, ok := l.bundles.Get(bi); ok && full {
		return entries[i], nil
	}
	eb, err := tclient.GetEntryBundle(ctx, l.reader.ReadEntryBundle, bi, size)
	if err != nil {
		return nil, fmt.Errorf("reading entry bundle for index %d: %w", index, err)
	}
	if i >= uint64(len(eb.Entries)) {
		return nil, fmt.Errorf("index %d: %w", index, ErrNotFound)
	}
	if full {
		l.bundles.Add(bi, eb.Entries)
	}
	return eb.Entries[i], nil
}

// Leaves calls fn for every leaf in [from, to) of the integrated tree, in
// order, reading whole entry bundles.
func (l *Log) Leaves(ctx context.Context, from, to uint64, fn func(index uint64, leaf []byte) error) error {
	// Bundles are named after the tree's size, not the range's: the last one
	// may be partial, and the driver keeps only its latest partial form.
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading integrated size: %w", err)
	}
	if to > size || from > to {
		return fmt.Errorf("leaves [%d, %d) of a tree of size %d: %w", from, to, size, ErrNotFound)
	}
	for r := range layout.Range(from, to-from, size) {
		b, err := l.reader.ReadEntryBundle(ctx, r.Index, r.Partial)
		if err != nil {
			return fmt.Errorf("reading entry bundle %d: %w", r.Index, err)
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(b); err != nil {
			return fmt.Errorf("parsing entry bundle %d: %w", r.Index, err)
		}
		if uint64(len(eb.Entries)) < uint64(r.First)+uint64(r.N) {
			return fmt.Errorf("entry bundle %d is short", r.Index)
		}
		for i := uint64(0); i < uint64(r.N); i++ {
			idx := r.Index*layout.EntryBundleWidth + uint64(r.First) + i
			if err := fn(idx, eb.Entries[uint64(r.First)+i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// IntegratedSize returns the size of the tree integrated so far, which may
// be ahead of the published checkpoint.
func (l *Log) IntegratedSize(ctx context.Context) (uint64, error) {
	return l.reader.IntegratedSize(ctx)
}

// publishedSize returns the size of the latest published checkpoint,
// after checking its signature.
func (l *Log) publishedSize(ctx context.Context) (uint64, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	c, err := l.checkCheckpoint(cp)
	if err != nil {
		return 0, err
	}
	return c.Size, nil
}

// checkedCheckpoint is a checkpoint whose signature has been checked.
type checkedCheckpoint struct {
	raw []byte
	cp  *log.Checkpoint
}

// checkCheckpoint checks the log's signature on a checkpoint and parses it.
// The last one checked is remembered: every receipt under one checkpoint
// would otherwise verify the same signature again.
func (l *Log) checkCheckpoint(cp []byte) (*log.Checkpoint, error) {
	l.mu.Lock()
	last := l.lastCP
	l.mu.Unlock()
	if last != nil && bytes.Equal(last.raw, cp) {
		return last.cp, nil
	}
	c, _, _, err := log.ParseCheckpoint(cp, l.Origin(), l.cfg.Verifier)
	if err != nil {
		l.metrics.selfCheckFailures.Inc()
		return nil, fmt.Errorf("self-check: the log's own checkpoint does not verify: %w", err)
	}
	l.mu.Lock()
	l.lastCP = &checkedCheckpoint{raw: bytes.Clone(cp), cp: c}
	l.mu.Unlock()
	return c, nil
}

func (l *Log) proveAt(ctx context.Context, index uint64, leaf, cp []byte) (*Receipt, error) {
	c, err := l.checkCheckpoint(cp)
	if err != nil {
		return nil, err
	}
	hashes, err := l.inclusionProof(ctx, index, c.Size)
	if err != nil {
		return nil, err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Size, rfc6962.DefaultHasher.HashLeaf(leaf), hashes, c.Hash); err != nil {
		l.metrics.selfCheckFailures.Inc()
		return nil, fmt.Errorf("self-check: inclusion proof for %d does not verify: %w", index, err)
	}
	return &Receipt{Index: index, Checkpoint: cp, Hashes: hashes}, nil
}

// inclusionProof builds the proof for index in a tree of size. It reuses one
// proof builder while the size is unchanged, so the receipts of a batch share
// tile reads; the builder is not safe for concurrent use, hence the lock.
func (l *Log) inclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.builder == nil || l.bSize != size {
		pb, err := tclient.NewProofBuilder(ctx, size, l.reader.ReadTile)
		if err != nil {
			return nil, fmt.Errorf("building proofs for size %d: %w", size, err)
		}
		l.builder, l.bSize = pb, size
	}
	hashes, err := l.builder.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("building inclusion proof for %d in %d: %w", index, size, err)
	}
	return hashes, nil
}

// Close shuts the log down in the order Tessera documents: its shutdown
// function first, which integrates and publishes everything sequenced, then
// its background context.
func (l *Log) Close(ctx context.Context) error {
	defer l.cancel()
	if err := l.shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down Tessera: %w", err)
	}
	l.logger.InfoContext(ctx, "log stopped")
	return nil
}
