package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Config configures a [Witness].
type Config struct {
	// Signer makes the witness's cosignatures. Required. It must produce
	// timestamped Ed25519 cosignature/v1 signatures
	// ([c2sp.org/tlog-cosignature]), as the signers of
	// github.com/transparency-dev/formats/note.NewSignerForCosignatureV1
	// do; the witness refuses to hand out a signature of another shape.
	// The timestamps come from the Signer's clock.
	Signer note.Signer
	// Logs are the logs the witness cosigns for. Required: at least one.
	// Several entries with the same Origin are several keys of one log.
	Logs []LogConfig
	// StateDir is the directory holding the witness's state (see the
	// package documentation). Required. It is created if missing; a
	// directory holding anything else is refused. Only one Witness at a
	// time may have it open, across processes.
	StateDir string
	// Logger receives the witness's logs. Optional; nil discards them.
	Logger *slog.Logger
	// Registerer gets the witness's metrics. Optional; nil registers them
	// nowhere.
	Registerer prometheus.Registerer
	// Now is the clock that dates fork evidence. Optional; default
	// time.Now.
	Now func() time.Time
}

// Witness is a C2SP tlog-witness: it cosigns checkpoints of its logs that
// are consistent with the ones it cosigned before, and keeps, per log, the
// latest one in its state directory.
//
// Its methods may be called concurrently. Requests for one log are
// serialized; requests for different logs are not.
type Witness struct {
	signer note.Signer
	logs   map[string]*logState // by origin
	byHash map[string]*logState // by origin hash
	dir    *stateDir
	logger *slog.Logger
	now    func() time.Time
	m      *metrics

	// life is held shared by each request while it checks and persists,
	// and exclusively by Close, so that nothing is cosigned or written
	// once the state directory's lock is released.
	life   sync.RWMutex
	closed bool // guarded by life
}

// logState is what the witness knows of one log.
type logState struct {
	origin    string
	hash      string
	verifiers note.Verifiers
	logger    *slog.Logger

	// sem serializes add-checkpoint requests for the log: it is held from
	// the check of the old size until the new checkpoint is durable. It is
	// a channel so that waiting for it respects the request's context.
	sem chan struct{}
	// cur is the latest cosigned checkpoint, nil if none. Written with sem
	// held; read without it by GET.
	cur atomic.Pointer[cosigned]
	// broken is set, with sem held, when a state write failed: the stored
	// checkpoint is then the old one or the new one, and until a restart
	// reads it back the witness cannot know which it must build on.
	broken bool
}

// cosigned is a checkpoint the witness cosigned and stored.
type cosigned struct {
	size uint64
	root []byte
	note []byte // the stored note: text, the log's verified signatures, the cosignature
	time uint64 // the cosignature's timestamp; 0 if it is not by Signer's key
}

// The errors of add-checkpoint, mapped to statuses by statusOf. Their
// messages are fixed: they never repeat the request.
var (
	errUnknownLog   = errors.New("unknown log")
	errUnverified   = errors.New("checkpoint has no valid signature by a key of the log")
	errInconsistent = errors.New("checkpoint is inconsistent with the witness's view of the log")
	errUnavailable  = errors.New("witness unavailable, retry later")
)

// conflictError reports that the request's old size is not the size the
// witness cosigned last.
type conflictError struct{ size uint64 }

func (e *conflictError) Error() string {
	return fmt.Sprintf("old size does not match the witness's latest cosigned size %d", e.size)
}

func inconsistent(reason string) error { return fmt.Errorf("%w: %s", errInconsistent, reason) }

