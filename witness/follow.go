package witness

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"time"

	tclient "github.com/transparency-dev/tessera/client"
)

// Follow makes the witness pull from a log that does not push (pull mode):
// every interval it reads the log's checkpoint from its C2SP tlog-tiles URL,
// builds the consistency proof from the log's tiles itself, and cosigns
// through exactly the checks add-checkpoint applies. It returns when ctx
// ends; what each poll did is logged.
func (w *Witness) Follow(ctx context.Context, logURL string, every time.Duration) error {
	u, err := url.Parse(logURL)
	if err != nil {
		return fmt.Errorf("follow: log URL: %w", err)
	}
	f, err := tclient.NewHTTPFetcher(u, nil)
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		size, err := w.followOnce(ctx, f)
		switch {
		case err != nil && ctx.Err() == nil:
			w.logger.WarnContext(ctx, "following a log", "url", logURL, "err", err)
		case err == nil && size > 0:
			w.logger.DebugContext(ctx, "followed a log", "url", logURL, "size", size)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// followOnce cosigns the log's current checkpoint if it grew since the one
// the witness holds, and returns its size (0 if there was nothing to do).
func (w *Witness) followOnce(ctx context.Context, f *tclient.HTTPFetcher) (uint64, error) {
	raw, err := f.ReadCheckpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the checkpoint: %w", err)
	}
	cp, err := parseCheckpointNote(raw)
	if err != nil {
		return 0, err
	}
	l := w.logs[cp.origin]
	if l == nil {
		return 0, errUnknownLog
	}
	var old uint64
	if cur := l.cur.Load(); cur != nil {
		old = cur.size
		if cp.size == old && bytes.Equal(cp.root, cur.root) {
			return 0, nil
		}
		if cp.size < old {
			return 0, fmt.Errorf("the log serves size %d, below the %d it was cosigned at", cp.size, old)
		}
	}
	req := &AddCheckpointRequest{Old: old, Checkpoint: raw}
	if old > 0 && cp.size > old {
		pb, err := tclient.NewProofBuilder(ctx, cp.size, f.ReadTile)
		if err != nil {
			return 0, fmt.Errorf("building a consistency proof: %w", err)
		}
		if req.Proof, err = pb.ConsistencyProof(ctx, old, cp.size); err != nil {
			return 0, fmt.Errorf("building a consistency proof from %d to %d: %w", old, cp.size, err)
		}
	}
	// The same path as a pushed request: signature, compare-and-swap on
	// the stored size, proof, fork evidence, durable state, cosignature.
	if _, err := w.addCheckpoint(ctx, req, cp); err != nil {
		return 0, err
	}
	return cp.size, nil
}
