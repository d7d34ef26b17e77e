package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"github.com/vigil-log/vigil/witness"
	"golang.org/x/mod/sumdb/note"
)

var crashSeed = flag.Uint64("crash-seed", 0, "seed of TestCrashConsistency's kill schedule and clients; 0 picks one from the clock")

// The shape of TestCrashConsistency.
const (
	crashKills   = 40                     // SIGKILLs, each followed by a restart
	crashMinUp   = 50 * time.Millisecond  // shortest life of an incarnation
	crashMaxUp   = 400 * time.Millisecond // longest
	crashBudget  = 30 * time.Second       // no kill starts after this much streaming
	crashTail    = 500 * time.Millisecond // streaming to the last incarnation
	crashShared  = 512                    // entries the fork shares with the honest history
	crashSize    = 1 << 16                // entries of each history
	crashSeedSz  = 8                      // the first checkpoint, cosigned before the stream
	crashHonest  = 3                      // clients growing the honest history
	crashForkers = 3                      // clients trying to get the fork cosigned
	crashMaxReqs = 1 << 20                // bound on each client's requests
)

// TestCrashConsistency is the crash test of issue 3: kill -9 of the witness
// at random moments during a stream of add-checkpoint requests, restart,
// and no two inconsistent checkpoints are ever cosigned.
//
// One log has two histories signed by its key: the honest one, a real Merkle
// tree that clients grow with correct consistency proofs, and a fork that
// shares its first crashShared entries and then diverges. Other clients try
// to get the fork cosigned: the fork's checkpoint at the size the witness
// holds (a fork, 422), growth along the fork from that size (a proof that
// does not verify, 422), and growth along the fork from a shared-prefix size
// the witness cosigned before but has since passed (409, unless the witness
// forgot that it passed it). Meanwhile the test goroutine SIGKILLs the
// witness every crashMinUp to crashMaxUp and restarts it on the same state
// directory and port; between the two it reads the stored checkpoint.
//
// Every 200 answer is kept with the checkpoint it was for and the number of
// kills begun when it was read. At the end:
//
//   - each answer is one cosignature line that verifies, with the witness's
//     cosignature/v1 key, over the checkpoint it was for;
//   - every two cosigned checkpoints, the stored ones and the one served at
//     the end included, are consistent: the smaller's root is the root of
//     the larger's tree at the smaller size (both trees are known);
//   - none is a checkpoint of the fork alone: the test only offers the fork
//     in ways a witness that keeps its state must refuse;
//   - the checkpoint stored after each kill is at least as large as every
//     cosignature read before the kill began: what left was durable;
//   - a cosignature with a later timestamp never covers a smaller tree
//     (tlog-cosignature: the timestamp dates the largest tree seen);
//   - after the last restart, GET /<origin hash>/checkpoint serves a
//     checkpoint at least as large as every cosigned one.
//
// Rerun a failure's schedule with -crash-seed; the interleavings with the
// process differ from run to run anyway.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: crash test: builds and kills the binary for about 15 s")
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -crash-seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()

	keyFile, _, cosigner := writeWitnessKey(t, dir, "witness.crash.test/w1")

	// The log: one key, two histories.
	lg := newCrashLog(t, "crash.example/log")
	logsFile := filepath.Join(dir, "logs.txt")
	if err := os.WriteFile(logsFile, []byte("logs/v0\nvkey "+lg.vkey+"\nqpd 86400\ncontact crash@example\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(dir, "state")
	srv := e2e.StartWitness(t, keyFile, logsFile, state)
	run := &crashRun{
		url:    srv.URL + "/add-checkpoint",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: crashHonest + crashForkers}, Timeout: 10 * time.Second},
		log:    lg,
		codes:  map[string]int{},
	}
	defer run.client.CloseIdleConnections()

	// The first checkpoint, on trust, before anything else: from then on a
	// fork request from size 0 is stale.
	seedBody, _ := lg.request(lg.honest, 0, crashSeedSz)
	if code, resp, err := run.post(seedBody); err != nil || code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %q, %v", code, resp, err)
	}
	run.maxSeen.Store(crashSeedSz)
	run.prefix = []uint64{crashSeedSz}

	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	// Runs before the harness stops the witness, also if a restart fails.
	t.Cleanup(halt)
	for i := range crashHonest {
		crng := rand.New(rand.NewPCG(seed, uint64(1+i)))
		wg.Go(func() { run.honestClient(fmt.Sprintf("honest%d", i), crng, stop) })
	}
	for i := range crashForkers {
		crng := rand.New(rand.NewPCG(seed, uint64(1+crashHonest+i)))
		wg.Go(func() { run.forkClient(fmt.Sprintf("fork%d", i), crng, stop) })
	}

	// The killer. stored[k] is what the state directory held after kill k+1.
	var stored []crashCheckpoint
	cpFile := filepath.Join(state, "checkpoints", crashOriginHash(lg.origin))
	start := time.Now()
	for k := 1; k <= crashKills && time.Since(start) < crashBudget; k++ {
		time.Sleep(crashMinUp + time.Duration(rng.Int64N(int64(crashMaxUp-crashMinUp))))
		run.kills.Store(int64(k))
		srv.Kill()
		b, err := os.ReadFile(cpFile)
		if err != nil {
			t.Fatalf("after kill %d: %v", k, err)
		}
		c, err := openCrashCheckpoint(b, lg, cosigner)
		if err != nil {
			t.Fatalf("after kill %d, the stored checkpoint %q: %v", k, b, err)
		}
		c.source = fmt.Sprintf("stored after kill %d", k)
		stored = append(stored, c)
		srv.Start()
	}
	time.Sleep(crashTail)
	halt()
	streamed := time.Since(start)
	if len(stored) == 0 {
		t.Fatal("no kill happened")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := srv.Get(ctx, "/"+crashOriginHash(lg.origin)+"/checkpoint")
	if err != nil {
		t.Fatalf("GET checkpoint after the last restart: %v", err)
	}
	final, err := openCrashCheckpoint(b, lg, cosigner)
	if err != nil {
		t.Fatalf("GET checkpoint after the last restart = %q: %v", b, err)
	}
	final.source = "served after the last restart"

	run.mu.Lock()
	defer run.mu.Unlock()
	t.Logf("%d kills in %v; answers: %v; %d cosignatures; largest stored after a kill %d, served at the end %d",
		len(stored), streamed.Round(time.Millisecond), run.codes, len(run.cosigs), slices.MaxFunc(stored, bySize).size, final.size)
	for _, e := range run.errs {
		t.Error(e)
	}
	if len(run.cosigs) < 100 || run.codes["fork 422"] == 0 || run.codes["fork 409"] == 0 {
		t.Errorf("too little happened to test anything: %d cosignatures, answers %v", len(run.cosigs), run.codes)
	}

	// Each answer verifies over the checkpoint it was for. The checks
	// after this one look at the answers that do.
	all := []crashCheckpoint{final}
	all = append(all, stored...)
	bad := 0
	for _, c := range run.cosigs {
		ts, err := verifyCrashAnswer(c, cosigner)
		if err != nil {
			if bad++; bad <= 5 {
				t.Errorf("%s: %v", c.source, err)
			}
			continue
		}
		c.time = ts
		all = append(all, c)
	}
	if bad > 5 {
		t.Errorf("... %d bad answers in all", bad)
	}

	// Every two cosigned checkpoints are consistent. A checkpoint is
	// consistent with a larger one if its root is the root of the larger's
	// tree at its size; the test knows both trees, so it knows for each
	// checkpoint which histories it lies on (up to crashShared, both).
	type point struct {
		size     uint64
		onHonest bool
		onFork   bool
		source   string
	}
	distinct := map[string]*point{}
	forked := 0
	for _, c := range all {
		key := fmt.Sprintf("%d %x", c.size, c.root)
		if distinct[key] != nil {
			continue
		}
		p := &point{size: c.size, source: c.source}
		p.onHonest = c.size <= crashSize && bytes.Equal(c.root, lg.honest.HashAt(c.size))
		p.onFork = c.size <= crashSize && bytes.Equal(c.root, lg.fork.HashAt(c.size))
		if !p.onHonest && !p.onFork {
			t.Errorf("%s: size %d with a root of neither history", c.source, c.size)
		}
		if !p.onHonest {
			if forked++; forked <= 5 {
				t.Errorf("%s: the fork's checkpoint of size %d was cosigned", c.source, c.size)
			}
		}
		distinct[key] = p
	}
	if forked > 5 {
		t.Errorf("... %d checkpoints of the fork cosigned in all", forked)
	}
	points := make([]*point, 0, len(distinct))
	for _, p := range distinct {
		points = append(points, p)
	}
	slices.SortFunc(points, func(a, b *point) int { return cmp.Compare(a.size, b.size) })
	inconsistent := 0
	for i, a := range points {
		for _, b := range points[i+1:] {
			if a.onHonest && b.onHonest || a.onFork && b.onFork {
				continue
			}
			if inconsistent++; inconsistent <= 5 {
				t.Errorf("inconsistent cosigned checkpoints: size %d (%s) is not a prefix of size %d (%s)", a.size, a.source, b.size, b.source)
			}
		}
	}
	if inconsistent > 5 {
		t.Errorf("... %d inconsistent pairs in all", inconsistent)
	}

	// What left before a kill was durable when the kill came.
	lost := 0
	for _, c := range run.cosigs {
		for k := c.kills; k < int64(len(stored)); k++ {
			if s := stored[k]; s.size < c.size {
				if lost++; lost <= 5 {
					t.Errorf("%s: cosigned size %d, read before kill %d began, but after it the witness stored size %d", c.source, c.size, k+1, s.size)
				}
				break
			}
		}
	}
	if lost > 5 {
		t.Errorf("... %d cosignatures lost in all", lost)
	}
	for k := 1; k < len(stored); k++ {
		if stored[k].size < stored[k-1].size {
			t.Errorf("the stored size went back from %d after kill %d to %d after kill %d", stored[k-1].size, k, stored[k].size, k+1)
		}
	}

	// A later cosignature never covers a smaller tree. Timestamps are in
	// seconds: compare each second with the largest size of the seconds
	// before it.
	byTime := slices.Clone(all[1+len(stored):])
	slices.SortFunc(byTime, func(a, b crashCheckpoint) int {
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.size, b.size)
	})
	var before crashCheckpoint // the largest of the earlier seconds
	backwards := 0
	for i := 0; i < len(byTime); {
		j := i
		for j < len(byTime) && byTime[j].time.Equal(byTime[i].time) {
			j++
		}
		if byTime[i].size < before.size {
			if backwards++; backwards <= 5 {
				t.Errorf("%s: cosigned size %d at %v, after %s cosigned size %d at %v", byTime[i].source, byTime[i].size, byTime[i].time, before.source, before.size, before.time)
			}
		}
		if m := byTime[j-1]; m.size > before.size {
			before = m
		}
		i = j
	}

	// The last restart serves at least what was cosigned.
	if m := slices.MaxFunc(all, bySize); final.size < m.size {
		t.Errorf("after the last restart the witness serves size %d, but it cosigned size %d (%s)", final.size, m.size, m.source)
	}
}

