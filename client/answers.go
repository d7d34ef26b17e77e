package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
	"golang.org/x/sync/errgroup"
)

// ErrFalseAnswer is wrapped when a log's query answer claims something its
// own entries contradict: an item whose leaf is not what the answer says,
// or does not answer the question. The answer must not be believed.
var ErrFalseAnswer = errors.New("the log's answer is false")

// falseAnswer reports a false claim about the entry at index.
func falseAnswer(index uint64, format string, a ...any) error {
	return fmt.Errorf("%w: entry %d: %s", ErrFalseAnswer, index, fmt.Sprintf(format, a...))
}

// Querier asks a log's query API and proves every answer before it returns
// it: each item's entry is proven included, from tiles, under the trusted
// checkpoint (Tracker), its signatures are verified, and its leaf is checked
// against the question. What it cannot prove without a full replay, that
// the answer left nothing out, it says (see each method); vigil audit is
// that replay.
type Querier struct {
	// Tracker holds the trusted checkpoint. Required.
	Tracker *Tracker
	// API is the log's query API. Required.
	API *LogClient
	// Roots are the trust roots. Required.
	Roots *TrustRoots
}

// Answer is what every proven answer holds beside the answer itself.
type Answer struct {
	// Checked is the trusted checkpoint the items are proven under.
	Checked *Checked
}

// start updates the trusted checkpoint and returns a prover under it.
func (q *Querier) start(ctx context.Context) (*entryProver, error) {
	c, err := q.Tracker.Update(ctx)
	if err != nil {
		return nil, err
	}
	pb, err := tclient.NewProofBuilder(ctx, c.Checkpoint.Size, q.Tracker.Tiles.Tile)
	if err != nil {
		return nil, fmt.Errorf("reading tiles: %w", err)
	}
	return &entryProver{q: q, c: c, pb: pb, bundles: map[uint64][][]byte{}, tiles: map[uint64]*api.HashTile{}, authed: map[uint64]bool{}, entries: map[uint64]*Entry{}}, nil
}

// entryProver proves entries included under one checkpoint, fetching each
// entry bundle and tile once for all of them. An answer names thousands of
// entries; building an inclusion proof for each costs hundreds of hashes
// and, through Tessera's proof builder, one sequential fetch per tile. So
// the prover fetches the level-0 hash tiles concurrently and authenticates
// each full one once, with the inclusion proof of its first node: the
// proof's first eight hashes and that node rebuild the tile's subtree root,
// which must equal the root of the tile's 256 hashes. A leaf is then proven
// by its hash in an authenticated tile. Entries of the last, partial tile
// get an inclusion proof each.
type entryProver struct {
	q *Querier
	c *Checked

	pbMu sync.Mutex // ProofBuilder is not safe for concurrent use
	pb   *tclient.ProofBuilder

	mu      sync.Mutex
	bundles map[uint64][][]byte      // entry bundle index -> leaves
	tiles   map[uint64]*api.HashTile // level-0 tile index -> fetched tile, authenticated once in authentic
	authed  map[uint64]bool          // level-0 tiles authenticated
	entries map[uint64]*Entry        // proven, decoded and signature-checked
}

// full reports whether the level-0 tile (and entry bundle) i is complete in
// the checkpoint's tree.
func (p *entryProver) full(i uint64) bool {
	return (i+1)*layout.EntryBundleWidth <= p.c.Checkpoint.Size
}

// within checks that an answer is of a tree the trusted checkpoint covers.
func (p *entryProver) within(treeSize uint64) error {
	if treeSize > p.c.Checkpoint.Size {
		return fmt.Errorf("%w: it is of %d entries, more than the checkpoint the log signed (%d)", ErrFalseAnswer, treeSize, p.c.Checkpoint.Size)
	}
	return nil
}

// prefetch reads the entry bundles that hold indexes, and for full ones
// their level-0 hash tiles, concurrently.
func (p *entryProver) prefetch(ctx context.Context, indexes []uint64) error {
	need := map[uint64]bool{}
	p.mu.Lock()
	for _, i := range indexes {
		if b := i / layout.EntryBundleWidth; p.bundles[b] == nil && i < p.c.Checkpoint.Size {
			need[b] = true
		}
	}
	p.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for b := range need {
		g.Go(func() error {
			eb, err := tclient.GetEntryBundle(gctx, p.q.Tracker.Tiles.EntryBundle, b, p.c.Checkpoint.Size)
			if err != nil {
				return fmt.Errorf("reading entry bundle %d: %w", b, err)
			}
			p.mu.Lock()
			p.bundles[b] = eb.Entries
			p.mu.Unlock()
			return nil
		})
		if p.full(b) {
			g.Go(func() error {
				raw, err := p.q.Tracker.Tiles.Tile(gctx, 0, b, 0)
				if err != nil {
					return fmt.Errorf("reading hash tile 0/%d: %w", b, err)
				}
				var t api.HashTile
				if err := t.UnmarshalText(raw); err != nil || len(t.Nodes) != layout.TileWidth {
					return fmt.Errorf("%w: hash tile 0/%d does not parse", ErrBadTiles, b)
				}
				p.mu.Lock()
				p.tiles[b] = &t
				p.mu.Unlock()
				return nil
			})
		}
	}
	return g.Wait()
}

