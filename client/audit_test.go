package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
)

// memLog is a log in memory, served as tiles: entry bundles and level-0
// hash tiles, all an audit reads. Blobs holds the SBOM payloads it serves.
type memLog struct {
	leaves [][]byte
	blobs  map[string][]byte
}

const memOrigin = "example.com/audit-test"

// span returns the leaves of bundle or level-0 tile i, partial size p.
func (m *memLog) span(i uint64, p uint8) ([][]byte, error) {
	lo, n := i*layout.EntryBundleWidth, uint64(layout.EntryBundleWidth)
	if p > 0 {
		n = uint64(p)
	}
	if lo+n > uint64(len(m.leaves)) {
		return nil, fs.ErrNotExist
	}
	return m.leaves[lo : lo+n], nil
}

func (m *memLog) tiles() *Tiles {
	return &Tiles{
		EntryBundle: func(_ context.Context, i uint64, p uint8) ([]byte, error) {
			leaves, err := m.span(i, p)
			var b []byte
			for _, l := range leaves {
				b = append(binary.BigEndian.AppendUint16(b, uint16(len(l))), l...)
			}
			return b, err
		},
		Tile: func(_ context.Context, level, i uint64, p uint8) ([]byte, error) {
			if level != 0 {
				return nil, fs.ErrNotExist
			}
			leaves, err := m.span(i, p)
			var b []byte
			for _, l := range leaves {
				b = append(b, rfc6962.DefaultHasher.HashLeaf(l)...)
			}
			return b, err
		},
	}
}