// verifyCrashAnswer checks that a 200 answer is one cosignature line that
// verifies over the checkpoint it was for, and returns its timestamp.
func verifyCrashAnswer(c crashCheckpoint, cosigner note.Verifier) (time.Time, error) {
	if !bytes.HasPrefix(c.line, []byte("— ")) || bytes.IndexByte(c.line, '\n') != len(c.line)-1 {
		return time.Time{}, fmt.Errorf("the answer %q is not one signature line", c.line)
	}
	n, err := note.Open(append(bytes.Clone(c.cp), c.line...), note.VerifierList(cosigner))
	if err != nil || len(n.Sigs) != 1 {
		return time.Time{}, fmt.Errorf("the cosignature %q does not verify over %q: %v", c.line, c.cp, err)
	}
	return fnote.CoSigV1Timestamp(n.Sigs[0])
}

// crashLog is the log of TestCrashConsistency: a key and two histories.
type crashLog struct {
	origin string
	signer note.Signer
	vkey   string
	verify note.Verifier
	// honest and fork are crashSize entries long and share the first
	// crashShared. They are not modified once built, so clients read them
	// concurrently.
	honest, fork *testonly.Tree
}

func newCrashLog(t *testing.T, origin string) *crashLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(crand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	l := &crashLog{origin: origin, signer: s, vkey: vkey, verify: v,
		honest: testonly.New(rfc6962.DefaultHasher), fork: testonly.New(rfc6962.DefaultHasher)}
	for i := range crashSize {
		e := fmt.Appendf(nil, "entry %d", i)
		l.honest.AppendData(e)
		if i >= crashShared {
			e = fmt.Appendf(nil, "forked entry %d", i)
		}
		l.fork.AppendData(e)
	}
	if !bytes.Equal(l.honest.HashAt(crashShared), l.fork.HashAt(crashShared)) || bytes.Equal(l.honest.HashAt(crashShared+1), l.fork.HashAt(crashShared+1)) {
		t.Fatal("the histories do not diverge after their shared prefix")
	}
	return l
}

