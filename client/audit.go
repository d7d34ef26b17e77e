package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
)

// ErrRootMismatch is wrapped when the log's entries do not hash to the root
// of the checkpoint being audited: an entry bundle is corrupt, or the
// checkpoint does not extend the history an earlier run audited.
var ErrRootMismatch = errors.New("the log's entries do not hash to the checkpoint's root")

// TileError locates a wrong file of the log's tile tree. Its Err wraps
// ErrRootMismatch when an entry bundle is wrong (it does not parse, or its
// entries do not hash to the checkpoint's root), ErrBadTiles when a level-0
// hash tile is (its hashes disagree with entries that hash to the root).
type TileError struct {
	// Path is the file's C2SP tlog-tiles path: tile/entries/<N>[.p/<W>]
	// for an entry bundle, tile/0/<N>[.p/<W>] for a hash tile.
	Path string
	// Index is the log index of the first entry at which it is wrong.
	Index uint64
	Err   error
}

// Error names the file, the entry and what is wrong.
func (e *TileError) Error() string { return fmt.Sprintf("%s, entry %d: %v", e.Path, e.Index, e.Err) }

// Unwrap returns Err.
func (e *TileError) Unwrap() error { return e.Err }

// Anomaly codes. The set is fixed; tools may switch on it.
//
// An entry the log should have refused, because it fails a check the log
// makes before it accepts a submission, gets one of:
const (
	AnomalyMalformedLeaf    = "malformed_leaf"    // the leaf is not a vigil leaf (ParseLeaf)
	AnomalyMissingBlob      = "missing_blob"      // the log commits to a blob it does not hold
	AnomalyBlobMismatch     = "blob_mismatch"     // the blob does not have the leaf's digest and size
	AnomalyInvalidEntry     = "invalid_entry"     // the envelope, statement or predicate fails NewEntry
	AnomalyNoncanonicalLeaf = "noncanonical_leaf" // the leaf is not the canonical leaf of its entry
	AnomalyUnknownKey       = "unknown_key"       // ErrUnknownKey
	AnomalyBadSignature     = "bad_signature"     // ErrBadSignature
	AnomalyNotEnrolled      = "not_enrolled"      // ErrNotEnrolled
	AnomalyRevoked          = "revoked"           // ErrRevoked
	AnomalyUnauthorized     = "unauthorized"      // ErrUnauthorized
	AnomalyConflict         = "conflict"          // ErrConflict, but for AnomalyKeyTwoUDIs
	AnomalyKeyTwoUDIs       = "key_two_udis"      // an enrollment binds a device key already bound to another UDI
)

// An attestation the log rightly accepted (chain problems are evidence to
// record, not grounds to refuse) gets one of:
const (
	AnomalyChainGap        = "chain_gap"        // seq skips ahead of the device's chain
	AnomalyChainBreak      = "chain_break"      // prev is not the digest of the device's previous attestation
	AnomalyChainFork       = "chain_fork"       // seq does not move past the chain's head: a cloned device or a forked history
	AnomalyRevokedFirmware = "revoked_firmware" // reports a firmware build revoked before it
	AnomalyUnknownFirmware = "unknown_firmware" // reports a firmware build no accepted SBOM before it describes
)

// refusalCodes maps State.Check's errors to anomaly codes.
var refusalCodes = []struct {
	err  error
	code string
}{
	{ErrUnknownKey, AnomalyUnknownKey},
	{ErrBadSignature, AnomalyBadSignature},
	{ErrNotEnrolled, AnomalyNotEnrolled},
	{ErrRevoked, AnomalyRevoked},
	{ErrUnauthorized, AnomalyUnauthorized},
	{ErrConflict, AnomalyConflict},
}

// Anomaly is one finding of an audit, about the entry at Index.
type Anomaly struct {
	Code  string `json:"code"`
	Index uint64 `json:"index"`
	// Kind is the entry's kind, when its leaf decodes.
	Kind string `json:"kind,omitempty"`
	// Other is the index of the related entry: the chain head a fork or
	// break departs from, the earlier enrollment of the key (key_two_udis),
	// the firmware's revocation (revoked_firmware).
	Other *uint64 `json:"other,omitempty"`
	// UDI is the entry's UDI; OtherUDI the UDI the key is already bound to
	// (key_two_udis).
	UDI      string `json:"udi,omitempty"`
	OtherUDI string `json:"otherUdi,omitempty"`
	// DeviceKey is the ID of the device key the entry enrolls or signs with.
	DeviceKey string `json:"deviceKey,omitempty"`
	// ExpectedSeq and Seq are, for a chain gap or fork, the sequence number
	// the chain expected next and the one the attestation carries.
	ExpectedSeq *uint64 `json:"expectedSeq,omitempty"`
	Seq         *uint64 `json:"seq,omitempty"`
	// Firmware is the firmware digest a firmware anomaly is about.
	Firmware string `json:"firmware,omitempty"`
	// Detail says what is wrong, for people.
	Detail string `json:"detail"`
}

// ShouldHaveBeenRefused reports whether the anomaly is one the log should
// have refused the entry for, rather than evidence it rightly recorded.
func (a *Anomaly) ShouldHaveBeenRefused() bool {
	switch a.Code {
	case AnomalyChainGap, AnomalyChainBreak, AnomalyChainFork, AnomalyRevokedFirmware, AnomalyUnknownFirmware:
		return false
	}
	return true
}