// New opens the state directory, loads the latest cosigned checkpoint of
// each configured log and returns a Witness ready to serve. The state
// directory stays locked until [Witness.Close].
func New(cfg Config) (*Witness, error) {
	if cfg.Signer == nil {
		return nil, errors.New("witness: no Signer")
	}
	if len(cfg.Logs) == 0 {
		return nil, errors.New("witness: no logs configured")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("witness: no StateDir")
	}
	w := &Witness{
		signer: cfg.Signer,
		logs:   map[string]*logState{},
		byHash: map[string]*logState{},
		logger: cfg.Logger,
		now:    cfg.Now,
	}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	keys := map[string][]note.Verifier{}
	var origins []string
	for i, lc := range cfg.Logs {
		if !validOrigin(lc.Origin) {
			return nil, fmt.Errorf("witness: log %d: origin must be a non-empty line of text", i)
		}
		if lc.Verifier == nil {
			return nil, fmt.Errorf("witness: log %q: no Verifier", lc.Origin)
		}
		for _, v := range keys[lc.Origin] {
			if v.Name() == lc.Verifier.Name() && v.KeyHash() == lc.Verifier.KeyHash() {
				return nil, fmt.Errorf("witness: log %q: key %s+%08x configured twice", lc.Origin, v.Name(), v.KeyHash())
			}
		}
		if keys[lc.Origin] == nil {
			origins = append(origins, lc.Origin)
		}
		keys[lc.Origin] = append(keys[lc.Origin], lc.Verifier)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w.m = m
	dir, created, err := openStateDir(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	w.dir = dir
	stored := 0
	for _, origin := range origins {
		l := &logState{
			origin:    origin,
			hash:      originHash(origin),
			verifiers: note.VerifierList(keys[origin]...),
			logger:    w.logger.With("origin", origin),
			sem:       make(chan struct{}, 1),
		}
		c, err := w.load(l)
		if err != nil {
			dir.close()
			return nil, err
		}
		if c != nil {
			l.cur.Store(c)
			stored++
		}
		w.logs[origin] = l
		w.byHash[l.hash] = l
	}
	w.logger.Info("witness state opened", "state_dir", cfg.StateDir, "created", created, "logs", len(origins), "logs_cosigned", stored, "name", w.signer.Name())
	return w, nil
}

// validOrigin reports whether s can be a checkpoint's origin line.
func validOrigin(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// load reads a log's stored checkpoint back. It trusts the state directory:
// it checks the note's shape, not its signatures, so that the witness keeps
// building on its state even if the log's keys have changed since.
func (w *Witness) load(l *logState) (*cosigned, error) {
	b, err := w.dir.readCheckpoint(l.hash)
	if err != nil || b == nil {
		return nil, err
	}
	cp, err := parseCheckpointNote(b)
	if err != nil {
		return nil, fmt.Errorf("stored checkpoint of log %q is damaged: %w", l.origin, err)
	}
	if cp.origin != l.origin {
		return nil, fmt.Errorf("stored checkpoint of log %q has another origin", l.origin)
	}
	c := &cosigned{size: cp.size, root: cp.root, note: b}
	for _, s := range cp.note.UnverifiedSigs {
		if s.Name == w.signer.Name() && s.Hash == w.signer.KeyHash() {
			c.time, _ = cosignatureTime(s.Base64)
		}
	}
	if c.time == 0 {
		l.logger.Warn("stored checkpoint is not cosigned by this witness's key: was the key changed?", "size", c.size)
	}
	return c, nil
}

// Close releases the state directory. Requests still arriving are answered
// 503. It waits for a request that is storing a checkpoint to finish.
func (w *Witness) Close() error {
	w.life.Lock()
	defer w.life.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.dir.close()
}

// addCheckpoint runs the checks of [c2sp.org/tlog-witness] on a parsed
// request and, if they pass, cosigns the checkpoint, stores it durably and
// returns the cosignature line. The order of the checks is the
// specification's.
func (w *Witness) addCheckpoint(ctx context.Context, req *AddCheckpointRequest, cp *checkpoint) ([]byte, error) {
	l := w.logs[cp.origin]
	if l == nil {
		return nil, errUnknownLog
	}
	n, err := note.Open(req.Checkpoint, l.verifiers)
	if err != nil {
		// No signature by a key of the log, or one that matches a key's
		// name and ID but does not verify: both are 403.
		return nil, errUnverified
	}
	if req.Old > cp.size {
		return nil, malformed("old size is larger than the checkpoint's size")
	}

	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the log's lock: %w", errUnavailable, ctx.Err())
	}
	defer func() { <-l.sem }()
	w.life.RLock()
	defer w.life.RUnlock()
	if w.closed {
		return nil, fmt.Errorf("%w: closed", errUnavailable)
	}
	if l.broken {
		return nil, errors.New("a state write of this log failed; restart the witness")
	}
	return w.addCheckpointLocked(l, req, cp, n)
}

// addCheckpointLocked is the compare-and-swap on the log's state: it runs
// with l.sem held, so the old size checked here is still the stored size
// when the new checkpoint replaces it.
func (w *Witness) addCheckpointLocked(l *logState, req *AddCheckpointRequest, cp *checkpoint, n *note.Note) ([]byte, error) {
	cur := l.cur.Load()
	var curSize uint64
	var curRoot []byte
	if cur != nil {
		curSize, curRoot = cur.size, cur.root
	}
	// A validly signed checkpoint of the size the witness cosigned, with
	// another root, proves a fork whatever the request's old size, so the
	// evidence is kept even when the answer is 409.
	fork := cur != nil && cp.size == cur.size && !bytes.Equal(cp.root, cur.root)
	if fork {
		w.recordForkLocked(l, cur, req.Checkpoint)
	}
	if req.Old != curSize {
		return nil, &conflictError{curSize}
	}
	if fork {
		// 422: the current draft of tlog-witness (C2SP/C2SP#280). v1.0.0
		// said 409, which clients read as "retry with the size in the
		// body"; a fork is not retryable.
		return nil, inconsistent("same size as the cosigned checkpoint, another root")
	}
	if cp.size == 0 && !bytes.Equal(cp.root, rfc6962.DefaultHasher.EmptyRoot()) {
		return nil, inconsistent("a checkpoint of size 0 must have the empty tree's root")
	}
	if req.Old == 0 {
		// The empty tree is consistent with every tree: no proof, and
		// trust on first use of the log's first checkpoint.
		if len(req.Proof) != 0 {
			return nil, inconsistent("the consistency proof from size 0 must be empty")
		}
	} else if err := proof.VerifyConsistency(rfc6962.DefaultHasher, req.Old, cp.size, req.Proof, curRoot, cp.root); err != nil {
		return nil, inconsistent("the consistency proof does not verify")
	}

	signed, line, ts, err := w.cosign(n)
	if err != nil {
		return nil, err
	}
	if cur != nil && ts < cur.time {
		// A cosignature states that, at its time, this is the largest
		// tree the witness has seen. An earlier time than the previous
		// cosignature's would contradict that one.
		return nil, fmt.Errorf("the cosigner's clock (%d) is behind the last cosignature of this log (%d)", ts, cur.time)
	}
	// Durable before the cosignature leaves: after a crash the witness
	// restarts from this checkpoint or a later one, never an earlier one.
	if err := w.dir.writeCheckpoint(l.hash, signed); err != nil {
		l.broken = true
		return nil, fmt.Errorf("storing the cosigned checkpoint: %w", err)
	}
	l.cur.Store(&cosigned{size: cp.size, root: cp.root, note: signed, time: ts})
	return line, nil
}

// cosign cosigns a verified checkpoint note. It returns the note to store
// and serve (text, the log's verified signatures, the cosignature), the
// cosignature line alone and its timestamp.
func (w *Witness) cosign(n *note.Note) (signed, line []byte, ts uint64, err error) {
	signed, err = note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, w.signer)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cosigning: %w", err)
	}
	// note.Sign writes the new signature last.
	line = signed[bytes.LastIndexByte(signed[:len(signed)-1], '\n')+1:]
	_, b64, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), " ")
	_, b64, _ = strings.Cut(b64, " ")
	ts, ok := cosignatureTime(b64)
	if !ok {
		return nil, nil, 0, errors.New("the Signer does not make cosignature/v1 signatures")
	}
	return signed, line, ts, nil
}

// cosignatureTime returns the timestamp of a base64 Ed25519 cosignature/v1
// signature (key ID, big-endian timestamp, Ed25519 signature), and false if
// the signature does not have that shape.
func cosignatureTime(b64 string) (uint64, bool) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != 4+8+64 {
		return 0, false
	}
	ts := binary.BigEndian.Uint64(b[4:])
	return ts, ts != 0 && ts < 1<<63
}

// recordForkLocked counts a fork and keeps its evidence.
func (w *Witness) recordForkLocked(l *logState, cur *cosigned, conflicting []byte) {
	w.m.forks.Inc()
	name, err := w.dir.writeEvidence(l.hash, l.origin, cur.size, cur.note, conflicting, w.now())
	if err != nil {
		l.logger.Error("FORK: the log signed another root for a size the witness cosigned; keeping the evidence failed", "size", cur.size, "err", err)
		return
	}
	l.logger.Error("FORK: the log signed another root for a size the witness cosigned", "size", cur.size, "evidence", name)
}