// request returns an add-checkpoint body growing history h from old to
// size, and the signed checkpoint it carries.
func (l *crashLog) request(h *testonly.Tree, old, size uint64) (body, cp []byte) {
	var p [][]byte
	if old > 0 && old < size {
		var err error
		if p, err = h.ConsistencyProof(old, size); err != nil {
			panic(err) // the sizes are the test's own: a bug in the test
		}
	}
	cp, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", l.origin, size, base64.StdEncoding.EncodeToString(h.HashAt(size)))}, l.signer)
	if err != nil {
		panic(err)
	}
	return (&witness.AddCheckpointRequest{Old: old, Proof: p, Checkpoint: cp}).Marshal(), cp
}

// crashCheckpoint is a checkpoint the witness cosigned.
type crashCheckpoint struct {
	size   uint64
	root   []byte
	cp     []byte    // the checkpoint as sent, for an answer
	line   []byte    // the answer: the cosignature line
	kills  int64     // kills begun when the answer was read
	time   time.Time // the cosignature's timestamp
	source string    // who got it, for messages
}

func bySize(a, b crashCheckpoint) int { return cmp.Compare(a.size, b.size) }

// openCrashCheckpoint checks a checkpoint the witness stores or serves: the
// log's signature and the witness's cosignature verify.
func openCrashCheckpoint(b []byte, lg *crashLog, cosigner note.Verifier) (crashCheckpoint, error) {
	n, err := note.Open(b, note.VerifierList(lg.verify, cosigner))
	if err != nil {
		return crashCheckpoint{}, err
	}
	if len(n.Sigs) != 2 {
		return crashCheckpoint{}, fmt.Errorf("%d verified signatures, want the log's and the witness's", len(n.Sigs))
	}
	c := crashCheckpoint{}
	for _, s := range n.Sigs {
		if s.Name == cosigner.Name() && s.Hash == cosigner.KeyHash() {
			if c.time, err = fnote.CoSigV1Timestamp(s); err != nil {
				return c, err
			}
		}
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != lg.origin {
		return c, errors.New("not a checkpoint of the log")
	}
	if c.size, err = strconv.ParseUint(lines[1], 10, 64); err != nil {
		return c, err
	}
	if c.root, err = base64.StdEncoding.DecodeString(lines[2]); err != nil {
		return c, err
	}
	return c, nil
}

func crashOriginHash(origin string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(origin))) }