// checkpoint returns the (unsigned) checkpoint of the first size leaves.
func (m *memLog) checkpoint(t testing.TB, size uint64) *flog.Checkpoint {
	t.Helper()
	r := rangeFactory.NewEmptyRange(0)
	for _, l := range m.leaves[:size] {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(l), nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil || size == 0 {
		root = rfc6962.DefaultHasher.EmptyRoot()
	}
	return &flog.Checkpoint{Origin: memOrigin, Size: size, Hash: root}
}

func (m *memLog) blob(_ context.Context, digest string) ([]byte, error) {
	b, ok := m.blobs[digest]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

// mixedLog writes a log of valid and invalid entries of every kind, drawn
// from a seeded generator over a fleet of 24 devices of two manufacturers:
// what a dishonest log might hold. It never refuses anything.
type mixedLog struct {
	t testing.TB
	memLog
	rng                          *rand.Rand
	acme, acme2, other, stranger *PrivateKey
	roots                        *TrustRoots
	devs                         []*mixedDevice
	firmware                     []string
}

type mixedDevice struct {
	key  *PrivateKey
	udi  string
	mfr  *PrivateKey
	seq  uint64
	prev string
}

func newMixedLog(t testing.TB, seed uint64) *mixedLog {
	t.Helper()
	m := &mixedLog{
		t: t, memLog: memLog{blobs: map[string][]byte{}}, rng: rand.New(rand.NewPCG(seed, seed)),
		acme: fxNewKey(t, AlgEd25519), acme2: fxNewKey(t, AlgP256), other: fxNewKey(t, AlgP256), stranger: fxNewKey(t, AlgEd25519),
	}
	roots, err := ParseTrustRoots(fxRootsJSON(t,
		fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{m.acme, m.acme2}},
		fxManufacturer{Name: "Other", Prefixes: []string{otherPrefixFor(t)}, Keys: []*PrivateKey{m.other}},
	))
	if err != nil {
		t.Fatal(err)
	}
	m.roots = roots
	for i := range 24 {
		d := &mixedDevice{key: fxNewKey(t, []string{AlgP256, AlgEd25519}[i%2]), udi: fmt.Sprintf("%s(21)SN-%04d", fxDI, i), mfr: m.acme}
		if i%4 == 3 {
			d.udi, d.mfr = fmt.Sprintf("%s(21)SN-%04d", fxOtherDI, i), m.other
		}
		m.devs = append(m.devs, d)
	}
	for i := range 4 {
		m.firmware = append(m.firmware, sha256Hex(fmt.Appendf(nil, "firmware %d", i)))
	}
	return m
}

func (m *mixedLog) dev() *mixedDevice { return m.devs[m.rng.IntN(len(m.devs))] }

func (m *mixedLog) mfr() *PrivateKey {
	return []*PrivateKey{m.acme, m.acme2, m.other}[m.rng.IntN(3)]
}

// addEnvelope appends the canonical leaf of an envelope (JSON).
func (m *mixedLog) addEnvelope(envJSON []byte) {
	m.t.Helper()
	e := fxParseEntry(m.t, envJSON)
	leaf, err := e.Leaf().Marshal()
	if err != nil {
		m.t.Fatal(err)
	}
	if e.Kind == KindSBOM {
		m.blobs[e.PayloadDigest()] = e.Envelope.Payload
	}
	m.leaves = append(m.leaves, leaf)
}

func (m *mixedLog) attestation(d *mixedDevice) *Attestation {
	p := fxAttestation(d.udi)
	p.Seq, p.Prev = d.seq, d.prev
	p.Firmware.Digest = m.firmware[m.rng.IntN(len(m.firmware))]
	return p
}

// step appends one entry.
func (m *mixedLog) step() {
	t := m.t
	d := m.dev()
	switch op := m.rng.IntN(22); op {
	case 0, 1, 2:
		m.addEnvelope(fxSignedJSON(t, fxEnrollment(t, d.udi, d.key, d.mfr), d.mfr))
	case 3: // the device's key under another UDI
		o := m.dev()
		m.addEnvelope(fxSignedJSON(t, fxEnrollment(t, o.udi, d.key, o.mfr), o.mfr))
	case 4: // by the other manufacturer, or by a stranger
		k := []*PrivateKey{m.acme, m.other, m.stranger}[m.rng.IntN(3)]
		m.addEnvelope(fxSignedJSON(t, fxEnrollment(t, d.udi, d.key, k), k))
	case 5: // tampered signature, or a proof of possession for another UDI
		if m.rng.IntN(2) == 0 {
			m.addEnvelope(fxTamper(t, fxSignedJSON(t, fxEnrollment(t, d.udi, d.key, d.mfr), d.mfr)))
			return
		}
		p := fxEnrollment(t, d.udi, d.key, d.mfr)
		p.ProofOfPossession = fxEnrollment(t, m.dev().udi, d.key, d.mfr).ProofOfPossession
		m.addEnvelope(fxSignedJSON(t, p, d.mfr))
	case 6, 7, 8, 9:
		p := m.attestation(d)
		env := fxSignedJSON(t, p, d.key)
		d.seq, d.prev = d.seq+1, sha256Hex(fxParseEntry(t, env).Envelope.Payload)
		m.addEnvelope(env)
	case 10: // tampered, by a manufacturer, or for another UDI
		switch m.rng.IntN(3) {
		case 0:
			m.addEnvelope(fxTamper(t, fxSignedJSON(t, m.attestation(d), d.key)))
		case 1:
			m.addEnvelope(fxSignedJSON(t, m.attestation(d), d.mfr))
		default:
			m.addEnvelope(fxSignedJSON(t, fxAttestation(m.dev().udi), d.key))
		}
	case 11: // by a key no enrollment names
		m.addEnvelope(fxSignedJSON(t, fxAttestation(d.udi), m.stranger))
	case 12:
		if m.rng.IntN(2) == 0 {
			m.addEnvelope(fxSignedJSON(t, fxRevocation(TargetDeviceKey, d.key.Public().ID()), m.mfr()))
		} else {
			m.addEnvelope(fxSignedJSON(t, fxRevocation(TargetUDI, d.udi), m.mfr()))
		}
	case 13: // a revoked device's tampered attestation: Check says revoked
		m.addEnvelope(fxTamper(t, fxSignedJSON(t, m.attestation(d), d.key)))
	case 14, 15:
		m.addEnvelope(fxSBOMJSON(t, []byte(fxCycloneDX), m.firmware[m.rng.IntN(len(m.firmware))], m.mfr()))
	case 16:
		fw := m.firmware[m.rng.IntN(len(m.firmware))]
		if m.rng.IntN(2) == 0 {
			m.addEnvelope(fxSignedJSON(t, fxRevocation(TargetFirmware, fw), m.mfr()))
		} else {
			m.addEnvelope(fxSignedJSON(t, fxFieldAction(fw), m.mfr()))
		}
	case 17: // garbage, or a valid leaf cut short
		if m.rng.IntN(2) == 0 {
			b := make([]byte, 1+m.rng.IntN(200))
			for i := range b {
				b[i] = byte(m.rng.Uint32())
			}
			m.leaves = append(m.leaves, b)
			return
		}
		m.addEnvelope(fxSignedJSON(t, fxRevocation(TargetUDI, d.udi), d.mfr))
		l := m.leaves[len(m.leaves)-1]
		m.leaves[len(m.leaves)-1] = l[:len(l)-1]
	case 18: // a leaf whose kind is not its entry's
		m.addEnvelope(fxSignedJSON(t, fxRevocation(TargetUDI, d.udi), d.mfr))
		l := bytes.Clone(m.leaves[len(m.leaves)-1])
		l[len(leafMagic)] = byte(KindFieldAction)
		m.leaves[len(m.leaves)-1] = l
	case 19: // a payload that is no statement
		sig, err := d.mfr.Sign([]byte("not a statement"))
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := (&Leaf{Kind: KindRevocation, PayloadType: PayloadTypeInToto, Payload: []byte("not a statement"),
			Signature: Signature{KeyID: d.mfr.Public().ID(), Sig: sig}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m.leaves = append(m.leaves, leaf)
	case 20, 21: // an SBOM whose blob is lost or altered
		m.addEnvelope(fxSBOMJSON(t, []byte(fxCycloneDX), m.firmware[m.rng.IntN(len(m.firmware))], d.mfr))
		l, err := ParseLeaf(m.leaves[len(m.leaves)-1])
		if err != nil {
			t.Fatal(err)
		}
		if op == 20 {
			delete(m.blobs, l.BlobDigest())
		} else {
			m.blobs[l.BlobDigest()] = bytes.ToUpper(m.blobs[l.BlobDigest()])
		}
	}
}

// refusals replays the log the simple way, one entry after another with
// State.Check, and returns the code of each entry the log should have
// refused, by index.
func (m *mixedLog) refusals(size uint64) map[uint64]string {
	st := NewState(m.roots)
	out := map[uint64]string{}
	for i, leaf := range m.leaves[:size] {
		idx := uint64(i)
		l, err := ParseLeaf(leaf)
		if err != nil {
			out[idx] = AnomalyMalformedLeaf
			continue
		}
		var payload []byte
		if l.InBlob() {
			var ok bool
			if payload, ok = m.blobs[l.BlobDigest()]; !ok {
				out[idx] = AnomalyMissingBlob
				continue
			}
		}
		env, err := l.Envelope(payload)
		if err != nil {
			out[idx] = AnomalyBlobMismatch
			continue
		}
		e, err := NewEntry(env)
		if err != nil {
			out[idx] = AnomalyInvalidEntry
			continue
		}
		if canon, _ := e.Leaf().Marshal(); !bytes.Equal(canon, leaf) {
			out[idx] = AnomalyNoncanonicalLeaf
			continue
		}
		err = st.Check(e)
		switch {
		case err == nil:
			st.Apply(idx, e)
		case errors.Is(err, ErrConflict) && e.Kind == KindEnrollment && st.Device(e.DeviceKey().ID()) != nil &&
			st.Device(e.DeviceKey().ID()).UDI.DeviceID() != e.UDI().DeviceID():
			out[idx] = AnomalyKeyTwoUDIs
		case errors.Is(err, ErrUnknownKey):
			out[idx] = AnomalyUnknownKey
		case errors.Is(err, ErrBadSignature):
			out[idx] = AnomalyBadSignature
		case errors.Is(err, ErrNotEnrolled):
			out[idx] = AnomalyNotEnrolled
		case errors.Is(err, ErrRevoked):
			out[idx] = AnomalyRevoked
		case errors.Is(err, ErrUnauthorized):
			out[idx] = AnomalyUnauthorized
		case errors.Is(err, ErrConflict):
			out[idx] = AnomalyConflict
		default:
			m.t.Fatalf("entry %d: Check = %v, which wraps no sentinel", idx, err)
		}
	}
	return out
}

func (m *mixedLog) config(t testing.TB) AuditConfig {
	t.Helper()
	return AuditConfig{Tiles: m.tiles(), Blob: m.blob, Roots: m.roots, Dir: t.TempDir(), Workers: 3}
}

func refusedIn(r *AuditReport) map[uint64]string {
	out := map[uint64]string{}
	for _, a := range r.Anomalies {
		if a.ShouldHaveBeenRefused() {
			out[a.Index] = a.Code
		}
	}
	return out
}

// TestAuditMatchesCheck: the audit, which verifies signatures in parallel
// and authority in order, refuses exactly what State.Check, entry after
// entry, refuses, with the same error, over a log with entries of every
// kind and every fault, several entry bundles long.
func TestAuditMatchesCheck(t *testing.T) {
	m := newMixedLog(t, 1)
	for range 700 {
		m.step()
	}
	size := uint64(len(m.leaves))
	want := m.refusals(size)
	seen := map[string]bool{}
	for _, c := range want {
		seen[c] = true
	}
	for _, c := range []string{AnomalyMalformedLeaf, AnomalyMissingBlob, AnomalyBlobMismatch, AnomalyInvalidEntry, AnomalyNoncanonicalLeaf,
		AnomalyUnknownKey, AnomalyBadSignature, AnomalyNotEnrolled, AnomalyRevoked, AnomalyUnauthorized, AnomalyConflict, AnomalyKeyTwoUDIs} {
		if !seen[c] {
			t.Errorf("the generated log has no %s entry: the test does not cover it", c)
		}
	}
	if len(want) == int(size) || len(want) < int(size)/10 {
		t.Fatalf("%d of %d entries refused: the log is not mixed", len(want), size)
	}

	cfg := m.config(t)
	r, err := Audit(context.Background(), cfg, m.checkpoint(t, size))
	if err != nil {
		t.Fatalf("Audit = %v", err)
	}
	if diff := cmp.Diff(want, refusedIn(r)); diff != "" {
		t.Errorf("audit refusals differ from State.Check's (-check +audit):\n%s", diff)
	}
	if r.Entries != size || r.New != size {
		t.Errorf("Entries, New = %d, %d; want %d, %d", r.Entries, r.New, size, size)
	}

	// Interrupted after the first entry bundle, then resumed; and in two
	// steps, with a checkpoint of the first 300 entries first: the same
	// anomalies, the same persisted state.
	resumed := m.config(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resumed.Progress = func(AuditProgress) { cancel() }
	if _, err := Audit(ctx, resumed, m.checkpoint(t, size)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Audit = %v, want context.Canceled", err)
	}
	resumed.Progress = nil
	r2, err := Audit(context.Background(), resumed, m.checkpoint(t, size))
	if err != nil {
		t.Fatalf("resumed Audit = %v", err)
	}
	if r2.New == 0 || r2.New >= size {
		t.Errorf("resumed audit read %d entries of %d: it did not continue where the first stopped", r2.New, size)
	}
	steps := m.config(t)
	if _, err := Audit(context.Background(), steps, m.checkpoint(t, 300)); err != nil {
		t.Fatalf("Audit(300) = %v", err)
	}
	r3, err := Audit(context.Background(), steps, m.checkpoint(t, size))
	if err != nil {
		t.Fatalf("Audit(%d) after Audit(300) = %v", size, err)
	}
	if r3.New != size-300 {
		t.Errorf("second step read %d entries, want %d", r3.New, size-300)
	}
	whole := readState(t, cfg.Dir)
	for name, other := range map[string]AuditConfig{"resumed": resumed, "in two steps": steps} {
		if diff := cmp.Diff(whole, readState(t, other.Dir)); diff != "" {
			t.Errorf("the audit %s persisted another state (-whole +%s):\n%s", name, name, diff)
		}
	}
	if diff := cmp.Diff(r.Anomalies, r2.Anomalies); diff != "" {
		t.Errorf("resumed audit anomalies differ (-whole +resumed):\n%s", diff)
	}
}

func readState(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, auditFile))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAuditRefusesDir: a Dir holds the audit of one log, under one set of
// trust roots, up to a size no checkpoint may go below.
func TestAuditRefusesDir(t *testing.T) {
	m := newMixedLog(t, 2)
	for range 40 {
		m.step()
	}
	cfg := m.config(t)
	if _, err := Audit(context.Background(), cfg, m.checkpoint(t, 40)); err != nil {
		t.Fatalf("Audit = %v", err)
	}
	otherLog := m.checkpoint(t, 40)
	otherLog.Origin = "example.com/another-log"
	otherRoots := cfg
	otherRoots.Roots = newMixedLog(t, 2).roots
	forked := m.checkpoint(t, 40)
	forked.Hash = m.checkpoint(t, 39).Hash
	for _, tc := range []struct {
		name string
		cfg  AuditConfig
		cp   *flog.Checkpoint
		want string
		is   error
	}{
		{"another log", cfg, otherLog, "not of", nil},
		{"other trust roots", otherRoots, m.checkpoint(t, 40), "other trust roots", nil},
		{"an older checkpoint", cfg, m.checkpoint(t, 30), "smaller size 30", nil},
		{"another root at the audited size", cfg, forked, "", ErrRootMismatch},
	} {
		_, err := Audit(context.Background(), tc.cfg, tc.cp)
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: Audit = %v, want an error saying %q (%v)", tc.name, err, tc.want, tc.is)
		}
	}
	if r, err := Audit(context.Background(), cfg, m.checkpoint(t, 40)); err != nil || r.New != 0 {
		t.Errorf("Audit again = %v, %v; want nothing new and no error", r, err)
	}
}

// TestAuditBadData: garbage where entry bundles should be stops the audit
// with an error naming the file; a lost blob source too.
func TestAuditBadData(t *testing.T) {
	m := newMixedLog(t, 3)
	for range 300 {
		m.step()
	}
	good := m.tiles()
	cp := m.checkpoint(t, 300)
	for _, tc := range []struct {
		name   string
		tiles  func(*Tiles)
		blob   bool
		path   string
		index  uint64
		is     error
		substr string
	}{
		{"a bundle that does not parse", func(tl *Tiles) {
			tl.EntryBundle = func(ctx context.Context, i uint64, p uint8) ([]byte, error) {
				b, err := good.EntryBundle(ctx, i, p)
				return append(b, 0xff), err
			}
		}, true, "tile/entries/000", 0, ErrRootMismatch, ""},
		{"a bundle cut short", func(tl *Tiles) {
			tl.EntryBundle = func(ctx context.Context, i uint64, p uint8) ([]byte, error) {
				if i == 1 {
					return good.EntryBundle(ctx, i, p-1)
				}
				return good.EntryBundle(ctx, i, p)
			}
		}, true, "tile/entries/001.p/44", 299, ErrRootMismatch, ""},
		{"a hash tile of the wrong length", func(tl *Tiles) {
			tl.Tile = func(ctx context.Context, l, i uint64, p uint8) ([]byte, error) {
				b, err := good.Tile(ctx, l, i, p)
				if i == 1 {
					b = b[:len(b)-1]
				}
				return b, err
			}
		}, true, "tile/0/001.p/44", 256, ErrBadTiles, ""},
		{"no blob source", nil, false, "", 0, nil, "no Blob source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := *good
			if tc.tiles != nil {
				tc.tiles(&tl)
			}
			cfg := m.config(t)
			cfg.Tiles = &tl
			if !tc.blob {
				cfg.Blob = nil
			}
			_, err := Audit(context.Background(), cfg, cp)
			var te *TileError
			switch {
			case tc.path == "":
				if err == nil || !strings.Contains(err.Error(), tc.substr) {
					t.Errorf("Audit = %v, want an error saying %q", err, tc.substr)
				}
			case !errors.As(err, &te) || te.Path != tc.path || te.Index != tc.index || !errors.Is(err, tc.is):
				t.Errorf("Audit = %v, want a TileError at %s, entry %d, wrapping %v", err, tc.path, tc.index, tc.is)
			}
		})
	}
}

// TestAuditLocksDir: an audit holds the lock of its Dir while it runs, so a
// second audit of the same Dir waits for it.
func TestAuditLocksDir(t *testing.T) {
	m := newMixedLog(t, 4)
	for range 40 {
		m.step()
	}
	cfg := m.config(t)
	var locked []error
	cfg.Progress = func(AuditProgress) {
		f, err := os.Open(filepath.Join(cfg.Dir, "LOCK"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		locked = append(locked, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	}
	if _, err := Audit(context.Background(), cfg, m.checkpoint(t, 40)); err != nil {
		t.Fatalf("Audit = %v", err)
	}
	if len(locked) == 0 {
		t.Fatal("Progress was never called")
	}
	for _, err := range locked {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Errorf("flock of the Dir's LOCK during the audit = %v, want EWOULDBLOCK", err)
		}
	}
}

// TestVerifySignatures: the signature half of Check, which CheckAuthority
// leaves out.
func TestVerifySignatures(t *testing.T) {
	f := newStateFixture(t)
	enr := fxParseEntry(t, f.enroll(fxUDI, f.dev1, f.acme))
	badPoP := fxEnrollment(t, fxUDI, f.dev1, f.acme)
	badPoP.ProofOfPossession = fxEnrollment(t, fxUDI2, f.dev1, f.acme).ProofOfPossession
	tampered := fxParseEntry(t, fxTamper(t, f.enroll(fxUDI, f.dev1, f.acme)))
	for _, tc := range []struct {
		name string
		e    *Entry
		key  *PublicKey
		want error
	}{
		{"valid", enr, f.acme.Public(), nil},
		{"another key than the signature names", enr, f.acme2.Public(), ErrBadSignature},
		{"tampered signature", tampered, f.acme.Public(), ErrBadSignature},
		{"proof of possession for another UDI", fxParseEntry(t, fxSignedJSON(t, badPoP, f.acme)), f.acme.Public(), ErrBadSignature},
	} {
		if err := VerifySignatures(tc.e, tc.key); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: VerifySignatures = %v, want %v", tc.name, err, tc.want)
		}
	}
	// CheckAuthority takes the signatures as verified; Check does not.
	if err := f.st.CheckAuthority(tampered); err != nil {
		t.Errorf("CheckAuthority(tampered) = %v, want nil", err)
	}
	if err := f.st.Check(tampered); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Check(tampered) = %v, want %v", err, ErrBadSignature)
	}
}
