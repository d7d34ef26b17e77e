package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/logtest"
	"golang.org/x/mod/sumdb/note"
)

// forkingServer serves one of several real logs signed with the same key,
// as a log operator showing different views to different clients would. A
// colluding witness cosigns whatever it serves, so the policy is met and
// only the client's own trusted state can catch the lie.
type forkingServer struct {
	t       *testing.T
	witness note.Signer
	mu      sync.Mutex
	serve   *vlog.Log
	pinned  []byte // a checkpoint to serve instead of the log's latest
}

func (f *forkingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	l, pinned := f.serve, f.pinned
	f.mu.Unlock()
	if r.URL.Path != "/checkpoint" {
		l.Handler().ServeHTTP(w, r)
		return
	}
	cp := pinned
	if cp == nil {
		var err error
		if cp, err = l.Checkpoint(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	_, _ = w.Write(f.cosign(cp))
}

// cosign adds the colluding witness's cosignature to a checkpoint. Its
// signatures are kept as they are: note.Open, knowing no key, hands the
// note back unverified.
func (f *forkingServer) cosign(cp []byte) []byte {
	_, err := note.Open(cp, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		f.t.Fatalf("opening checkpoint: %v", err)
	}
	out, err := note.Sign(unv.Note, f.witness)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *forkingServer) show(l *vlog.Log, pinned []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serve, f.pinned = l, pinned
}

// grow appends leaves to l and waits for a checkpoint that covers them.
func grow(t *testing.T, l *vlog.Log, leaves ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last uint64
	for _, s := range leaves {
		i, _, err := l.Sequence(ctx, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		last = i
	}
	r, err := l.Prove(ctx, last, []byte(leaves[len(leaves)-1]))
	if err != nil {
		t.Fatal(err)
	}
	return r.Checkpoint
}

func leaves(prefix string, from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("%s-%d", prefix, i))
	}
	return s
}

// TestSplitView is issue 4's split-view and rollback acceptance: a server
// shows one client two histories signed by the same log key (and cosigned
// by a colluding witness). The client stops with exit status 3 and writes a
// fork proof that the library and 'vigil verify-fork' accept as a fork, for
// both kinds of split view: two roots for one size, and a larger tree whose
// prefix contradicts the trusted checkpoint. A server that goes back to an
// older checkpoint is refused.
func TestSplitView(t *testing.T) {
	skipShort(t)
	skey, vkey, err := note.GenerateKey(rand.Reader, logtest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	wskey, wvkey, err := note.GenerateKey(rand.Reader, "colluding.witness")
	if err != nil {
		t.Fatal(err)
	}
	wsigner, err := fnote.NewSignerForCosignatureV1(wskey)
	if err != nil {
		t.Fatal(err)
	}
	if wvkey, err = fnote.VKeyToCosignatureV1(wvkey); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.txt")
	os.WriteFile(policy, []byte("log "+vkey+"\nwitness w "+wvkey+"\nquorum w\n"), 0o644)
	vkeyFile := filepath.Join(dir, "log.vkey")
	os.WriteFile(vkeyFile, []byte(vkey+"\n"), 0o644)

	honest, _ := logtest.NewWithKey(t, skey)
	forked, _ := logtest.NewWithKey(t, skey)
	// Both histories share 5 entries, then differ; both reach size 10.
	grow(t, honest, leaves("shared", 0, 5)...)
	grow(t, forked, leaves("shared", 0, 5)...)
	honest10 := grow(t, honest, leaves("honest", 5, 10)...)
	grow(t, forked, leaves("forked", 5, 10)...)

	fs := &forkingServer{t: t, witness: wsigner}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	consistency := func(state string) (string, int) {
		return run(t, "prove", "consistency", "--policy", policy, "--log", srv.URL, "--state", state)
	}
	checkForkProof := func(t *testing.T, state, out string) {
		t.Helper()
		proofs, _ := filepath.Glob(filepath.Join(state, "*", "forks", "*.json"))
		if len(proofs) != 1 {
			t.Fatalf("%d fork proofs written, want 1\n%s", len(proofs), out)
		}
		if !strings.Contains(out, proofs[0]) {
			t.Errorf("the output does not name the fork proof %s\n%s", proofs[0], out)
		}
		b, _ := os.ReadFile(proofs[0])
		fp, err := client.ParseForkProof(b)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := note.NewVerifier(vkey)
		if _, _, err := fp.Verify(v); err != nil {
			t.Errorf("the library does not accept the fork proof: %v", err)
		}
		if out := mustRun(t, "verify-fork", "--log-vkey", vkeyFile, proofs[0]); !strings.Contains(out, "split view proven") {
			t.Errorf("vigil verify-fork:\n%s", out)
		}
		mustRun(t, "verify-fork", "--policy", policy, proofs[0])
	}

	t.Run("same size", func(t *testing.T) {
		state := t.TempDir()
		fs.show(honest, nil)
		if out, code := consistency(state); code != 0 {
			t.Fatalf("first view: exit %d\n%s", code, out)
		}
		fs.show(forked, nil)
		out, code := consistency(state)
		if code != 3 || !strings.Contains(out, "SPLIT VIEW") {
			t.Fatalf("forked view of the same size: exit %d, want 3\n%s", code, out)
		}
		checkForkProof(t, state, out)
	})

	// The forked history grows to 20 while the client trusts the honest 10.
	grow(t, forked, leaves("forked", 10, 20)...)
	t.Run("larger tree", func(t *testing.T) {
		state := t.TempDir()
		fs.show(honest, nil)
		mustRun(t, "prove", "consistency", "--policy", policy, "--log", srv.URL, "--state", state)
		fs.show(forked, nil)
		out, code := consistency(state)
		if code != 3 || !strings.Contains(out, "SPLIT VIEW") {
			t.Fatalf("forked larger view: exit %d, want 3\n%s", code, out)
		}
		checkForkProof(t, state, out)
		// The trusted state was not moved to the forked view.
		fs.show(honest, nil)
		if out, code := consistency(state); code != 0 || !strings.Contains(out, "unchanged at size 10") {
			t.Errorf("back to the honest view: exit %d\n%s", code, out)
		}
	})

	// The log shows this client the forked history; a witness saw the
	// honest one. The monitor's gossip finds the contradiction, and the
	// forked tiles themselves prove it.
	t.Run("gossip", func(t *testing.T) {
		state := t.TempDir()
		fs.show(forked, nil)
		h := sha256.Sum256([]byte(logtest.Origin))
		witnessView := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/"+hex.EncodeToString(h[:])+"/checkpoint" {
				http.NotFound(w, r)
				return
			}
			w.Write(fs.cosign(honest10))
		}))
		t.Cleanup(witnessView.Close)
		gpolicy := filepath.Join(t.TempDir(), "policy.txt")
		os.WriteFile(gpolicy, []byte("log "+vkey+" "+srv.URL+"\nwitness w "+wvkey+" "+witnessView.URL+"\nquorum w\n"), 0o644)
		roots := e2e.ModuleFile(t, "testdata/dev/trust-roots.json")
		out, code := run(t, "monitor", "--once", "--policy", gpolicy, "--state", state, "--trust-roots", roots)
		if code != 3 || !strings.Contains(out, "witness w's view") || !strings.Contains(out, "SPLIT VIEW") {
			t.Fatalf("monitor with a witness shown a fork: exit %d, want 3\n%s", code, out)
		}
		checkForkProof(t, state, out)
	})

	t.Run("rollback", func(t *testing.T) {
		state := t.TempDir()
		grow(t, honest, leaves("honest", 10, 15)...)
		fs.show(honest, nil)
		mustRun(t, "prove", "consistency", "--policy", policy, "--log", srv.URL, "--state", state)
		fs.show(honest, honest10) // an older, consistent checkpoint
		out, code := consistency(state)
		if code != 1 || !strings.Contains(out, "rolled back") {
			t.Errorf("older checkpoint after a newer one: exit %d, want 1 and a rollback\n%s", code, out)
		}
		if proofs, _ := filepath.Glob(filepath.Join(state, "*", "forks", "*.json")); len(proofs) != 0 {
			t.Errorf("a consistent rollback wrote a fork proof")
		}
	})
}
