package client

import (
	"bytes"
	"errors"
	"fmt"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// ForkProofFormat identifies version 1 of vigil's fork-proof file.
const ForkProofFormat = "https://vigil.dev/fork-proof/v1"

// ErrForkProof is wrapped by errors about a fork-proof file that does not
// prove a fork: malformed, badly signed, or showing two consistent views.
var ErrForkProof = errors.New("not a proof of a split view")

// ForkProof is self-contained evidence that a log signed two views of its
// history that cannot both be true (a split view). Anyone holding the log's
// public key can check it; it needs no network and no trust in whoever
// wrote it.
//
// JSON form:
//
//	{
//	  "format": "https://vigil.dev/fork-proof/v1",
//	  "older": "<signed checkpoint, verbatim>",
//	  "newer": "<signed checkpoint, verbatim, size >= older's>",
//	  "consistency": ["<base64 hash>", ...],
//	  "prefixRoot": "<base64 hash>"
//	}
//
// Two checkpoints of the same size with different roots need nothing more.
// Otherwise the consistency proof (from older's size to newer's, built from
// the newer tree's tiles) verifies from prefixRoot to newer's root, so
// prefixRoot is what the newer tree says the older tree's root was; that it
// differs from the older checkpoint's root is the contradiction. A proof
// that merely fails to verify would show nothing (it could be garbage); this
// one verifies, which is why it convinces a third party.
type ForkProof struct {
	Format      string   `json:"format"`
	Older       string   `json:"older"`
	Newer       string   `json:"newer"`
	Consistency [][]byte `json:"consistency,omitempty"`
	PrefixRoot  []byte   `json:"prefixRoot,omitempty"`
}

// ParseForkProof decodes a fork-proof file (strict JSON). It checks the
// structure only; Verify checks the signatures and the contradiction.
func ParseForkProof(b []byte) (*ForkProof, error) {
	var f ForkProof
	if err := decodeStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForkProof, err)
	}
	if f.Format != ForkProofFormat {
		return nil, fmt.Errorf("%w: format is not %s", ErrForkProof, ForkProofFormat)
	}
	if len(f.Consistency) > 2*maxProofHashes {
		return nil, fmt.Errorf("%w: consistency proof too long", ErrForkProof)
	}
	for _, h := range append(f.Consistency, f.PrefixRoot) {
		if h != nil && len(h) != rfc6962.DefaultHasher.Size() {
			return nil, fmt.Errorf("%w: a hash is not 32 bytes", ErrForkProof)
		}
	}
	return &f, nil
}

// Marshal encodes the fork proof as indented JSON.
func (f *ForkProof) Marshal() ([]byte, error) { return marshalIndent(f) }

// Verify checks that the file proves a split view of the log whose key is
// logKey: both checkpoints carry a valid signature by that key, and they
// contradict each other. It returns the two checkpoints.
func (f *ForkProof) Verify(logKey note.Verifier) (older, newer *flog.Checkpoint, err error) {
	if older, err = VerifyCheckpoint([]byte(f.Older), logKey); err != nil {
		return nil, nil, fmt.Errorf("%w: older checkpoint: %v", ErrForkProof, err)
	}
	if newer, err = VerifyCheckpoint([]byte(f.Newer), logKey); err != nil {
		return nil, nil, fmt.Errorf("%w: newer checkpoint: %v", ErrForkProof, err)
	}
	switch {
	case older.Size > newer.Size:
		return nil, nil, fmt.Errorf("%w: the older checkpoint is the larger", ErrForkProof)
	case older.Size == newer.Size:
		if bytes.Equal(older.Hash, newer.Hash) {
			return nil, nil, fmt.Errorf("%w: same size, same root", ErrForkProof)
		}
		return older, newer, nil
	case older.Size == 0:
		if bytes.Equal(older.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
			return nil, nil, fmt.Errorf("%w: an empty tree is consistent with every tree", ErrForkProof)
		}
		return older, newer, nil
	}
	if f.PrefixRoot == nil {
		return nil, nil, fmt.Errorf("%w: checkpoints of different sizes need a consistency proof and its prefix root", ErrForkProof)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, f.Consistency, f.PrefixRoot, newer.Hash); err != nil {
		return nil, nil, fmt.Errorf("%w: the consistency proof does not lead from the prefix root to the newer root: %v", ErrForkProof, err)
	}
	if bytes.Equal(f.PrefixRoot, older.Hash) {
		return nil, nil, fmt.Errorf("%w: the checkpoints are consistent", ErrForkProof)
	}
	return older, newer, nil
}

// ForkError reports a split view: two validly signed checkpoints of one log
// that contradict each other. Proof is the evidence, ready to be written
// out with Marshal.
type ForkError struct {
	Proof *ForkProof
	// Saved is where the proof was written, if it was.
	Saved string
}

// Error describes the split view.
func (e *ForkError) Error() string {
	return "split view: the log signed two checkpoints that cannot both be true"
}