// crashRun is what the clients of TestCrashConsistency share.
type crashRun struct {
	url    string
	client *http.Client
	log    *crashLog
	// kills is the number of kills begun; the killer bumps it before each.
	kills atomic.Int64
	// maxSeen is the largest size any client has seen cosigned: the
	// witness holds at least that much, so an old size below it is stale.
	maxSeen atomic.Uint64

	mu     sync.Mutex
	cosigs []crashCheckpoint // every 200 answer
	prefix []uint64          // the cosigned sizes up to crashShared, in order
	codes  map[string]int    // answers by client kind and status
	errs   []string          // unexpected answers, the first few
}

// post sends an add-checkpoint request.
func (r *crashRun) post(body []byte) (int, []byte, error) {
	code, rb, _, err := r.postLine(body)
	return code, rb, err
}

// postLine sends an add-checkpoint request. It also returns the number of
// kills begun when the first line of the answer, a 200's cosignature, was
// read: from then on the cosignature is out, however the rest of the answer
// fares. So a 200 whose first line arrived counts even if reading the rest
// fails; its answer is then that line.
func (r *crashRun) postLine(body []byte) (code int, answer []byte, kills int64, err error) {
	resp, err := r.client.Post(r.url, "text/plain", bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadBytes('\n')
	kills = r.kills.Load()
	if err == io.EOF {
		return resp.StatusCode, first, kills, nil // an answer without a newline
	} else if err != nil {
		return 0, nil, 0, err
	}
	rest, err := io.ReadAll(br)
	if err != nil && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, first, kills, nil
	} else if err != nil {
		return 0, nil, 0, err
	}
	return resp.StatusCode, append(first, rest...), kills, nil
}

