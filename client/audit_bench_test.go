package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	// Tessera's fsck is the baseline BenchmarkAudit measures the audit
	// against. Only this test file imports it: client itself depends on
	// Tessera's client and api packages alone (TestDependencyDirection
	// checks the non-test imports).
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

// BenchmarkAudit measures issue 4's figures side by side, over the same log
// in memory (auditBenchLog: 21,008 entries) and in the same run:
//
//	audit_entries/s   Audit, a regulator's full replay, into a fresh Dir
//	fsck_entries/s    Tessera's fsck: entry bundles hashed to the root, every
//	                  hash tile recomputed and compared, the checkpoint's
//	                  signature checked
//	sigs/s            the log's signatures (each entry's, and each
//	                  enrollment's proof of possession) verified on
//	                  runtime.NumCPU() workers: the machine's limit
//	sigs_1core/s      the same on one core, for context
//	audit/fsck        audit_entries/s over fsck_entries/s
//	audit/siglimit    audit_entries/s over the entries/s that verifying the
//	                  log's signatures alone allows on every core (its time
//	                  to verify them over the audit's time)
//
// Audit and fsck run with the same workers (Audit's default, 2 *
// runtime.NumCPU()). Each iteration measures all four; each metric is the
// entries or signatures of all iterations over the time of all, and the
// ratios are of the same run. Run it with -count N and read the medians with
// benchstat (make bench does). The offline verification of one bundle is
// BenchmarkBundleVerify's.
func BenchmarkAudit(b *testing.B) {
	l := getAuditBenchLog(b)
	ctx := context.Background()
	// fsck logs each check through klog, to stderr, which would split the
	// benchmark's output lines.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	b.Cleanup(func() { klog.LogToStderr(true) })
	workers := 2 * runtime.NumCPU()

	var tAudit, tFsck, tSigs, tSigs1 time.Duration
	n := 0
	for b.Loop() {
		n++
		cfg := AuditConfig{Tiles: l.tiles, Blob: l.blob, Roots: l.roots, Dir: b.TempDir(), Workers: workers}
		runtime.GC()
		start := time.Now()
		r, err := Audit(ctx, cfg, l.cp)
		tAudit += time.Since(start)
		if err != nil {
			b.Fatalf("Audit = %v", err)
		}
		if r.New != l.cp.Size || len(r.Anomalies) != 0 {
			b.Fatalf("Audit read %d entries of %d and found %d anomalies; want all and none", r.New, l.cp.Size, len(r.Anomalies))
		}

		f := fsck.New(memOrigin, l.verifier, tilesFetcher{l.tiles}, hashBundle, fsck.Opts{N: uint(workers)})
		runtime.GC()
		start = time.Now()
		err = f.Check(ctx)
		tFsck += time.Since(start)
		if err != nil {
			b.Fatalf("fsck = %v", err)
		}

		runtime.GC()
		tSigs += l.verifySigs(b, runtime.NumCPU())
		runtime.GC()
		tSigs1 += l.verifySigs(b, 1)
	}
	entries, sigs := float64(n)*float64(l.cp.Size), float64(n)*float64(len(l.sigs))
	b.ReportMetric(entries/tAudit.Seconds(), "audit_entries/s")
	b.ReportMetric(entries/tFsck.Seconds(), "fsck_entries/s")
	b.ReportMetric(sigs/tSigs.Seconds(), "sigs/s")
	b.ReportMetric(sigs/tSigs1.Seconds(), "sigs_1core/s")
	b.ReportMetric(tFsck.Seconds()/tAudit.Seconds(), "audit/fsck")
	b.ReportMetric(tSigs.Seconds()/tAudit.Seconds(), "audit/siglimit")
	b.ReportMetric(0, "ns/op") // of all four measurements together: meaningless
}

// auditBenchLog is a clean log of a fleet as a manufacturer's would be:
// 1,000 devices with P-256 keys (as in secure elements) of two
// manufacturers with Ed25519 keys; 8 SBOMs of the manufacturers' firmware
// builds, then each device's enrollment and 20 chained attestations,
// interleaved across the fleet. It is served from memory as a tile tree:
// entry bundles and hash tiles of every level, and a signed checkpoint.
type auditBenchLog struct {
	memLog
	roots    *TrustRoots
	tiles    *Tiles
	cp       *flog.Checkpoint
	verifier note.Verifier
	// sigs are the log's signatures, as Audit verifies them.
	sigs []sigJob
}