// AuditConfig configures an audit.
type AuditConfig struct {
	// Tiles reads the log. Required: Tiles.EntryBundle and Tiles.Tile.
	Tiles *Tiles
	// Blob returns the payload an SBOM leaf commits to, by its lowercase
	// hex SHA-256; the audit checks the digest. An error wrapping
	// fs.ErrNotExist means the log does not hold it (an anomaly); any other
	// error stops the audit. Required if the log has SBOM entries.
	Blob func(ctx context.Context, hexDigest string) ([]byte, error)
	// Roots are the trust roots the log's entries are judged under.
	// Required. A Dir audited under other roots is refused.
	Roots *TrustRoots
	// Dir holds the audit's state, so a later run continues where this one
	// stops (see Audit). Created if missing. Required unless Store is set.
	Dir string
	// Store, if set, holds the audit's state instead of Dir: a log
	// server's database, say, shared by its frontends.
	Store AuditStore
	// Workers bounds concurrent fetches, parsing and signature checks.
	// Default 2 * runtime.NumCPU().
	Workers int
	// Progress, if set, is called from the goroutine running Audit at most
	// ten times a second while entries are read, and once when all are.
	Progress func(AuditProgress)
	// Index, if set, receives a Fact for every entry, in log order, and is
	// kept in step with the audit's state (see Indexer). Optional.
	Index Indexer
	// SkipSignatures takes every entry's signatures as verified and checks
	// only authority. It is for a log server folding the entries it
	// admitted itself, which verified them then; an independent audit
	// never sets it.
	SkipSignatures bool
}

// AuditProgress is a snapshot of a running audit.
type AuditProgress struct {
	// Done is the number of entries audited, by earlier runs too; Before
	// how many of those earlier runs did; Total the checkpoint's size.
	Done, Before, Total uint64
	// Bytes counts the entry bundles, hash tiles and blobs read in this run.
	Bytes uint64
	// Elapsed is the time since this run started.
	Elapsed time.Duration
}

// AuditReport is the outcome of an audit.
type AuditReport struct {
	// Origin, Size and Root are those of the audited checkpoint.
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Entries is the number of entries audited, by earlier runs in the same
	// Dir too (it equals Size); New how many this run read.
	Entries uint64 `json:"entries"`
	New     uint64 `json:"new"`
	// Devices is the number of enrolled devices; FirmwareBuilds the number
	// of firmware builds with an SBOM.
	Devices        int `json:"devices"`
	FirmwareBuilds int `json:"firmwareBuilds"`
	// Anomalies are all the anomalies found in the Dir, by earlier runs
	// too, sorted by index.
	Anomalies []Anomaly `json:"anomalies"`

	index *auditIndex
}

// DeviceRecord is what an audit's local index holds about a device.
type DeviceRecord struct {
	UDI          string `json:"udi"`
	KeyID        string `json:"keyId"`
	Manufacturer string `json:"manufacturer"`
	// Enrollment is the index of the device's enrollment.
	Enrollment uint64 `json:"enrollment"`
	// Revoked is the index of the first revocation of its key or UDI.
	Revoked *uint64 `json:"revoked,omitempty"`
	// Attestations counts the device's accepted attestations; the other
	// fields describe the head of its chain, if it has one: its index, seq
	// and firmware digest.
	Attestations uint64  `json:"attestations"`
	Latest       *uint64 `json:"latest,omitempty"`
	Seq          uint64  `json:"seq"`
	Firmware     string  `json:"firmware,omitempty"`
}

// FirmwareRecord is what an audit's local index holds about a firmware build.
type FirmwareRecord struct {
	Digest       string `json:"digest"`
	Manufacturer string `json:"manufacturer"`
	// SBOM is the index of the first SBOM of the build.
	SBOM uint64 `json:"sbom"`
	// Revoked is the index of the build's revocation.
	Revoked *uint64 `json:"revoked,omitempty"`
}

// Device returns the local index's record of the device with the given UDI.
// Only a report Audit returned has the index.
func (r *AuditReport) Device(udi string) (DeviceRecord, bool) {
	u, err := ParseUDI(udi)
	if err != nil || r.index == nil {
		return DeviceRecord{}, false
	}
	d := r.index.state.DeviceByUDI(u)
	if d == nil {
		return DeviceRecord{}, false
	}
	rec := DeviceRecord{UDI: d.UDI.String(), KeyID: d.Key.ID(), Manufacturer: d.Manufacturer, Enrollment: d.Enrollment}
	if rev, ok := r.index.state.deviceRevocation(d); ok {
		rec.Revoked = &rev
	}
	if h := r.index.chains[d.Key.ID()]; h != nil {
		idx := h.Index
		rec.Attestations, rec.Latest, rec.Seq, rec.Firmware = h.Count, &idx, h.Seq, h.Firmware
	}
	return rec, true
}

// Firmware returns the local index's record of the firmware build with the
// given image digest; only builds with an SBOM have one. Only a report Audit
// returned has the index.
func (r *AuditReport) Firmware(digest string) (FirmwareRecord, bool) {
	if r.index == nil {
		return FirmwareRecord{}, false
	}
	sbom, ok := r.index.sboms[digest]
	if !ok {
		return FirmwareRecord{}, false
	}
	rec := FirmwareRecord{Digest: digest, Manufacturer: r.index.state.firmwareOwner(digest), SBOM: sbom}
	if rev, ok := r.index.state.firmwareRevocation(digest); ok {
		rec.Revoked = &rev
	}
	return rec, true
}

