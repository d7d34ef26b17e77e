package client

import (
	"encoding/json"
	"errors"
	"fmt"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// BundleFormat identifies version 1 of vigil's evidence bundle.
const BundleFormat = "https://vigil.dev/bundle/v1"

// ErrBundle is wrapped by errors about a bundle's structure.
var ErrBundle = errors.New("malformed evidence bundle")

// ErrNotIncluded is wrapped when a bundle's checkpoint or inclusion proof
// does not verify: the entry is not shown to be in the log.
var ErrNotIncluded = errors.New("inclusion not proven")

// Bundle is the evidence that one entry is in the log: what the log returns
// for an accepted submission, and what `vigil verify` checks offline.
//
// JSON form:
//
//	{
//	  "format": "https://vigil.dev/bundle/v1",
//	  "kind": "attestation",
//	  "tlogProof": "c2sp.org/tlog-proof@v1\nextra <leaf, base64>\nindex 7\n...",
//	  "blob": "sha256:<hex>",        // SBOMs: the payload's blob
//	  "payload": "<base64>",         // optional: the blob's content, for offline checks
//	  "enrollment": { ...bundle... } // attestations: the device's enrollment
//	}
//
// The core is a C2SP tlog-proof whose extra data is the leaf, so any
// tlog-proof verifier can check inclusion; the rest lets vigil check the
// signature and the chain attestation -> enrollment -> manufacturer key.
type Bundle struct {
	Format     string  `json:"format"`
	Kind       string  `json:"kind"`
	TLogProof  string  `json:"tlogProof"`
	Blob       string  `json:"blob,omitempty"`
	Payload    []byte  `json:"payload,omitempty"`
	Enrollment *Bundle `json:"enrollment,omitempty"`
}

// maxBundleDepth bounds nesting: an attestation's bundle holds an enrollment.
const maxBundleDepth = 2

// NewBundle assembles a bundle for a leaf at index under a signed checkpoint.
func NewBundle(leaf []byte, index uint64, hashes [][]byte, checkpoint []byte) (*Bundle, error) {
	l, err := ParseLeaf(leaf)
	if err != nil {
		return nil, err
	}
	b := &Bundle{
		Format:    BundleFormat,
		Kind:      l.Kind.String(),
		TLogProof: string((&TLogProof{Extra: leaf, Index: index, Hashes: hashes, Checkpoint: checkpoint}).Marshal()),
	}
	if l.InBlob() {
		b.Blob = "sha256:" + l.BlobDigest()
	}
	return b, nil
}

// ParseBundle decodes a bundle (JSON), checking its structure.
func ParseBundle(b []byte) (*Bundle, error) {
	var bu Bundle
	if err := decodeStrict(b, &bu); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if err := bu.checkStructure(0); err != nil {
		return nil, err
	}
	return &bu, nil
}

func (b *Bundle) checkStructure(depth int) error {
	if b.Format != BundleFormat {
		return fmt.Errorf("%w: format is not %s", ErrBundle, BundleFormat)
	}
	if _, err := ParseKind(b.Kind); err != nil {
		return fmt.Errorf("%w: unknown kind", ErrBundle)
	}
	if b.Enrollment != nil {
		if depth+1 >= maxBundleDepth || b.Kind != KindAttestation.String() {
			return fmt.Errorf("%w: only an attestation bundle may embed an enrollment", ErrBundle)
		}
		return b.Enrollment.checkStructure(depth + 1)
	}
	return nil
}

// Marshal encodes the bundle as indented JSON.
func (b *Bundle) Marshal() ([]byte, error) { return marshalIndent(b) }

// VerifyOptions is what a verifier trusts.
type VerifyOptions struct {
	// Log verifies the log's checkpoint signature; its name is the origin.
	// Either Log or Policy is required.
	Log note.Verifier
	// Policy, if set, is checked instead of Log: the checkpoint must be
	// signed by one of its logs and cosigned to its quorum.
	Policy *Policy
	// Roots are the trust-root manufacturers. Required.
	Roots *TrustRoots
	// Payload is the blob content for a bundle that neither embeds it nor
	// has an inline payload (an SBOM). Optional.
	Payload []byte
}

// Verified is what a bundle was shown to prove.
type Verified struct {
	Index      uint64
	Checkpoint *flog.Checkpoint
	// SignedCheckpoint is the checkpoint as signed, verbatim.
	SignedCheckpoint []byte
	Leaf             []byte
	Entry            *Entry
	// Signer names who signed: the manufacturer, or the device's UDI.
	Signer string
	// Enrollment is the verified enrollment behind an attestation.
	Enrollment *Verified
	// Witnessed holds the checkpoint's verified cosignatures when a
	// policy was checked.
	Witnessed *Witnessed
}

// Verify checks the bundle offline: the checkpoint's log signature, the
// inclusion proof of the leaf, the entry's schema and signature, the signer's
// key in the trust roots, and, for an attestation, the embedded enrollment
// (itself proven included at a lower index) that binds the device key.
// Revocations need the log's history and are not checked here.
func (b *Bundle) Verify(opts VerifyOptions) (*Verified, error) {
	if opts.Log == nil && opts.Policy == nil || opts.Roots == nil {
		return nil, errors.New("verifying a bundle needs the log's key or a policy, and the trust roots")
	}
	if err := b.checkStructure(0); err != nil {
		return nil, err
	}
	v, err := b.verifyInclusion(opts)
	if err != nil {
		return nil, err
	}
	l, err := ParseLeaf(v.Leaf)
	if err != nil {
		return nil, err
	}
	if l.Kind.String() != b.Kind {
		return nil, fmt.Errorf("%w: kind does not match the leaf", ErrBundle)
	}
	payload := b.Payload
	if payload == nil {
		payload = opts.Payload
	}
	if l.InBlob() && payload == nil {
		return nil, fmt.Errorf("%w: the signed payload is in blob sha256:%s; supply it to check the signature", ErrBundle, l.BlobDigest())
	}
	env, err := l.Envelope(payload)
	if err != nil {
		return nil, err
	}
	if v.Entry, err = NewEntry(env); err != nil {
		return nil, err
	}
	if v.Entry.Kind != l.Kind {
		return nil, fmt.Errorf("%w: leaf kind does not match its predicate", ErrLeaf)
	}
	st := NewState(opts.Roots)
	if v.Entry.Kind == KindAttestation {
		if b.Enrollment == nil {
			return nil, fmt.Errorf("%w: an attestation bundle needs the device's enrollment bundle", ErrBundle)
		}
		if v.Enrollment, err = b.Enrollment.Verify(VerifyOptions{Log: opts.Log, Policy: opts.Policy, Roots: opts.Roots}); err != nil {
			return nil, fmt.Errorf("enrollment: %w", err)
		}
		if v.Enrollment.Entry.Kind != KindEnrollment || v.Enrollment.Index >= v.Index {
			return nil, fmt.Errorf("%w: the embedded enrollment is not an earlier enrollment entry", ErrBundle)
		}
		st.Apply(v.Enrollment.Index, v.Enrollment.Entry)
		v.Signer = v.Entry.UDI().String()
	}
	switch v.Entry.Kind {
	case KindEnrollment, KindAttestation:
		// The full admission checks, against a state holding only what the
		// bundle proves: the enrollment behind an attestation.
		err = st.Check(v.Entry)
	default:
		// Revocations and field actions are checked against history the
		// bundle does not carry; here only the signature is.
		m := opts.Roots.ManufacturerOf(v.Entry.SignerKeyID())
		if m == nil {
			err = fmt.Errorf("%w: not a trust-root manufacturer key", ErrUnknownKey)
		} else if !m.key(v.Entry.SignerKeyID()).Verify(env.PAE(), env.Signatures[0].Sig) {
			err = fmt.Errorf("%w: manufacturer signature", ErrBadSignature)
		}
	}
	if err != nil {
		return nil, err
	}
	if v.Signer == "" {
		v.Signer = opts.Roots.ManufacturerOf(v.Entry.SignerKeyID()).Name
	}
	return v, nil
}

// verifyInclusion checks the tlog-proof: checkpoint signature and origin
// (and cosignatures, under a policy), then the leaf's inclusion proof
// against the checkpoint's root.
func (b *Bundle) verifyInclusion(opts VerifyOptions) (*Verified, error) {
	p, err := ParseTLogProof([]byte(b.TLogProof))
	if err != nil {
		return nil, err
	}
	if p.Extra == nil {
		return nil, fmt.Errorf("%w: the tlog-proof carries no leaf", ErrBundle)
	}
	var cp *flog.Checkpoint
	var w *Witnessed
	if opts.Policy != nil {
		if w, err = opts.Policy.VerifyCheckpoint(p.Checkpoint); err != nil {
			return nil, err
		}
		cp = w.Checkpoint
	} else if cp, err = VerifyCheckpoint(p.Checkpoint, opts.Log); err != nil {
		return nil, err
	}
	if p.Index >= cp.Size {
		return nil, fmt.Errorf("%w: index %d is outside the checkpoint's tree of size %d", ErrNotIncluded, p.Index, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, cp.Size, rfc6962.DefaultHasher.HashLeaf(p.Extra), p.Hashes, cp.Hash); err != nil {
		return nil, fmt.Errorf("%w: inclusion proof: %v", ErrNotIncluded, err)
	}
	return &Verified{Index: p.Index, Checkpoint: cp, SignedCheckpoint: p.Checkpoint, Leaf: p.Extra, Witnessed: w}, nil
}

// VerifyCheckpoint checks a signed checkpoint: a valid signature by the log
// key, whose name is the checkpoint's origin, and a well-formed body.
func VerifyCheckpoint(cp []byte, logKey note.Verifier) (*flog.Checkpoint, error) {
	c, _, _, err := flog.ParseCheckpoint(cp, logKey.Name(), logKey)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrNotIncluded, err)
	}
	return c, nil
}

// marshalIndent is json.MarshalIndent with a final newline, for files people read.
func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