type sigJob struct {
	key      *PublicKey
	msg, sig []byte
}

const (
	benchDevices      = 1000
	benchAttestations = 20 // per device
	benchBuilds       = 4  // firmware builds per manufacturer
)

// auditBench holds the log once built: a run of BenchmarkAudit builds it
// once, whatever -count.
var auditBench struct {
	sync.Mutex
	l *auditBenchLog
}

func getAuditBenchLog(b *testing.B) *auditBenchLog {
	b.Helper()
	auditBench.Lock()
	defer auditBench.Unlock()
	if auditBench.l == nil {
		auditBench.l = newAuditBenchLog(b)
	}
	return auditBench.l
}

func newAuditBenchLog(b *testing.B) *auditBenchLog {
	b.Helper()
	type mfr struct {
		key      *PrivateKey
		di       string
		firmware []string
	}
	mfrs := []*mfr{{key: fxNewKey(b, AlgEd25519), di: fxDI}, {key: fxNewKey(b, AlgEd25519), di: fxOtherDI}}
	roots, err := ParseTrustRoots(fxRootsJSON(b,
		fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{mfrs[0].key}},
		fxManufacturer{Name: "Other", Prefixes: []string{otherPrefixFor(b)}, Keys: []*PrivateKey{mfrs[1].key}},
	))
	if err != nil {
		b.Fatal(err)
	}
	l := &auditBenchLog{memLog: memLog{blobs: map[string][]byte{}}, roots: roots}
	keys := map[string]*PublicKey{}
	add := func(env []byte) *Entry {
		e := fxParseEntry(b, env)
		leaf, err := e.Leaf().Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if e.Kind == KindSBOM {
			l.blobs[e.PayloadDigest()] = e.Envelope.Payload
		}
		l.leaves = append(l.leaves, leaf)
		l.sigs = append(l.sigs, sigJob{keys[e.SignerKeyID()], e.Envelope.PAE(), e.Envelope.Signatures[0].Sig})
		if e.Kind == KindEnrollment {
			pop, err := base64.StdEncoding.DecodeString(e.Enrollment.ProofOfPossession)
			if err != nil {
				b.Fatal(err)
			}
			l.sigs = append(l.sigs, sigJob{e.DeviceKey(), PossessionMessage(e.Enrollment.UDI, e.SignerKeyID()), pop})
		}
		return e
	}

	doc := fxSBOMDocument(b)
	for i, m := range mfrs {
		keys[m.key.Public().ID()] = m.key.Public()
		for j := range benchBuilds {
			fw := sha256Hex(fmt.Appendf(nil, "manufacturer %d firmware build %d", i, j))
			m.firmware = append(m.firmware, fw)
			add(fxSBOMJSON(b, doc, fw, m.key))
		}
	}

	type device struct {
		key      *PrivateKey
		udi      string
		mfr      *mfr
		enrolled bool
		seq      uint64
		prev     string
	}
	rng := mrand.New(mrand.NewPCG(4, 4))
	var todo []*device
	for i := range benchDevices {
		m := mfrs[i%4/3] // three in four devices are Acme's
		d := &device{key: fxNewKey(b, AlgP256), udi: fmt.Sprintf("%s(21)SN-%06d", m.di, i), mfr: m}
		keys[d.key.Public().ID()] = d.key.Public()
		todo = append(todo, d)
	}
	for len(todo) > 0 {
		i := rng.IntN(len(todo))
		d := todo[i]
		if !d.enrolled {
			add(fxSignedJSON(b, fxEnrollment(b, d.udi, d.key, d.mfr.key), d.mfr.key))
			d.enrolled = true
			continue
		}
		p := fxAttestation(d.udi)
		p.Seq, p.Prev, p.Time = d.seq, d.prev, fxTime.Add(time.Duration(d.seq)*time.Hour)
		build := int(d.seq) * benchBuilds / benchAttestations // updated in the field over time
		p.Firmware = Firmware{Version: fmt.Sprintf("4.2.%d", build), Digest: d.mfr.firmware[build]}
		e := add(fxSignedJSON(b, p, d.key))
		d.seq, d.prev = d.seq+1, sha256Hex(e.Envelope.Payload)
		if d.seq == benchAttestations {
			todo[i] = todo[len(todo)-1]
			todo = todo[:len(todo)-1]
		}
	}

	size := uint64(len(l.leaves))
	tiles, root := hashTiles(b, l.leaves)
	bundles := map[tileKey][]byte{}
	mt := l.memLog.tiles()
	for i := uint64(0); i*layout.EntryBundleWidth < size; i++ {
		p := uint8(min(size-i*layout.EntryBundleWidth, layout.EntryBundleWidth)) // 256 is 0: full
		bb, err := mt.EntryBundle(context.Background(), i, p)
		if err != nil {
			b.Fatal(err)
		}
		bundles[tileKey{0, i, p}] = bb
	}

	skey, vkey, err := note.GenerateKey(rand.Reader, memOrigin)
	if err != nil {
		b.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	if l.verifier, err = note.NewVerifier(vkey); err != nil {
		b.Fatal(err)
	}
	l.cp = &flog.Checkpoint{Origin: memOrigin, Size: size, Hash: root}
	signed, err := note.Sign(&note.Note{Text: string(l.cp.Marshal())}, signer)
	if err != nil {
		b.Fatal(err)
	}
	l.tiles = &Tiles{
		Checkpoint: func(context.Context) ([]byte, error) { return signed, nil },
		Tile: func(_ context.Context, level, i uint64, p uint8) ([]byte, error) {
			return lookupTile(tiles, tileKey{level, i, p})
		},
		EntryBundle: func(_ context.Context, i uint64, p uint8) ([]byte, error) {
			return lookupTile(bundles, tileKey{0, i, p})
		},
	}
	return l
}