// authentic returns the level-0 tile t, authenticated against the
// checkpoint's root (see entryProver).
func (p *entryProver) authentic(ctx context.Context, t uint64) (*api.HashTile, error) {
	p.mu.Lock()
	done, tl := p.authed[t], p.tiles[t]
	p.mu.Unlock()
	if done {
		return tl, nil
	}
	if tl == nil {
		return nil, fmt.Errorf("%w: hash tile 0/%d was not read", ErrBadTiles, t)
	}
	first := t * layout.TileWidth
	p.pbMu.Lock()
	hashes, err := p.pb.InclusionProof(ctx, first)
	p.pbMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("building the inclusion proof of %d: %w", first, err)
	}
	h := rfc6962.DefaultHasher
	if err := proof.VerifyInclusion(h, first, p.c.Checkpoint.Size, tl.Nodes[0], hashes, p.c.Checkpoint.Hash); err != nil || len(hashes) < 8 {
		return nil, fmt.Errorf("%w: hash tile 0/%d: its first node is not in the tree: %v", ErrBadTiles, t, err)
	}
	sub, err := proof.RootFromInclusionProof(h, 0, layout.TileWidth, tl.Nodes[0], hashes[:8])
	if err != nil {
		return nil, fmt.Errorf("%w: hash tile 0/%d: %v", ErrBadTiles, t, err)
	}
	r := rangeFactory.NewEmptyRange(0)
	for _, n := range tl.Nodes {
		if err := r.Append(n, nil); err != nil {
			return nil, fmt.Errorf("hash tile 0/%d: %w", t, err)
		}
	}
	if root, err := r.GetRootHash(nil); err != nil || !bytes.Equal(root, sub) {
		return nil, fmt.Errorf("%w: hash tile 0/%d does not hash to its subtree's root", ErrBadTiles, t)
	}
	p.mu.Lock()
	p.authed[t] = true
	p.mu.Unlock()
	return tl, nil
}

// leafAt returns the leaf at index, proven included under the checkpoint.
func (p *entryProver) leafAt(ctx context.Context, index uint64) ([]byte, error) {
	if err := p.prefetch(ctx, []uint64{index}); err != nil {
		return nil, err
	}
	b, i := index/layout.EntryBundleWidth, index%layout.EntryBundleWidth
	p.mu.Lock()
	leaves := p.bundles[b]
	p.mu.Unlock()
	if uint64(len(leaves)) <= i {
		return nil, fmt.Errorf("%w: entry bundle of %d is short", ErrBadTiles, index)
	}
	leaf := leaves[i]
	lh := rfc6962.DefaultHasher.HashLeaf(leaf)
	if p.full(b) {
		t, err := p.authentic(ctx, b)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(t.Nodes[i], lh) {
			return nil, fmt.Errorf("%w: entry %d is not the leaf its hash tile holds", ErrBadTiles, index)
		}
		return leaf, nil
	}
	p.pbMu.Lock()
	hashes, err := p.pb.InclusionProof(ctx, index)
	p.pbMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("building the inclusion proof of %d: %w", index, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, p.c.Checkpoint.Size, lh, hashes, p.c.Checkpoint.Hash); err != nil {
		return nil, fmt.Errorf("%w: entry %d: %v", ErrBadTiles, index, err)
	}
	return leaf, nil
}