// WriteText writes the report for people.
func (r *AuditReport) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "audit of %s\n", r.Origin)
	fmt.Fprintf(&b, "checkpoint: size %d, root %s\n", r.Size, base64.StdEncoding.EncodeToString(r.Root))
	fmt.Fprintf(&b, "entries: %d audited, %d read in this run; the entries hash to the root\n", r.Entries, r.New)
	fmt.Fprintf(&b, "devices: %d; firmware builds with an SBOM: %d\n", r.Devices, r.FirmwareBuilds)
	if len(r.Anomalies) == 0 {
		b.WriteString("anomalies: none\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	refused := 0
	for i := range r.Anomalies {
		if r.Anomalies[i].ShouldHaveBeenRefused() {
			refused++
		}
	}
	fmt.Fprintf(&b, "anomalies: %d (%d entries the log should have refused)\n", len(r.Anomalies), refused)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tCODE\tUDI\tDETAIL")
	for _, a := range r.Anomalies {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", a.Index, a.Code, a.UDI, a.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Audit replays the log up to cp, a checkpoint the caller has verified
// (the log's signature, its witness policy, consistency with the caller's
// trusted state), as the regulator's independent check of the whole log:
//
//   - It reads every entry bundle and recomputes the tree's root; the
//     entries must hash to cp's root, else the error wraps ErrRootMismatch.
//     It compares the level-0 hash tiles with the entries' hashes, so a
//     wrong entry bundle or hash tile is named as a *TileError.
//   - It re-checks every entry as the log should have: leaf, blob,
//     envelope, statement, predicate (NewEntry), then the signatures and
//     the signer's authority (State.Check) against the state folded from
//     the entries accepted before it. An entry that fails is an anomaly the
//     log should have refused, and is not folded.
//   - It follows each device's attestation chain: seq 0 first with no
//     prev, then each seq one more than the last, with prev the hex SHA-256
//     of the last one's DSSE payload. A higher seq is a gap, a wrong prev a
//     break, a seq not above the head's a fork; the chain goes on from a gap
//     or break, and stays on its head after a fork. The same payload twice
//     is no anomaly. Attestations reporting a revoked firmware build, or one
//     no SBOM before them describes, are anomalies too.
//
// Signatures are verified in parallel (VerifySignatures) and authority in
// log order (State.CheckAuthority), so an audit is bound by the machine's
// signature-verification rate.
//
// Dir, or Store, keeps the audit's state: the audited size, the compact range of the
// audited tree, the authority state, each device's chain head, the firmware
// builds' SBOMs and the anomalies. A run continues from it: after an
// interruption it goes on where the last one stopped, and with a larger
// checkpoint it reads only the new entries, the compact range proving that
// cp extends the history audited before. Dir's state is for one log (its
// origin) under one set of trust roots; another is refused, as is a cp
// smaller than what Dir has audited. Two audits of one Dir do not run at
// once: the second waits for the first.
//
// The state is kept in two JSON documents of one format: audit.json for a
// history whose root matched a checkpoint, and progress.json for a run's
// entries read since, whose root is not yet checked, written when at least
// 4,096 entries and 5 s have passed since the last write, and when a run
// stops early. Both are replaced atomically (in Dir: temporary file, fsync,
// rename, fsync of Dir):
//
//	{
//	  "version": 1,
//	  "origin": "example.com/log",
//	  "trustRoots": "<hex SHA-256 of TrustRoots.Marshal>",
//	  "size": 4096,                         // entries audited
//	  "range": ["<base64 hash>", ...],      // compact range of [0, size)
//	  "state": {                            // the authority state (State)
//	    "devices": [{"udi": "...", "key": "<base64 DER>", "manufacturer": "Acme", "enrollment": 3}],
//	    "revokedKeys": {"<key ID>": 17}, "revokedDevices": {"<UDI device ID>": 18},
//	    "revokedFirmware": {"<digest>": 19}, "firmware": {"<digest>": "Acme"}
//	  },
//	  "chains": {"<device key ID>": {"seq": 2, "digest": "<payload SHA-256>", "index": 40, "firmware": "<digest>", "count": 3}},
//	  "sboms": {"<firmware digest>": 5},    // index of each build's first SBOM
//	  "anomalies": [{"code": "chain_gap", "index": 41, ...}],
//	  "tileMismatch": {"bundle": "tile/entries/000", "tile": "tile/0/000", "index": 7}  // progress only
//	}
//
// A failure of the log's data (ErrRootMismatch, ErrBadTiles) discards the
// progress, so the next run reads again from audit.json; any other error
// keeps it. The report holds every anomaly Dir has recorded.
func Audit(ctx context.Context, cfg AuditConfig, cp *flog.Checkpoint) (*AuditReport, error) {
	switch {
	case cfg.Tiles == nil || cfg.Tiles.EntryBundle == nil || cfg.Tiles.Tile == nil:
		return nil, errors.New("audit: Tiles with EntryBundle and Tile is required")
	case cfg.Roots == nil:
		return nil, errors.New("audit: Roots is required")
	case cfg.Dir == "" && cfg.Store == nil:
		return nil, errors.New("audit: Dir or Store is required")
	case cp == nil:
		return nil, errors.New("audit: a checkpoint is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2 * runtime.NumCPU()
	}
	if cfg.Store == nil {
		cfg.Store = dirStore(cfg.Dir)
	}
	unlock, err := cfg.Store.Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer unlock()
	a, err := openAudit(ctx, cfg, cp)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	start := a.rng.End()
	a.resumed = start
	err = a.run(ctx, cp)
	if err == nil {
		a.progress(cp.Size, true)
		err = a.checkRoot(cp)
	}
	if err != nil {
		if errors.Is(err, ErrRootMismatch) || errors.Is(err, ErrBadTiles) {
			if rerr := a.discardProgress(ctx); rerr != nil {
				return nil, fmt.Errorf("audit: %w (and discarding the progress: %v)", err, rerr)
			}
		} else if a.rng.End() > a.saved {
			if serr := a.save(ctx, progressFile); serr != nil {
				return nil, fmt.Errorf("audit: %w (and saving the progress: %v)", err, serr)
			}
		}
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := a.commit(ctx); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return a.report(cp, start), nil
}

// AuditStore keeps an audit's state: a few named documents, each replaced
// whole. Audit keeps them in a directory unless AuditConfig.Store is set.
type AuditStore interface {
	// Lock holds the store for one audit until unlock is called. A store
	// another audit holds makes it wait (a directory) or fail (a shared
	// index's store fails for a process that does not hold its lease).
	Lock(ctx context.Context) (unlock func(), err error)
	// Read returns the named document, or nil if there is none.
	Read(ctx context.Context, name string) ([]byte, error)
	// Write replaces the named document with b, durably and atomically: a
	// crash leaves the old or the new, whole.
	Write(ctx context.Context, name string, b []byte) error
	// Remove removes the named document, if there is one.
	Remove(ctx context.Context, name string) error
	// String names the store in errors.
	String() string
}

// dirStore keeps an audit's documents as files of a directory.
type dirStore string

func (d dirStore) Lock(context.Context) (func(), error) { return lockDir(string(d)) }

func (d dirStore) Read(_ context.Context, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(string(d), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (d dirStore) Write(_ context.Context, name string, b []byte) error {
	return WriteFileAtomic(filepath.Join(string(d), name), b, 0o600)
}

func (d dirStore) Remove(_ context.Context, name string) error {
	if err := os.Remove(filepath.Join(string(d), name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d dirStore) String() string { return string(d) }

// The documents of an audit's state.
const (
	auditFile    = "audit.json"
	progressFile = "progress.json"
	auditVersion = 1
)

// Persisting progress costs a write of the whole state, so it is done only
// after persistEvery entries and persistInterval both.
const (
	persistEvery    = 4096
	persistInterval = 5 * time.Second
	progressEvery   = 100 * time.Millisecond
)

// chunk is how many entries one worker takes at a time.
const chunk = 16

// auditState is the persisted state of an audit (see Audit).
type auditState struct {
	Version    int                   `json:"version"`
	Origin     string                `json:"origin"`
	TrustRoots string                `json:"trustRoots"`
	Size       uint64                `json:"size"`
	Range      [][]byte              `json:"range"`
	State      *stateSnapshot        `json:"state"`
	Chains     map[string]*chainHead `json:"chains"`
	SBOMs      map[string]uint64     `json:"sboms"`
	Anomalies  []Anomaly             `json:"anomalies"`
	Mismatch   *tileMismatch         `json:"tileMismatch,omitempty"`
}

// chainHead is the last attestation of a device's chain.
type chainHead struct {
	Seq      uint64 `json:"seq"`
	Digest   string `json:"digest"` // hex SHA-256 of its DSSE payload
	Index    uint64 `json:"index"`
	Firmware string `json:"firmware"`
	Count    uint64 `json:"count"` // the device's accepted attestations
}

// tileMismatch is the first entry whose hash disagrees with its level-0
// hash tile. Which of the two files is wrong is known only once the root is
// checked.
type tileMismatch struct {
	Bundle string `json:"bundle"`
	Tile   string `json:"tile"`
	Index  uint64 `json:"index"`
}

// auditIndex is the auditor's local index: the authority state, the chain
// heads and the SBOMs.
type auditIndex struct {
	state  *State
	chains map[string]*chainHead // by device key ID
	sboms  map[string]uint64     // firmware digest -> index of its first SBOM
}

// auditor is one run of an audit. Its fields are touched only by the
// goroutine running Audit, but for keys and bytes, which the workers share.
type auditor struct {
	cfg       AuditConfig
	origin    string
	rootsID   string
	rng       *compact.Range
	anomalies []Anomaly
	mismatch  *tileMismatch
	auditIndex

	sem   chan struct{}
	keys  sync.Map // device key ID -> *PublicKey, from every enrollment read
	bytes atomic.Uint64
	wg    sync.WaitGroup

	started      time.Time
	resumed      uint64 // entries audited before this run
	lastProgress time.Time
	saved        uint64 // size last persisted
	verified     uint64 // size of the state persisted as verified (audit.json)
	facts        []Fact // the current batch's, for the Index
	savedAt      time.Time
}

// openAudit loads Dir's state, or starts an empty one. Dir exists: Audit
// has locked it.
func openAudit(ctx context.Context, cfg AuditConfig, cp *flog.Checkpoint) (*auditor, error) {
	roots, err := cfg.Roots.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding trust roots: %w", err)
	}
	a := &auditor{
		cfg:        cfg,
		origin:     cp.Origin,
		rootsID:    sha256Hex(roots),
		rng:        rangeFactory.NewEmptyRange(0),
		sem:        make(chan struct{}, cfg.Workers),
		auditIndex: auditIndex{state: NewState(cfg.Roots), chains: map[string]*chainHead{}, sboms: map[string]uint64{}},
		started:    time.Now(),
		savedAt:    time.Now(),
	}
	verified, err := a.read(ctx, auditFile, cp)
	if err != nil {
		return nil, err
	}
	progress, err := a.read(ctx, progressFile, cp)
	if err != nil {
		return nil, err
	}
	st := verified
	if progress != nil && (verified == nil || progress.Size > verified.Size) {
		st = progress
	}
	if verified != nil {
		a.verified = verified.Size
	}
	if cfg.Index != nil {
		if st, err = a.alignIndex(ctx, st); err != nil {
			return nil, err
		}
	}
	if st == nil {
		return a, nil
	}
	if st.Size > cp.Size {
		return nil, fmt.Errorf("%s has audited %d entries of %s; the checkpoint given is of the smaller size %d: pass the latest checkpoint", cfg.Store, st.Size, cp.Origin, cp.Size)
	}
	if a.rng, err = rangeFactory.NewRange(0, st.Size, st.Range); err != nil {
		return nil, fmt.Errorf("reading audit state: compact range: %w", err)
	}
	if st.State == nil {
		return nil, errors.New("reading audit state: no authority state")
	}
	if a.state, err = restoreState(cfg.Roots, st.State); err != nil {
		return nil, fmt.Errorf("reading audit state: %w", err)
	}
	for id, h := range st.Chains {
		if h == nil {
			return nil, errors.New("reading audit state: empty chain head")
		}
		a.chains[id] = h
	}
	maps.Copy(a.sboms, st.SBOMs)
	a.anomalies, a.mismatch, a.saved = st.Anomalies, st.Mismatch, st.Size
	for _, k := range a.state.deviceKeys() {
		a.keys.Store(k.ID(), k)
	}
	return a, nil
}

// alignIndex brings the index and the state to resume from, st, to one
// size: an index ahead of st (a crash between their commits) is truncated;
// one behind it (missing, say) makes the audit start again, returning nil.
func (a *auditor) alignIndex(ctx context.Context, st *auditState) (*auditState, error) {
	n, err := a.cfg.Index.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the index's size: %w", err)
	}
	size := uint64(0)
	if st != nil {
		size = st.Size
	}
	switch {
	case n < size:
		a.verified = 0
		return nil, nil
	case n > size:
		if err := a.cfg.Index.Truncate(ctx, size); err != nil {
			return nil, fmt.Errorf("truncating the index to %d entries: %w", size, err)
		}
	}
	return st, nil
}

// read reads one of Dir's state files, or returns nil if there is none. A
// file for another log or other trust roots is refused.
func (a *auditor) read(ctx context.Context, name string, cp *flog.Checkpoint) (*auditState, error) {
	b, err := a.cfg.Store.Read(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading audit state: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	var st auditState
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&st); err != nil {
		return nil, fmt.Errorf("reading audit state %s: %w", name, err)
	}
	switch {
	case st.Version != auditVersion:
		return nil, fmt.Errorf("%s holds audit state of version %d; this is version %d", a.cfg.Store, st.Version, auditVersion)
	case st.Origin != cp.Origin:
		return nil, fmt.Errorf("%s holds the audit of log %q, not of %q: use another directory", a.cfg.Store, st.Origin, cp.Origin)
	case st.TrustRoots != a.rootsID:
		return nil, fmt.Errorf("%s holds an audit made under other trust roots: use another directory", a.cfg.Store)
	}
	return &st, nil
}

// save writes the state atomically to one of Dir's files, after committing
// the index to the same size.
func (a *auditor) save(ctx context.Context, name string) error {
	if a.cfg.Index != nil {
		if err := a.cfg.Index.Commit(ctx, a.rng.End()); err != nil {
			return fmt.Errorf("committing the index: %w", err)
		}
	}
	st := auditState{
		Version: auditVersion, Origin: a.origin, TrustRoots: a.rootsID,
		Size: a.rng.End(), Range: a.rng.Hashes(), State: a.state.snapshot(),
		Chains: a.chains, SBOMs: a.sboms, Anomalies: a.anomalies,
	}
	if name == progressFile {
		st.Mismatch = a.mismatch
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding audit state: %w", err)
	}
	if err := a.cfg.Store.Write(ctx, name, b); err != nil {
		return fmt.Errorf("writing audit state: %w", err)
	}
	a.saved, a.savedAt = st.Size, time.Now()
	return nil
}

// commit records the audit as verified: its entries hash to a checkpoint's
// root.
func (a *auditor) commit(ctx context.Context) error {
	if err := a.save(ctx, auditFile); err != nil {
		return err
	}
	a.verified = a.rng.End()
	return a.discardProgress(ctx)
}

// discardProgress removes the unverified progress, if any, and the index's
// facts beyond the verified state.
func (a *auditor) discardProgress(ctx context.Context) error {
	if err := a.cfg.Store.Remove(ctx, progressFile); err != nil {
		return fmt.Errorf("removing %s: %w", progressFile, err)
	}
	if a.cfg.Index != nil {
		if err := a.cfg.Index.Truncate(ctx, a.verified); err != nil {
			return fmt.Errorf("truncating the index to the verified %d entries: %w", a.verified, err)
		}
	}
	return nil
}

// checkRoot checks the audited entries against cp's root, and tells which
// file is wrong where an entry and its hash tile disagree.
func (a *auditor) checkRoot(cp *flog.Checkpoint) error {
	root := rfc6962.DefaultHasher.EmptyRoot()
	if a.rng.End() > 0 {
		var err error
		if root, err = a.rng.GetRootHash(nil); err != nil {
			return fmt.Errorf("computing the root: %w", err)
		}
	}
	m := a.mismatch
	switch {
	case !bytes.Equal(root, cp.Hash) && m != nil:
		return &TileError{Path: m.Bundle, Index: m.Index, Err: fmt.Errorf("%w: the entry does not hash to its node in %s", ErrRootMismatch, m.Tile)}
	case !bytes.Equal(root, cp.Hash):
		return fmt.Errorf("%w: the %d entries hash to %s, the checkpoint's root is %s", ErrRootMismatch, a.rng.End(),
			base64.StdEncoding.EncodeToString(root), base64.StdEncoding.EncodeToString(cp.Hash))
	case m != nil:
		return &TileError{Path: m.Tile, Index: m.Index, Err: fmt.Errorf("%w: the hash tile's node is not the hash of the entry in %s, whose entries hash to the checkpoint's root", ErrBadTiles, m.Bundle)}
	}
	return nil
}

// report returns the report of the audit, which must be over.
func (a *auditor) report(cp *flog.Checkpoint, start uint64) *AuditReport {
	an := append(make([]Anomaly, 0, len(a.anomalies)), a.anomalies...)
	slices.SortStableFunc(an, func(x, y Anomaly) int { return cmp.Compare(x.Index, y.Index) })
	return &AuditReport{
		Origin: cp.Origin, Size: cp.Size, Root: cp.Hash,
		Entries: a.rng.End(), New: a.rng.End() - start,
		Devices: a.state.deviceCount(), FirmwareBuilds: len(a.sboms),
		Anomalies: an, index: &a.auditIndex,
	}
}

// batch is one entry bundle's share of an audit on its way through the
// pipeline: read (in order), parsed and hashed (in parallel), its
// enrollments' device keys collected (in order), its signatures verified (in
// parallel), and its entries judged and folded (in order).
type batch struct {
	first    uint64 // log index of its first entry
	items    []item
	mismatch *tileMismatch
	parsed   chan struct{} // closed once items, mismatch and err are set
	verified chan struct{} // closed once the items' signatures are verified

	mu  sync.Mutex
	err error // a failure to read the log, which stops the audit
}

func (b *batch) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// item is one entry of a batch.
type item struct {
	hash    []byte   // the leaf hash
	entry   *Entry   // the decoded entry, unless anomaly is set
	anomaly *Anomaly // why the entry fails before its signer's authority is judged
	digest  string   // an attestation's payload digest
	signed  bool     // VerifySignatures passed, with the key the signer's ID names
}

// run reads and judges the entries from where the audit stands to cp.Size.
// It stops between two entry bundles when ctx ends.
func (a *auditor) run(ctx context.Context, cp *flog.Checkpoint) error {
	if a.rng.End() == cp.Size {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer a.wg.Wait()
	defer cancel()
	depth := max(2, a.cfg.Workers/16)
	parsed := make(chan *batch, depth)
	ready := make(chan *batch, depth)
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		defer close(parsed)
		a.readBundles(ctx, cp, parsed)
	}()
	go func() {
		defer a.wg.Done()
		defer close(ready)
		a.collectKeys(ctx, parsed, ready)
	}()
	for b := range ready {
		if err := ctx.Err(); err != nil {
			return err
		}
		<-b.verified
		if b.err != nil {
			return b.err
		}
		if err := a.applyBatch(ctx, b); err != nil {
			return err
		}
		if a.rng.End()-a.saved >= persistEvery && time.Since(a.savedAt) >= persistInterval {
			if err := a.save(ctx, progressFile); err != nil {
				return err
			}
		}
		a.progress(cp.Size, false)
	}
	if err := ctx.Err(); err != nil && a.rng.End() < cp.Size {
		return err
	}
	return nil
}

// readBundles reads the entry bundles in order, concurrently, and starts
// parsing each.
func (a *auditor) readBundles(ctx context.Context, cp *flog.Checkpoint, out chan<- *batch) {
	size := func(context.Context) (uint64, error) { return cp.Size, nil }
	from := a.rng.End()
	for eb, err := range tclient.EntryBundles(ctx, uint(a.cfg.Workers), size, a.cfg.Tiles.EntryBundle, from, cp.Size-from) {
		ri := eb.RangeInfo
		b := &batch{first: ri.Index*layout.EntryBundleWidth + uint64(ri.First), parsed: make(chan struct{}), verified: make(chan struct{})}
		if err != nil {
			b.err = fmt.Errorf("reading entry bundle %s: %w", layout.EntriesPath(ri.Index, ri.Partial), err)
			close(b.parsed)
		} else {
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				defer close(b.parsed)
				a.prepare(ctx, b, eb)
			}()
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
	}
}

// prepare parses an entry bundle, hashes and decodes its entries, and
// compares their hashes with the level-0 hash tile.
func (a *auditor) prepare(ctx context.Context, b *batch, eb tclient.Bundle) {
	ri := eb.RangeInfo
	a.bytes.Add(uint64(len(eb.Data)))
	bundlePath := layout.EntriesPath(ri.Index, ri.Partial)
	var bundle api.EntryBundle
	if err := bundle.UnmarshalText(eb.Data); err != nil {
		b.fail(&TileError{Path: bundlePath, Index: b.first, Err: fmt.Errorf("%w: the entry bundle does not parse: %v", ErrRootMismatch, err)})
		return
	}
	if n := uint(len(bundle.Entries)); n < ri.First+ri.N {
		b.fail(&TileError{Path: bundlePath, Index: max(b.first, ri.Index*layout.EntryBundleWidth+uint64(n)),
			Err: fmt.Errorf("%w: the entry bundle holds %d entries, the checkpoint %d", ErrRootMismatch, n, ri.First+ri.N)})
		return
	}
	leaves := bundle.Entries[ri.First : ri.First+ri.N]
	b.items = make([]item, len(leaves))
	var (
		tile    []byte
		tileErr error
		fetched = make(chan struct{})
	)
	go func() {
		defer close(fetched)
		tile, tileErr = a.cfg.Tiles.Tile(ctx, 0, ri.Index, ri.Partial)
	}()
	a.parallel(len(leaves), func(i int) {
		if err := a.parse(ctx, b.first+uint64(i), leaves[i], &b.items[i]); err != nil {
			b.fail(err)
		}
	})
	<-fetched
	tilePath := layout.TilePath(0, ri.Index, ri.Partial)
	if tileErr != nil {
		b.fail(fmt.Errorf("reading hash tile %s: %w", tilePath, tileErr))
		return
	}
	a.bytes.Add(uint64(len(tile)))
	var t api.HashTile
	tileOK := t.UnmarshalText(tile) == nil
	for i := range b.items {
		k := int(ri.First) + i
		if !tileOK || k >= len(t.Nodes) || !bytes.Equal(t.Nodes[k], b.items[i].hash) {
			b.mismatch = &tileMismatch{Bundle: bundlePath, Tile: tilePath, Index: b.first + uint64(i)}
			return
		}
	}
}

// parse hashes and decodes one entry. An entry the log should have refused
// gets an anomaly; the error is a failure to read a blob.
func (a *auditor) parse(ctx context.Context, idx uint64, leaf []byte, it *item) error {
	it.hash = rfc6962.DefaultHasher.HashLeaf(leaf)
	l, err := ParseLeaf(leaf)
	if err != nil {
		it.anomaly = &Anomaly{Code: AnomalyMalformedLeaf, Index: idx, Detail: err.Error()}
		return nil
	}
	refuse := func(code, detail string) {
		it.anomaly = &Anomaly{Code: code, Index: idx, Kind: l.Kind.String(), Detail: detail}
	}
	var payload []byte
	if l.InBlob() {
		if a.cfg.Blob == nil {
			return fmt.Errorf("entry %d is stored as a blob and the audit has no Blob source", idx)
		}
		payload, err = a.cfg.Blob(ctx, l.BlobDigest())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			refuse(AnomalyMissingBlob, "the log does not hold blob sha256:"+l.BlobDigest())
			return nil
		case err != nil:
			return fmt.Errorf("reading blob sha256:%s of entry %d: %w", l.BlobDigest(), idx, err)
		}
		a.bytes.Add(uint64(len(payload)))
	}
	env, err := l.Envelope(payload)
	if err != nil {
		refuse(AnomalyBlobMismatch, err.Error())
		return nil
	}
	e, err := NewEntry(env)
	if err != nil {
		refuse(AnomalyInvalidEntry, err.Error())
		return nil
	}
	if canon, err := e.Leaf().Marshal(); err != nil || !bytes.Equal(canon, leaf) {
		an := newAnomaly(AnomalyNoncanonicalLeaf, idx, e, "the leaf is not the canonical leaf of its entry")
		it.anomaly = &an
		return nil
	}
	it.entry = e
	if e.Kind == KindAttestation {
		it.digest = e.PayloadDigest()
	}
	return nil
}

// collectKeys learns, in log order, the device keys the batches' enrollments
// name, and starts verifying each batch's signatures once the keys of every
// enrollment before it are known. A key ID is the key's SHA-256, so a key
// learned from any enrollment, even one refused, is the key its ID names.
func (a *auditor) collectKeys(ctx context.Context, in <-chan *batch, out chan<- *batch) {
	for b := range in {
		if ctx.Err() != nil {
			return
		}
		<-b.parsed
		if b.err != nil {
			close(b.verified)
		} else {
			for i := range b.items {
				if e := b.items[i].entry; e != nil && e.Kind == KindEnrollment {
					a.keys.LoadOrStore(e.deviceKey.ID(), e.deviceKey)
				}
			}
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				defer close(b.verified)
				a.parallel(len(b.items), func(i int) { a.verify(&b.items[i]) })
			}()
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
	}
}

// verify verifies an entry's signatures with the key its key ID names, if
// that is a trust-root key or a device key some enrollment names. Without
// one the signer has no authority, which Check will find.
func (a *auditor) verify(it *item) {
	e := it.entry
	if e == nil {
		return
	}
	id := e.SignerKeyID()
	var k *PublicKey
	if m := a.cfg.Roots.ManufacturerOf(id); m != nil {
		k = m.key(id)
	} else if dk, ok := a.keys.Load(id); ok {
		k = dk.(*PublicKey)
	}
	it.signed = a.cfg.SkipSignatures || k != nil && VerifySignatures(e, k) == nil
}

// parallel calls fn for each of [0, n) on the audit's workers, chunk at a
// time, and returns once every call has.
func (a *auditor) parallel(n int, fn func(int)) {
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.sem <- struct{}{}
			defer func() { <-a.sem }()
			for i := lo; i < min(lo+chunk, n); i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// applyBatch judges and folds a batch's entries in log order, and gives
// their facts to the Index.
func (a *auditor) applyBatch(ctx context.Context, b *batch) error {
	if a.mismatch == nil {
		a.mismatch = b.mismatch
	}
	a.facts = a.facts[:0]
	for i := range b.items {
		it := &b.items[i]
		if err := a.rng.Append(it.hash, nil); err != nil {
			return fmt.Errorf("extending the compact range: %w", err)
		}
		idx, before := b.first+uint64(i), len(a.anomalies)
		f := a.apply(idx, it)
		if a.cfg.Index != nil {
			f.Index, f.Anomalies = idx, slices.Clone(a.anomalies[before:])
			a.facts = append(a.facts, f)
		}
	}
	if a.cfg.Index != nil {
		if err := a.cfg.Index.Add(ctx, a.facts); err != nil {
			return fmt.Errorf("indexing entries from %d: %w", b.first, err)
		}
	}
	return nil
}

// apply judges one entry as the log should have, against the entries it
// accepted before, and folds it in if it passes. It returns the entry's
// Fact but for its index and anomalies.
func (a *auditor) apply(idx uint64, it *item) Fact {
	if it.anomaly != nil {
		a.anomalies = append(a.anomalies, *it.anomaly)
		return Fact{Entry: it.entry}
	}
	e := it.entry
	var err error
	if it.signed {
		err = a.state.CheckAuthority(e)
	} else {
		// Check gives the error the log would have: an authority failure
		// it meets before the signature, or the signature's. It fails
		// fast on a signer with no key.
		err = a.state.Check(e)
	}
	if err != nil {
		a.refused(idx, e, err)
		return Fact{Entry: e}
	}
	a.state.Apply(idx, e)
	f := Fact{Entry: e, Accepted: true}
	switch e.Kind {
	case KindSBOM:
		if _, ok := a.sboms[e.FirmwareDigest()]; !ok {
			a.sboms[e.FirmwareDigest()] = idx
		}
	case KindAttestation:
		f.Head = a.attested(idx, e, it.digest)
		f.Manufacturer = a.state.Device(e.SignerKeyID()).Manufacturer
		return f
	}
	if m := a.cfg.Roots.ManufacturerOf(e.SignerKeyID()); m != nil {
		f.Manufacturer = m.Name
	}
	return f
}

// refused records an entry the log should have refused.
func (a *auditor) refused(idx uint64, e *Entry, err error) {
	code := AnomalyInvalidEntry
	for _, c := range refusalCodes {
		if errors.Is(err, c.err) {
			code = c.code
			break
		}
	}
	an := newAnomaly(code, idx, e, err.Error())
	if e.Kind == KindEnrollment && errors.Is(err, ErrConflict) {
		if d := a.state.Device(e.deviceKey.ID()); d != nil && d.UDI.DeviceID() != e.udi.DeviceID() {
			other := d.Enrollment
			an.Code, an.Other, an.OtherUDI = AnomalyKeyTwoUDIs, &other, d.UDI.String()
			an.Detail = fmt.Sprintf("the device key is already enrolled for %s (entry %d)", d.UDI, d.Enrollment)
		}
	}
	a.anomalies = append(a.anomalies, an)
}

// attested follows a device's attestation chain and checks the firmware an
// accepted attestation reports. It reports whether the attestation became
// the head of its device's chain.
func (a *auditor) attested(idx uint64, e *Entry, digest string) (head bool) {
	at, keyID := e.Attestation, e.SignerKeyID()
	h := a.chains[keyID]
	count := uint64(1)
	if h != nil {
		h.Count++
		count = h.Count
	}
	switch {
	case h != nil && digest == h.Digest:
		// The head's statement again, signed anew: the same attestation.
	case h != nil && at.Seq <= h.Seq:
		an := a.chainAnomaly(AnomalyChainFork, idx, e, h, fmt.Sprintf("seq %d while the chain is at seq %d (entry %d): a second device signs with this key, or the device forked its history", at.Seq, h.Seq, h.Index))
		a.anomalies = append(a.anomalies, an)
	default:
		next := uint64(0)
		if h != nil {
			next = h.Seq + 1
		}
		switch {
		case at.Seq > next:
			a.anomalies = append(a.anomalies, a.chainAnomaly(AnomalyChainGap, idx, e, h, fmt.Sprintf("seq %d where the chain expects %d: %d attestations missing", at.Seq, next, at.Seq-next)))
		case h != nil && at.Prev != h.Digest:
			a.anomalies = append(a.anomalies, a.chainAnomaly(AnomalyChainBreak, idx, e, h, fmt.Sprintf("prev does not name the previous attestation (entry %d)", h.Index)))
		}
		a.chains[keyID] = &chainHead{Seq: at.Seq, Digest: digest, Index: idx, Firmware: at.Firmware.Digest, Count: count}
		head = true
	}
	fw := at.Firmware.Digest
	if rev, ok := a.state.firmwareRevocation(fw); ok {
		an := newAnomaly(AnomalyRevokedFirmware, idx, e, fmt.Sprintf("reports firmware %s, revoked at entry %d", at.Firmware.Version, rev))
		an.Other, an.Firmware = &rev, fw
		a.anomalies = append(a.anomalies, an)
	} else if _, ok := a.sboms[fw]; !ok {
		an := newAnomaly(AnomalyUnknownFirmware, idx, e, fmt.Sprintf("reports firmware %s, which no SBOM before it describes", at.Firmware.Version))
		an.Firmware = fw
		a.anomalies = append(a.anomalies, an)
	}
	return head
}

// chainAnomaly describes a chain anomaly of the attestation e against the
// chain's head h (nil for a device's first attestation).
func (a *auditor) chainAnomaly(code string, idx uint64, e *Entry, h *chainHead, detail string) Anomaly {
	an := newAnomaly(code, idx, e, detail)
	got := e.Attestation.Seq
	an.Seq = &got
	if h == nil {
		var first uint64
		an.ExpectedSeq = &first
		return an
	}
	other, want := h.Index, h.Seq+1
	an.Other, an.ExpectedSeq = &other, &want
	return an
}

// newAnomaly describes an anomaly of a decoded entry.
func newAnomaly(code string, idx uint64, e *Entry, detail string) Anomaly {
	an := Anomaly{Code: code, Index: idx, Kind: e.Kind.String(), Detail: detail}
	if e.udi.Issuer != "" {
		an.UDI = e.udi.String()
	}
	switch e.Kind {
	case KindEnrollment:
		an.DeviceKey = e.deviceKey.ID()
	case KindAttestation:
		an.DeviceKey = e.SignerKeyID()
	}
	return an
}

// progress calls the Progress hook, at most every progressEvery unless final.
func (a *auditor) progress(total uint64, final bool) {
	if a.cfg.Progress == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(a.lastProgress) < progressEvery {
		return
	}
	a.lastProgress = now
	a.cfg.Progress(AuditProgress{Done: a.rng.End(), Before: a.resumed, Total: total, Bytes: a.bytes.Load(), Elapsed: now.Sub(a.started)})
}