type tileKey struct {
	level, index uint64
	p            uint8
}

// lookupTile returns the tile at k, or the full tile if k is a partial one
// the map does not hold, as a tile server does.
func lookupTile(m map[tileKey][]byte, k tileKey) ([]byte, error) {
	if t, ok := m[k]; ok {
		return t, nil
	}
	if t, ok := m[tileKey{k.level, k.index, 0}]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("tile %d/%d.p/%d: %w", k.level, k.index, k.p, fs.ErrNotExist)
}

// hashTiles returns the hash tiles of every level of the tree of leaves,
// keyed by their C2SP tlog-tiles coordinates, and the tree's root.
func hashTiles(b *testing.B, leaves [][]byte) (map[tileKey][]byte, []byte) {
	b.Helper()
	nodes := map[[2]uint64][][]byte{}
	r := rangeFactory.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) {
		if id.Level%layout.TileHeight == 0 {
			k := [2]uint64{uint64(id.Level / layout.TileHeight), id.Index / layout.EntryBundleWidth}
			nodes[k] = append(nodes[k], h)
		}
	}
	for _, leaf := range leaves {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(leaf), visit); err != nil {
			b.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		b.Fatal(err)
	}
	tiles := map[tileKey][]byte{}
	for k, hs := range nodes {
		tiles[tileKey{k[0], k[1], uint8(len(hs))}] = bytes.Join(hs, nil) // 256 is 0: full
	}
	return tiles, root
}

// verifySigs verifies the log's signatures on the given number of workers
// and returns the time it took.
func (l *auditBenchLog) verifySigs(b *testing.B, workers int) time.Duration {
	b.Helper()
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(l.sigs) {
					return
				}
				if j := l.sigs[i]; !j.key.Verify(j.msg, j.sig) {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if bad.Load() != 0 {
		b.Fatalf("%d signatures did not verify", bad.Load())
	}
	return el
}

// tilesFetcher is a Tiles as the fetcher fsck takes.
type tilesFetcher struct{ t *Tiles }

func (f tilesFetcher) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	return f.t.Checkpoint(ctx)
}

func (f tilesFetcher) ReadTile(ctx context.Context, l, i uint64, p uint8) ([]byte, error) {
	return f.t.Tile(ctx, l, i, p)
}

func (f tilesFetcher) ReadEntryBundle(ctx context.Context, i uint64, p uint8) ([]byte, error) {
	return f.t.EntryBundle(ctx, i, p)
}

// hashBundle is the bundle hasher of Tessera's fsck command: the RFC 6962
// leaf hash of each entry of the bundle.
func hashBundle(bundle []byte) ([][]byte, error) {
	var eb api.EntryBundle
	if err := eb.UnmarshalText(bundle); err != nil {
		return nil, err
	}
	hs := make([][]byte, len(eb.Entries))
	for i, e := range eb.Entries {
		hs[i] = rfc6962.DefaultHasher.HashLeaf(e)
	}
	return hs, nil
}