// proveAll proves, decodes and checks the signatures of many entries at
// once, on every CPU, so that the checks that follow find them done. Each
// is an entry index and, for a device's attestation, its enrollment's.
func (p *entryProver) proveAll(ctx context.Context, items [][2]uint64) error {
	var idx []uint64
	for _, it := range items {
		idx = append(idx, it[0], it[1])
	}
	if err := p.prefetch(ctx, idx); err != nil {
		return err
	}
	// Enrollments first, then the entries that need them: in one pass a
	// device's attestation and its enrollment, side by side, would both
	// verify the enrollment.
	for _, phase := range []func(it [2]uint64) bool{
		func(it [2]uint64) bool { return it[0] == it[1] },
		func(it [2]uint64) bool { return it[0] != it[1] },
	} {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.NumCPU())
		for _, it := range items {
			if !phase(it) {
				continue
			}
			g.Go(func() error {
				enr := it[1]
				_, err := p.entry(gctx, it[0], &enr)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// entry returns the entry at index, proven included, decoded (with its blob
// for an SBOM) and with its signatures verified: a manufacturer's with the
// trust roots, a device's with the key of the enrollment at enrollment.
func (p *entryProver) entry(ctx context.Context, index uint64, enrollment *uint64) (*Entry, error) {
	p.mu.Lock()
	e, ok := p.entries[index]
	p.mu.Unlock()
	if ok {
		return e, nil
	}
	if index >= p.c.Checkpoint.Size {
		return nil, falseAnswer(index, "outside the checkpoint of size %d", p.c.Checkpoint.Size)
	}
	leaf, err := p.leafAt(ctx, index)
	if err != nil {
		return nil, err
	}
	l, err := ParseLeaf(leaf)
	if err != nil {
		return nil, falseAnswer(index, "the leaf does not decode: %v", err)
	}
	var payload []byte
	if l.InBlob() {
		if payload, err = p.q.API.Blob(ctx, l.BlobDigest()); err != nil {
			return nil, fmt.Errorf("fetching the blob of entry %d: %w", index, err)
		}
	}
	env, err := l.Envelope(payload)
	if err != nil {
		return nil, falseAnswer(index, "%v", err)
	}
	if e, err = NewEntry(env); err != nil {
		return nil, falseAnswer(index, "%v", err)
	}
	var signer *PublicKey
	switch {
	case e.Kind != KindAttestation:
		if m := p.q.Roots.ManufacturerOf(e.SignerKeyID()); m != nil {
			signer = m.key(e.SignerKeyID())
		}
	case enrollment != nil:
		enr, err := p.entry(ctx, *enrollment, nil)
		if err != nil {
			return nil, err
		}
		if enr.Kind != KindEnrollment || enr.deviceKey.ID() != e.SignerKeyID() || enr.udi.DeviceID() != e.udi.DeviceID() {
			return nil, falseAnswer(*enrollment, "not the enrollment of the device that signed entry %d", index)
		}
		signer = enr.deviceKey
	}
	if signer == nil {
		return nil, falseAnswer(index, "signed by a key that is neither a trust root nor the device's")
	}
	if err := VerifySignatures(e, signer); err != nil {
		return nil, falseAnswer(index, "%v", err)
	}
	p.mu.Lock()
	p.entries[index] = e
	p.mu.Unlock()
	return e, nil
}

// device proves a device's enrollment: the entry at ref.Enrollment enrolls
// the UDI ref names (its device ID), with the given key ID if not "".
func (p *entryProver) device(ctx context.Context, ref DeviceRef, keyID string) (*Entry, error) {
	e, err := p.entry(ctx, ref.Enrollment, nil)
	if err != nil {
		return nil, err
	}
	u, err := ParseUDI(ref.UDI)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFalseAnswer, err)
	}
	if e.Kind != KindEnrollment || e.udi.DeviceID() != u.DeviceID() || keyID != "" && e.deviceKey.ID() != keyID {
		return nil, falseAnswer(ref.Enrollment, "not the enrollment of %s", ref.UDI)
	}
	return e, nil
}

// attestation proves that the entry at a.Index is an attestation by the
// device enrolled at enrollment that says what a says.
func (p *entryProver) attestation(ctx context.Context, a *AttestationRef, enrollment uint64) (*Entry, error) {
	e, err := p.entry(ctx, a.Index, &enrollment)
	if err != nil {
		return nil, err
	}
	at := e.Attestation
	if e.Kind != KindAttestation || at.Seq != a.Seq || !at.Time.Equal(a.Time) || at.Firmware != a.Firmware {
		return nil, falseAnswer(a.Index, "not the attestation the answer describes")
	}
	// entry checked the signer against the enrollment only when it first
	// proved the attestation, perhaps for another device of the answer:
	// check the binding to this device's enrollment every time.
	enr, err := p.entry(ctx, enrollment, nil)
	if err != nil {
		return nil, err
	}
	if enr.Kind != KindEnrollment || enr.deviceKey.ID() != e.SignerKeyID() || enr.udi.DeviceID() != e.udi.DeviceID() {
		return nil, falseAnswer(a.Index, "not an attestation of the device enrolled at %d", enrollment)
	}
	return e, nil
}

// deviceWithLatest proves a device and its latest attestation.
func (p *entryProver) deviceWithLatest(ctx context.Context, ref DeviceRef) error {
	if _, err := p.device(ctx, ref, ""); err != nil {
		return err
	}
	if ref.Latest != nil {
		_, err := p.attestation(ctx, ref.Latest, ref.Enrollment)
		return err
	}
	return nil
}

// refIndexes lists the entries behind device refs, for proveAll.
func refIndexes(refs ...[]DeviceRef) [][2]uint64 {
	var out [][2]uint64
	for _, rs := range refs {
		for _, r := range rs {
			out = append(out, [2]uint64{r.Enrollment, r.Enrollment})
			if r.Latest != nil {
				out = append(out, [2]uint64{r.Latest.Index, r.Enrollment})
			}
		}
	}
	return out
}

// ProvenDevice is a proven answer to GET /v1/devices/{udi}.
type ProvenDevice struct {
	Answer
	*DeviceInfo
}

// Device asks for a device and proves the answer: its enrollment (UDI, key,
// manufacturer), its latest attestation, each revocation and each field
// action named. That the device has no other revocation, or no later
// attestation, only a full replay shows.
func (q *Querier) Device(ctx context.Context, udi string) (*ProvenDevice, error) {
	p, err := q.start(ctx)
	if err != nil {
		return nil, err
	}
	var info DeviceInfo
	if err := q.API.GetJSON(ctx, "/v1/devices/"+url.PathEscape(udi), &info); err != nil {
		return nil, err
	}
	if err := p.within(info.TreeSize); err != nil {
		return nil, err
	}
	items := refIndexes([]DeviceRef{info.DeviceRef})
	for _, r := range info.Revocations {
		items = append(items, [2]uint64{r, r})
	}
	for _, fa := range info.FieldActions {
		items = append(items, [2]uint64{fa.Index, fa.Index})
	}
	if err := p.proveAll(ctx, items); err != nil {
		return nil, err
	}
	if info.UDI != udi {
		if a, _ := ParseUDI(info.UDI); a.DeviceID() != DeviceIDOf(udi) {
			return nil, fmt.Errorf("%w: it is about %s", ErrFalseAnswer, info.UDI)
		}
	}
	enr, err := p.device(ctx, info.DeviceRef, info.KeyID)
	if err != nil {
		return nil, err
	}
	if m := q.Roots.ManufacturerOf(enr.SignerKeyID()); m == nil || m.Name != info.Manufacturer {
		return nil, falseAnswer(info.Enrollment, "enrolled by another manufacturer than %q", info.Manufacturer)
	}
	if info.Latest != nil {
		if _, err := p.attestation(ctx, info.Latest, info.Enrollment); err != nil {
			return nil, err
		}
	}
	for _, r := range info.Revocations {
		e, err := p.entry(ctx, r, nil)
		if err != nil {
			return nil, err
		}
		t := e.Revocation
		if e.Kind != KindRevocation || !(t.Target.Type == TargetDeviceKey && t.Target.ID == info.KeyID || t.Target.Type == TargetUDI && e.udi.DeviceID() == enr.udi.DeviceID()) {
			return nil, falseAnswer(r, "not a revocation of the device")
		}
	}
	if info.Status == StatusRevoked && len(info.Revocations) == 0 {
		return nil, fmt.Errorf("%w: revoked, with no revocation named", ErrFalseAnswer)
	}
	for _, fa := range info.FieldActions {
		e, err := p.entry(ctx, fa.Index, nil)
		if err != nil {
			return nil, err
		}
		if e.Kind != KindFieldAction || e.FieldAction.ID != fa.ID {
			return nil, falseAnswer(fa.Index, "not field action %q", fa.ID)
		}
	}
	return &ProvenDevice{Answer: Answer{Checked: p.c}, DeviceInfo: &info}, nil
}

// ChainProblem is a break in a device's attestation history, as a client
// finds it walking the hash chain: whoever caused it (the device, a clone,
// or a log that hid entries), the history is not complete there.
type ChainProblem struct {
	// Code is AnomalyChainGap (seqs missing), AnomalyChainBreak (prev does
	// not name the attestation before) or AnomalyChainFork (a second
	// attestation of a seq).
	Code string `json:"code"`
	// Index is the attestation where the problem shows; After the one
	// before it in the chain, if any.
	Index uint64  `json:"index"`
	After *uint64 `json:"after,omitempty"`
	// Missing counts the seqs missing before Index, for a gap.
	Missing uint64 `json:"missing,omitempty"`
	Detail  string `json:"detail"`
}

// ProvenHistory is a proven device history.
type ProvenHistory struct {
	Answer
	*History
	// Problems are the gaps, breaks and forks along the chain. A history
	// without problems is complete from seq 0 to its last attestation; a
	// later one withheld only a full replay would show.
	Problems []ChainProblem `json:"problems"`
}

// History asks for a device's whole attestation history, page by page,
// proves every attestation (the device's, as it says), and walks the hash
// chain from seq 0: each attestation's prev must be the digest of the one
// before, its seq one more.
func (q *Querier) History(ctx context.Context, udi string) (*ProvenHistory, error) {
	p, err := q.start(ctx)
	if err != nil {
		return nil, err
	}
	var all *History
	for from := uint64(0); ; {
		var h History
		if err := q.API.GetJSON(ctx, "/v1/devices/"+url.PathEscape(udi)+"/attestations?limit=1000&from="+strconv.FormatUint(from, 10), &h); err != nil {
			return nil, err
		}
		if err := p.within(h.TreeSize); err != nil {
			return nil, err
		}
		if all == nil {
			all = &h
		} else {
			if h.Enrollment != all.Enrollment {
				return nil, fmt.Errorf("%w: pages name different enrollments", ErrFalseAnswer)
			}
			all.Attestations = append(all.Attestations, h.Attestations...)
		}
		if h.NextSeq == nil {
			break
		}
		if *h.NextSeq <= from {
			return nil, fmt.Errorf("%w: the pages do not advance", ErrFalseAnswer)
		}
		from = *h.NextSeq
	}
	all.NextSeq = nil
	if _, err := p.device(ctx, DeviceRef{UDI: udi, Enrollment: all.Enrollment}, ""); err != nil {
		return nil, err
	}
	var items [][2]uint64
	for _, a := range all.Attestations {
		items = append(items, [2]uint64{a.Index, all.Enrollment})
	}
	if err := p.proveAll(ctx, items); err != nil {
		return nil, err
	}
	out := &ProvenHistory{Answer: Answer{Checked: p.c}, History: all, Problems: []ChainProblem{}}
	var (
		head       *Entry
		headIndex  uint64
		headDigest string
	)
	seen := map[uint64]bool{}
	for i := range all.Attestations {
		a := &all.Attestations[i]
		if seen[a.Index] {
			return nil, falseAnswer(a.Index, "listed twice")
		}
		seen[a.Index] = true
		e, err := p.attestation(ctx, a, all.Enrollment)
		if err != nil {
			return nil, err
		}
		at := e.Attestation
		if head != nil && at.Seq < head.Attestation.Seq {
			return nil, falseAnswer(a.Index, "out of seq order")
		}
		after := headIndex
		switch {
		case head == nil && at.Seq > 0:
			out.Problems = append(out.Problems, ChainProblem{Code: AnomalyChainGap, Index: a.Index, Missing: at.Seq,
				Detail: fmt.Sprintf("the history starts at seq %d: seqs 0 to %d missing", at.Seq, at.Seq-1)})
		case head == nil:
		case at.Seq == head.Attestation.Seq:
			out.Problems = append(out.Problems, ChainProblem{Code: AnomalyChainFork, Index: a.Index, After: &after,
				Detail: fmt.Sprintf("a second seq %d: two histories of one device key (a clone?)", at.Seq)})
			continue // the chain goes on from the first
		case at.Seq > head.Attestation.Seq+1:
			out.Problems = append(out.Problems, ChainProblem{Code: AnomalyChainGap, Index: a.Index, After: &after, Missing: at.Seq - head.Attestation.Seq - 1,
				Detail: fmt.Sprintf("seq %d follows seq %d: %d attestations missing", at.Seq, head.Attestation.Seq, at.Seq-head.Attestation.Seq-1)})
		case at.Prev != headDigest:
			out.Problems = append(out.Problems, ChainProblem{Code: AnomalyChainBreak, Index: a.Index, After: &after,
				Detail: fmt.Sprintf("seq %d does not name seq %d (entry %d) as prev", at.Seq, head.Attestation.Seq, headIndex)})
		}
		head, headIndex, headDigest = e, a.Index, e.PayloadDigest()
	}
	return out, nil
}

// ProvenAt is a proven answer about a device at a time.
type ProvenAt struct {
	Answer
	*AtAnswer
	// LoggedBy is the upper bound on when the attestation in force was
	// logged: the earliest witness cosignature on the first checkpoint the
	// log names as including it (verified under the policy and proven
	// consistent with the trusted one), or, if the log names none, on the
	// checkpoint the answer is proven under. LoggedUnder is that
	// checkpoint's size; LoggedBy is nil if no witness cosigned it (a
	// policy with no quorum). The device's own claim is InForce.Time.
	LoggedBy    *time.Time `json:"loggedBy,omitempty"`
	LoggedUnder uint64     `json:"loggedUnder,omitempty"`
	// Adjacent says Next is the very next attestation in the chain (seq+1,
	// prev linking), so nothing came between; false when there is no Next
	// or it does not link.
	Adjacent bool `json:"adjacent"`
}

// At asks which attestation of a device was in force at t, and proves it:
// both attestations are the device's, the one in force claims a time at or
// before t and the next one after t. If Next is the chain's very next
// attestation, no attestation came between them.
func (q *Querier) At(ctx context.Context, udi string, t time.Time) (*ProvenAt, error) {
	p, err := q.start(ctx)
	if err != nil {
		return nil, err
	}
	var a AtAnswer
	if err := q.API.GetJSON(ctx, "/v1/devices/"+url.PathEscape(udi)+"/at?time="+url.QueryEscape(t.UTC().Format(time.RFC3339Nano)), &a); err != nil {
		return nil, err
	}
	if err := p.within(a.TreeSize); err != nil {
		return nil, err
	}
	if _, err := p.device(ctx, DeviceRef{UDI: udi, Enrollment: a.Enrollment}, ""); err != nil {
		return nil, err
	}
	out := &ProvenAt{Answer: Answer{Checked: p.c}, AtAnswer: &a}
	var in, next *Entry
	if a.InForce != nil {
		if in, err = p.attestation(ctx, a.InForce, a.Enrollment); err != nil {
			return nil, err
		}
		if a.InForce.Time.After(t) {
			return nil, falseAnswer(a.InForce.Index, "claims %s, after the time asked", a.InForce.Time.Format(time.RFC3339))
		}
		c, err := q.loggedBy(ctx, a.InForce.Index)
		if err != nil {
			return nil, err
		}
		if c == nil {
			c = p.c
		}
		out.LoggedUnder = c.Checkpoint.Size
		if w, ok := c.Earliest(); ok {
			out.LoggedBy = &w
		}
	}
	if a.Next != nil {
		if next, err = p.attestation(ctx, a.Next, a.Enrollment); err != nil {
			return nil, err
		}
		if !a.Next.Time.After(t) {
			return nil, falseAnswer(a.Next.Index, "claims %s, not after the time asked", a.Next.Time.Format(time.RFC3339))
		}
	}
	switch {
	case next == nil:
	case in == nil:
		out.Adjacent = next.Attestation.Seq == 0
	default:
		out.Adjacent = next.Attestation.Seq == in.Attestation.Seq+1 && next.Attestation.Prev == in.PayloadDigest()
	}
	return out, nil
}

// loggedBy asks the log for the first checkpoint it published that includes
// the entry at index, verifies it under the policy and proves it consistent
// with the trusted checkpoint (so its tree holds the same entry). It returns
// nil if the log names none.
func (q *Querier) loggedBy(ctx context.Context, index uint64) (*Checked, error) {
	raw, err := q.API.get(ctx, "/v1/checkpoints/covering/"+strconv.FormatUint(index, 10))
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := q.Tracker.Accept(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("the checkpoint the log names as first including entry %d: %w", index, err)
	}
	if c.Checkpoint.Size <= index {
		return nil, falseAnswer(index, "the checkpoint named as including it is of size %d", c.Checkpoint.Size)
	}
	return c, nil
}

// ProvenImpact is a proven impact answer.
type ProvenImpact struct {
	Answer
	*Impact
}

// Impact asks which builds and devices a package URL (its version, if it
// has one, exactly) or an OSV advisory affects, and proves the answer: each
// build's SBOM entry is proven, and each component the answer names must be
// in that SBOM and match the question; each device's enrollment and latest
// attestation are proven, the attestation reporting an affected build at or
// after since (unknown devices: before since, or none). Builds or devices
// left out only a full replay would find.
func (q *Querier) Impact(ctx context.Context, purl string, advisory []byte, since *time.Time) (*ProvenImpact, error) {
	var adv *Advisory
	query := url.Values{}
	if since != nil {
		query.Set("since", since.UTC().Format(time.RFC3339))
	}
	var key, version string
	if advisory != nil {
		var err error
		if adv, err = ParseOSV(advisory); err != nil {
			return nil, err
		}
	} else {
		var err error
		if key, version, err = PackageKey(purl); err != nil {
			return nil, err
		}
		query.Set("purl", purl)
	}
	p, err := q.start(ctx)
	if err != nil {
		return nil, err
	}
	im, err := pages(ctx, func(ctx context.Context, after string) (*Impact, pageInfo, error) {
		var pg Impact
		query.Set("after", after)
		var err error
		if adv != nil {
			err = q.API.postJSON(ctx, "/v1/impact?"+query.Encode(), advisory, &pg)
		} else {
			err = q.API.GetJSON(ctx, "/v1/impact?"+query.Encode(), &pg)
		}
		return &pg, pageInfo{treeSize: pg.TreeSize, more: pg.More, udis: slices.Concat(udisOf(pg.Affected), udisOf(pg.Unknown))}, err
	}, func(all, pg *Impact) error {
		if !slices.EqualFunc(all.Builds, pg.Builds, func(a, b ImpactBuild) bool { return a.Digest == b.Digest }) {
			return fmt.Errorf("%w: the pages name different builds", ErrFalseAnswer)
		}
		all.Affected, all.Unknown = append(all.Affected, pg.Affected...), append(all.Unknown, pg.Unknown...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.within(im.TreeSize); err != nil {
		return nil, err
	}
	items := refIndexes(im.Affected, im.Unknown)
	for _, b := range im.Builds {
		items = append(items, [2]uint64{b.SBOM, b.SBOM})
	}
	if err := p.proveAll(ctx, items); err != nil {
		return nil, err
	}
	affected := map[string]bool{}
	for _, b := range im.Builds {
		e, err := p.entry(ctx, b.SBOM, nil)
		if err != nil {
			return nil, err
		}
		if e.Kind != KindSBOM || e.FirmwareDigest() != b.Digest {
			return nil, falseAnswer(b.SBOM, "not an SBOM of build %s", b.Digest)
		}
		if len(b.Components) == 0 {
			return nil, falseAnswer(b.SBOM, "build %s named with no affected component", b.Digest)
		}
		for _, c := range b.Components {
			if !slices.Contains(e.SBOM.Components, c) {
				return nil, falseAnswer(b.SBOM, "the SBOM of build %s does not list %s %s", b.Digest, c.Name, c.Version)
			}
			if adv != nil {
				if _, ok := adv.Match(c); !ok {
					return nil, falseAnswer(b.SBOM, "%s %s is not affected by %s", c.Name, c.Version, adv.ID)
				}
			} else if k, v, err := PackageKey(c.PURL); err != nil || k != key || version != "" && v != version {
				return nil, falseAnswer(b.SBOM, "%s is not %s", c.PURL, purl)
			}
		}
		affected[b.Digest] = true
	}
	for _, d := range im.Affected {
		if err := p.deviceWithLatest(ctx, d); err != nil {
			return nil, err
		}
		if d.Latest == nil || !affected[d.Latest.Firmware.Digest] || since != nil && d.Latest.Time.Before(*since) {
			return nil, fmt.Errorf("%w: %s is listed as affected, but its latest attestation does not report an affected build since the time asked", ErrFalseAnswer, d.UDI)
		}
	}
	for _, d := range im.Unknown {
		if err := p.deviceWithLatest(ctx, d); err != nil {
			return nil, err
		}
		if d.Latest != nil && (since == nil || !d.Latest.Time.Before(*since)) {
			return nil, fmt.Errorf("%w: %s is listed as of unknown state, but it reported since the time asked", ErrFalseAnswer, d.UDI)
		}
	}
	return &ProvenImpact{Answer: Answer{Checked: p.c}, Impact: im}, nil
}

// ProvenFieldAction is a proven field-action status.
type ProvenFieldAction struct {
	Answer
	*FieldActionStatus
}

// FieldAction asks for a field action's status and proves it: the action's
// entry (the ID, signed by a trust-root manufacturer); each corrected
// device's remedy attestation, which reports the remedy build at an index
// after the action's; each device's enrollment. Devices left out of the
// population only a full replay would find.
func (q *Querier) FieldAction(ctx context.Context, id string) (*ProvenFieldAction, error) {
	p, err := q.start(ctx)
	if err != nil {
		return nil, err
	}
	st, err := pages(ctx, func(ctx context.Context, after string) (*FieldActionStatus, pageInfo, error) {
		var pg FieldActionStatus
		err := q.API.GetJSON(ctx, "/v1/field-actions/"+url.PathEscape(id)+"?after="+url.QueryEscape(after), &pg)
		var udis []string
		for _, c := range pg.Corrected {
			udis = append(udis, c.UDI)
		}
		return &pg, pageInfo{treeSize: pg.TreeSize, more: pg.More, udis: slices.Concat(udis, udisOf(pg.NotCorrected))}, err
	}, func(all, pg *FieldActionStatus) error {
		if pg.Index != all.Index {
			return fmt.Errorf("%w: the pages name different field actions", ErrFalseAnswer)
		}
		all.Corrected, all.NotCorrected = append(all.Corrected, pg.Corrected...), append(all.NotCorrected, pg.NotCorrected...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.within(st.TreeSize); err != nil {
		return nil, err
	}
	items := append(refIndexes(st.NotCorrected), [2]uint64{st.Index, st.Index})
	for _, c := range st.Corrected {
		items = append(items, [2]uint64{c.Enrollment, c.Enrollment}, [2]uint64{c.Remedy.Index, c.Enrollment})
	}
	if err := p.proveAll(ctx, items); err != nil {
		return nil, err
	}
	e, err := p.entry(ctx, st.Index, nil)
	if err != nil {
		return nil, err
	}
	if e.Kind != KindFieldAction || e.FieldAction.ID != id {
		return nil, falseAnswer(st.Index, "not field action %q", id)
	}
	fa := e.FieldAction
	st.Action = *fa
	if m := q.Roots.ManufacturerOf(e.SignerKeyID()); m == nil || m.Name != st.Manufacturer {
		return nil, falseAnswer(st.Index, "not issued by %q", st.Manufacturer)
	}
	for _, c := range st.Corrected {
		if fa.Remedy == nil {
			return nil, fmt.Errorf("%w: the action has no remedy, yet devices are listed as corrected", ErrFalseAnswer)
		}
		if _, err := p.device(ctx, DeviceRef{UDI: c.UDI, Enrollment: c.Enrollment}, ""); err != nil {
			return nil, err
		}
		if _, err := p.attestation(ctx, &c.Remedy, c.Enrollment); err != nil {
			return nil, err
		}
		if c.Remedy.Firmware.Digest != fa.Remedy.Digest || c.Remedy.Index <= st.Index {
			return nil, falseAnswer(c.Remedy.Index, "not an attestation of the remedy build after the action")
		}
	}
	for _, d := range st.NotCorrected {
		if err := p.deviceWithLatest(ctx, d); err != nil {
			return nil, err
		}
	}
	return &ProvenFieldAction{Answer: Answer{Checked: p.c}, FieldActionStatus: st}, nil
}

// pageInfo is what pages needs of one page of a list answer.
type pageInfo struct {
	treeSize uint64
	more     string   // the next page's after=, "" for the last
	udis     []string // the page's devices
}

// pageAttempts is how often pages starts again when the index grows
// between two pages of one answer.
const pageAttempts = 5

// pages fetches every page of a list answer and merges them with merge,
// all of one tree size: if the index grows between two pages, it starts
// again. Each page's devices must sort after the page's after=, so pages
// never overlap.
func pages[T any](ctx context.Context, fetch func(ctx context.Context, after string) (*T, pageInfo, error), merge func(all, pg *T) error) (*T, error) {
	for attempt := 1; ; attempt++ {
		all, info, err := fetch(ctx, "")
		if err != nil {
			return nil, err
		}
		size, moved := info.treeSize, false
		for after := ""; info.more != ""; {
			if info.more <= after {
				return nil, fmt.Errorf("%w: the pages do not advance", ErrFalseAnswer)
			}
			after = info.more
			var pg *T
			if pg, info, err = fetch(ctx, after); err != nil {
				return nil, err
			}
			if info.treeSize != size {
				moved = true
				break
			}
			if slices.ContainsFunc(info.udis, func(u string) bool { return u <= after }) {
				return nil, fmt.Errorf("%w: a page repeats devices of the one before", ErrFalseAnswer)
			}
			if err := merge(all, pg); err != nil {
				return nil, err
			}
		}
		if !moved {
			return all, nil
		}
		if attempt == pageAttempts {
			return nil, fmt.Errorf("the log's index grew between the pages of its answer %d times; try again", attempt)
		}
	}
}

// udisOf lists the UDIs of device refs.
func udisOf(refs []DeviceRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.UDI)
	}
	return out
}

// GetJSON GETs a query answer (a path of the query API, such as
// /v1/devices/{udi}) and decodes it strictly, unproven: Querier proves
// answers.
func (c *LogClient) GetJSON(ctx context.Context, path string, v any) error {
	b, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	return decodeAnswer(b, v)
}

// postJSON POSTs a body and reads a query answer.
func (c *LogClient) postJSON(ctx context.Context, path string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	b, resp, err := c.do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unexpected status %d from the log", resp.StatusCode)
	}
	return decodeAnswer(b, v)
}

// decodeAnswer decodes a query answer strictly.
func decodeAnswer(b []byte, v any) error {
	if err := decodeStrict(b, v); err != nil {
		return fmt.Errorf("%w: it does not decode: %v", ErrFalseAnswer, err)
	}
	return nil
}