// send posts a request for history h from old to size and handles the
// answer: a cosignature is recorded; the size of a 409 is returned as the
// witness's. An answer other than the ones in want is an error. A request
// that fails (the witness is being killed or restarted) waits a little.
func (r *crashRun) send(client, kind string, rng *rand.Rand, h *testonly.Tree, old, size uint64, want ...int) (witnessSize uint64, known bool) {
	body, cp := r.log.request(h, old, size)
	code, resp, kills, err := r.postLine(body)
	if err != nil {
		r.count(kind + " failed")
		time.Sleep(5*time.Millisecond + time.Duration(rng.Int64N(int64(10*time.Millisecond))))
		return 0, false
	}
	r.count(fmt.Sprintf("%s %d", kind, code))
	if !slices.Contains(want, code) {
		r.unexpected(fmt.Sprintf("%s: %s from %d to %d: %d %q, want one of %v", client, kind, old, size, code, resp, want))
	}
	switch code {
	case http.StatusOK:
		// Recorded even if unexpected: the final checks judge it.
		root := h.HashAt(size)
		r.mu.Lock()
		r.cosigs = append(r.cosigs, crashCheckpoint{size: size, root: root, cp: cp, line: resp, kills: kills,
			source: fmt.Sprintf("%s (%s from %d)", client, kind, old)})
		if size <= crashShared && size > r.prefix[len(r.prefix)-1] {
			r.prefix = append(r.prefix, size)
		}
		r.mu.Unlock()
		for m := r.maxSeen.Load(); size > m && !r.maxSeen.CompareAndSwap(m, size); m = r.maxSeen.Load() {
		}
		return size, true
	case http.StatusConflict:
		s, err := strconv.ParseUint(strings.TrimSuffix(string(resp), "\n"), 10, 64)
		if err != nil || s > crashSize {
			r.unexpected(fmt.Sprintf("%s: 409 with %q", client, resp))
			return 0, false
		}
		return s, true
	}
	return 0, false
}

func (r *crashRun) count(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes[key]++
}

func (r *crashRun) unexpected(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, msg)
	}
}

// honestClient grows the honest history by 1 to 4 entries a request, now
// and then sending the same checkpoint again, from the size it believes the
// witness holds; a 409 tells it the witness's size.
func (r *crashRun) honestClient(name string, rng *rand.Rand, stop <-chan struct{}) {
	var old uint64 // 0: a 409 will say
	for range crashMaxReqs {
		select {
		case <-stop:
			return
		default:
		}
		size := old
		if rng.IntN(8) != 0 {
			size = min(old+1+rng.Uint64N(4), crashSize)
		}
		if s, ok := r.send(name, "honest", rng, r.log.honest, old, size, http.StatusOK, http.StatusConflict); ok {
			old = s
		}
	}
}

// forkClient tries to get the fork cosigned, in three ways a witness that
// keeps its state refuses (see TestCrashConsistency).
func (r *crashRun) forkClient(name string, rng *rand.Rand, stop <-chan struct{}) {
	var cur uint64 // the size it believes the witness holds; 0: a 409 will say
	for range crashMaxReqs {
		select {
		case <-stop:
			return
		default:
		}
		time.Sleep(time.Duration(rng.Int64N(int64(5 * time.Millisecond))))
		if rng.IntN(2) == 0 {
			// Its own view lags behind the honest clients': take theirs.
			cur = max(cur, r.maxSeen.Load())
		}
		switch k := rng.IntN(3); {
		case k == 0:
			// The fork's checkpoint of the witness's size: a fork once past
			// the shared prefix, the honest checkpoint before it.
			if s, ok := r.send(name, "fork", rng, r.log.fork, cur, cur, http.StatusOK, http.StatusConflict, http.StatusUnprocessableEntity); ok {
				cur = s
			}
		case k == 1 && cur > crashShared:
			// Growth along the fork from the witness's size, past the
			// shared prefix: the proof does not lead from the witness's
			// root.
			size := min(cur+1+rng.Uint64N(4), crashSize)
			if s, ok := r.send(name, "fork", rng, r.log.fork, cur, size, http.StatusConflict, http.StatusUnprocessableEntity); ok {
				cur = s
			}
		default:
			// Growth along the fork from a shared-prefix size the witness
			// cosigned and then passed, most often a recent one: only a
			// witness that lost its state would take it.
			old := r.passedPrefix(rng)
			size := crashShared + 1 + rng.Uint64N(64)
			if s, ok := r.send(name, "fork", rng, r.log.fork, old, size, http.StatusConflict); ok {
				cur = s
			}
		}
	}
}

// passedPrefix picks a size up to crashShared that the witness cosigned and
// then passed: a size below one a client saw cosigned.
func (r *crashRun) passedPrefix(rng *rand.Rand) uint64 {
	limit := r.maxSeen.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	sizes := r.prefix
	for len(sizes) > 0 && sizes[len(sizes)-1] >= limit {
		sizes = sizes[:len(sizes)-1]
	}
	sizes = append([]uint64{0}, sizes...)
	if rng.IntN(2) == 0 {
		sizes = sizes[max(0, len(sizes)-4):]
	}
	return sizes[rng.IntN(len(sizes))]
}
