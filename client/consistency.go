package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// ErrRollback is returned when a log presents, as its latest, a checkpoint
// older than one the client already trusts.
var ErrRollback = errors.New("the log rolled back to an older checkpoint")

// ErrBadTiles is wrapped when the log's tiles do not match a checkpoint it
// signed: the log is serving corrupt data, which proves nothing about
// which view is true.
var ErrBadTiles = errors.New("the log's tiles do not match its checkpoint")

// Tracker keeps a client's view of one log consistent, the way a careful
// verifier must (C2SP tlog-checkpoint, "consistency"): every checkpoint it
// accepts is verified under the policy, proven consistent with the trusted
// one by a proof built from tiles, and stored with compare-and-swap. The
// first checkpoint seen for a log is trusted on the strength of the policy's
// witness quorum.
type Tracker struct {
	// Policy names the log and the witness quorum. Required.
	Policy *Policy
	// Tiles reads the log. Required.
	Tiles *Tiles
	// Store holds the trusted state. Required.
	Store *TrustStore
}

// Checked is a checkpoint the Tracker accepted.
type Checked struct {
	*Witnessed
	// Raw is the signed checkpoint, verbatim.
	Raw []byte
	// Trusted is the checkpoint trusted before, nil on first use.
	Trusted *flog.Checkpoint
}

// Update fetches the log's latest checkpoint, verifies it, proves it
// consistent with the trusted one and makes it the trusted one. A latest
// checkpoint smaller than the trusted one is a rollback (ErrRollback); a
// contradiction is a *ForkError, whose proof is also saved in the store.
func (t *Tracker) Update(ctx context.Context) (*Checked, error) {
	raw, err := t.Tiles.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the log's checkpoint: %w", err)
	}
	return t.accept(ctx, raw, true)
}

// Accept verifies a checkpoint from elsewhere (an evidence bundle, a
// witness) and proves it consistent with the trusted one, older or newer;
// a newer one becomes trusted.
func (t *Tracker) Accept(ctx context.Context, raw []byte) (*Checked, error) {
	return t.accept(ctx, raw, false)
}

func (t *Tracker) accept(ctx context.Context, raw []byte, latest bool) (*Checked, error) {
	w, err := t.Policy.VerifyCheckpoint(raw)
	if err != nil {
		return nil, err
	}
	origin := w.Checkpoint.Origin
	for {
		old, err := t.Store.Latest(origin)
		if err != nil {
			return nil, err
		}
		c := &Checked{Witnessed: w, Raw: raw}
		if old != nil {
			// The stored checkpoint is verified again, by the log's
			// signature alone (the policy's witnesses may have changed
			// since): the file could have been edited.
			if c.Trusted, err = VerifyCheckpoint(old, t.Policy.LogVerifier(origin)); err != nil {
				return nil, fmt.Errorf("the trusted checkpoint in %s no longer verifies: %w", t.Store.Dir, err)
			}
			err := t.saveFork(origin, t.prove(ctx, old, c.Trusted, raw, w.Checkpoint))
			if errors.As(err, new(*ForkError)) {
				return nil, err
			}
			if latest && w.Checkpoint.Size < c.Trusted.Size {
				// Refused whether or not the tiles prove the two
				// consistent: a log's latest never shrinks.
				return nil, fmt.Errorf("%w: it serves size %d, the client trusts size %d", ErrRollback, w.Checkpoint.Size, c.Trusted.Size)
			}
			if err != nil {
				return nil, err
			}
			if w.Checkpoint.Size <= c.Trusted.Size {
				return c, nil // nothing newer to store
			}
		}
		err = t.Store.Swap(origin, old, raw)
		var se *StaleError
		if errors.As(err, &se) {
			continue // another run moved the state: check against it again
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// prove checks that two validly signed checkpoints of the log are
// consistent, building the proof from the larger tree's tiles. A
// contradiction the tiles demonstrate is a *ForkError; tiles that contradict
// the larger checkpoint itself wrap ErrBadTiles.
func (t *Tracker) prove(ctx context.Context, aRaw []byte, a *flog.Checkpoint, bRaw []byte, b *flog.Checkpoint) error {
	if a.Size > b.Size {
		a, b, aRaw, bRaw = b, a, bRaw, aRaw
	}
	fork := func(f *ForkProof) error {
		f.Format, f.Older, f.Newer = ForkProofFormat, string(aRaw), string(bRaw)
		return &ForkError{Proof: f}
	}
	if a.Size == b.Size {
		if !bytes.Equal(a.Hash, b.Hash) {
			return fork(&ForkProof{})
		}
		return nil
	}
	if a.Size == 0 {
		if !bytes.Equal(a.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
			return fork(&ForkProof{})
		}
		return nil
	}
	p, err := t.Tiles.ConsistencyProof(ctx, a.Size, b.Size)
	if err != nil {
		return err
	}
	if proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, p, a.Hash, b.Hash) == nil {
		return nil
	}
	// Which is it: the log signed two histories, or its tiles are bad?
	// Ask the tiles what the larger tree's prefix is, and hold them to it.
	prefix, err := t.Tiles.RangeRoot(ctx, a.Size)
	if err != nil {
		return err
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, p, prefix, b.Hash); err != nil {
		return fmt.Errorf("%w: a consistency proof %d -> %d built from them does not verify: %v", ErrBadTiles, a.Size, b.Size, err)
	}
	return fork(&ForkProof{Consistency: p, PrefixRoot: prefix})
}

// Gossip compares a checkpoint someone else was shown (a witness's latest
// cosigned checkpoint, say) with the trusted one: it must carry the log's
// signature and be consistent with the trusted checkpoint, older or newer.
// It needs no witness quorum and changes no trusted state; a contradiction
// is a *ForkError, saved in the store like any other. Update first, so there
// is a trusted checkpoint to compare with.
func (t *Tracker) Gossip(ctx context.Context, raw []byte) (*flog.Checkpoint, error) {
	origin, _, _ := bytes.Cut(raw, []byte("\n"))
	v := t.Policy.LogVerifier(string(origin))
	if v == nil {
		return nil, fmt.Errorf("%w: the checkpoint is not from a log of the policy", ErrNotIncluded)
	}
	cp, err := VerifyCheckpoint(raw, v)
	if err != nil {
		return nil, err
	}
	old, err := t.Store.Latest(cp.Origin)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, fmt.Errorf("no trusted checkpoint of %s to compare with", cp.Origin)
	}
	trusted, err := VerifyCheckpoint(old, v)
	if err != nil {
		return nil, fmt.Errorf("the trusted checkpoint in %s no longer verifies: %w", t.Store.Dir, err)
	}
	if err := t.prove(ctx, old, trusted, raw, cp); err != nil {
		return nil, t.saveFork(cp.Origin, err)
	}
	return cp, nil
}

// saveFork saves the proof of a *ForkError in the store and returns the
// error with the file's path; other errors pass through.
func (t *Tracker) saveFork(origin string, err error) error {
	var fe *ForkError
	if !errors.As(err, &fe) {
		return err
	}
	var serr error
	if fe.Saved, serr = t.Store.SaveFork(origin, fe.Proof); serr != nil {
		return fmt.Errorf("%w (and saving the fork proof failed: %v)", fe, serr)
	}
	return fe
}
