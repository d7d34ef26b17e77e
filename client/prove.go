package client

import (
	"context"
	"fmt"

	tclient "github.com/transparency-dev/tessera/client"
)

// Prove builds the evidence bundle of the entry at index under the checked
// checkpoint c, from the log's tiles alone, and verifies it under the
// tracker's policy and the trust roots. The log's API is asked only where to
// look and for content whose digest the leaf commits to: the index of an
// attestation's enrollment (itself then proven from tiles, and checked to
// bind the key that signed), and an SBOM's signed statement (checked
// against the digest), which the bundle embeds so it verifies offline.
func (t *Tracker) Prove(ctx context.Context, c *Checked, index uint64, api *LogClient, roots *TrustRoots) (*Bundle, *Verified, error) {
	// One proof builder for the entry and its enrollment: their proofs
	// share the upper tiles.
	pb, err := tclient.NewProofBuilder(ctx, c.Checkpoint.Size, t.Tiles.Tile)
	if err != nil {
		return nil, nil, err
	}
	b, err := t.bundleAt(ctx, c, pb, index)
	if err != nil {
		return nil, nil, err
	}
	switch b.Kind {
	case KindAttestation.String():
		hint, err := api.Entry(ctx, index)
		if err != nil {
			return nil, nil, fmt.Errorf("asking the log for the enrollment behind attestation %d: %w", index, err)
		}
		if hint.Enrollment == nil {
			return nil, nil, fmt.Errorf("the log names no enrollment behind attestation %d", index)
		}
		p, err := ParseTLogProof([]byte(hint.Enrollment.TLogProof))
		if err != nil {
			return nil, nil, fmt.Errorf("the log's enrollment hint: %w", err)
		}
		if b.Enrollment, err = t.bundleAt(ctx, c, pb, p.Index); err != nil {
			return nil, nil, fmt.Errorf("enrollment: %w", err)
		}
	case KindSBOM.String():
		if b.Payload, err = api.Blob(ctx, b.Blob[len("sha256:"):]); err != nil {
			return nil, nil, fmt.Errorf("fetching the SBOM statement: %w", err)
		}
	}
	v, err := b.Verify(VerifyOptions{Policy: t.Policy, Roots: roots})
	if err != nil {
		return nil, nil, err
	}
	return b, v, nil
}

// bundleAt reads the leaf at index from tiles and builds its inclusion proof
// under c with pb. Nothing is checked here; Bundle.Verify checks it all.
func (t *Tracker) bundleAt(ctx context.Context, c *Checked, pb *tclient.ProofBuilder, index uint64) (*Bundle, error) {
	leaf, err := t.Tiles.Leaf(ctx, index, c.Checkpoint.Size)
	if err != nil {
		return nil, err
	}
	hashes, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("building inclusion proof of %d from tiles: %w", index, err)
	}
	return NewBundle(leaf, index, hashes, c.Raw)
}
