package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// TestRestart stops a witness and starts another over the same state
// directory: it goes on from the stored checkpoint and refuses to roll back.
func TestRestart(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 20)
	dir := t.TempDir()
	s, v := newWitnessKey(t, "witness.test/w1")
	w1 := startWitness(t, dir, s, v, lg.config())
	for _, b := range [][]byte{lg.request(t, 0, 5), lg.request(t, 5, 9)} {
		if code, _, resp := w1.post(b); code != 200 {
			t.Fatalf("POST = %d %q", code, resp)
		}
	}
	_, before := w1.served(lg.origin)
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := w1.post(lg.request(t, 9, 10)); code != 503 {
		t.Errorf("POST to a closed witness = %d, want 503", code)
	}

	w2 := startWitness(t, dir, s, v, lg.config())
	if code, after := w2.served(lg.origin); code != 200 || !bytes.Equal(after, before) {
		t.Fatalf("after a restart GET checkpoint = %d %q, want %q", code, after, before)
	}
	for _, tc := range []struct {
		name string
		body []byte
		code int
	}{
		{"rollback with its own old size", lg.request(t, 5, 7), 409},
		{"rollback from the stored size", body(9, nil, lg.checkpoint(t, 7)), 400},
		{"start over", lg.request(t, 0, 3), 409},
		{"fork", body(9, nil, signText(t, fmt.Sprintf("%s\n9\n%s\n", lg.origin, b64(lg.tree.HashAt(8))), lg.signer)), 422},
		{"growth", lg.request(t, 9, 12), 200},
	} {
		if code, _, resp := w2.post(tc.body); code != tc.code {
			t.Errorf("%s: POST = %d %q, want %d", tc.name, code, resp, tc.code)
		}
	}
	if _, after := w2.served(lg.origin); !bytes.HasPrefix(after, []byte(lg.origin+"\n12\n")) {
		t.Errorf("served %q, want size 12", after)
	}
}

// TestStateDirLocked checks that two witnesses cannot share a state
// directory, and that Close lets the next one in.
func TestStateDirLocked(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 1)
	dir := t.TempDir()
	s, _ := newWitnessKey(t, "witness.test/w1")
	cfg := Config{Signer: s, Logs: []LogConfig{lg.config()}, StateDir: dir, Logger: testLogger(t)}
	w1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w2, err := New(cfg); err == nil || !strings.Contains(err.Error(), "in use") {
		if w2 != nil {
			w2.Close()
		}
		t.Fatalf("New on a directory in use = %v, want an error", err)
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w1.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	w3, err := New(cfg)
	if err != nil {
		t.Fatalf("New after Close = %v", err)
	}
	w3.Close()
}

func TestStateDirRefused(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 5)
	s, v := newWitnessKey(t, "witness.test/w1")
	newDir := func(t *testing.T) string {
		dir := t.TempDir()
		w := startWitness(t, dir, s, v, lg.config())
		if code, _, resp := w.post(lg.request(t, 0, 5)); code != 200 {
			t.Fatalf("POST = %d %q", code, resp)
		}
		w.Close()
		return dir
	}
	stored := filepath.Join(checkpointsName, originHash(lg.origin))
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		err   string
	}{
		{"foreign file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "log.key"), nil, 0o600)
		}, "not a witness state directory"},
		{"damaged checkpoint", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, stored), []byte("example.com/log\n5\n"), 0o600)
		}, "damaged"},
		{"checkpoint of another origin", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, stored), newTestLog(t, "example.com/other", 2).checkpoint(t, 2), 0o600)
		}, "another origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDir(t)
			tc.setup(t, dir)
			w, err := New(Config{Signer: s, Logs: []LogConfig{lg.config()}, StateDir: dir})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				if w != nil {
					w.Close()
				}
				t.Fatalf("New = %v, want an error about %q", err, tc.err)
			}
			// A refused directory is not left locked.
			if err := os.WriteFile(filepath.Join(dir, stored), lg.checkpoint(t, 5), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, "log.key"))
			w, err = New(Config{Signer: s, Logs: []LogConfig{lg.config()}, StateDir: dir})
			if err != nil {
				t.Fatalf("New after repair = %v", err)
			}
			w.Close()
		})
	}
}

// TestTemporariesRemoved checks that what a crash leaves in the middle of a
// write is removed at start and is never taken for state.
func TestTemporariesRemoved(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 9)
	dir := t.TempDir()
	s, v := newWitnessKey(t, "witness.test/w1")
	w := startWitness(t, dir, s, v, lg.config())
	if code, _, resp := w.post(lg.request(t, 0, 5)); code != 200 {
		t.Fatalf("POST = %d %q", code, resp)
	}
	w.Close()
	tmp := filepath.Join(dir, checkpointsName, "."+originHash(lg.origin)+".123.tmp")
	if err := os.WriteFile(tmp, lg.checkpoint(t, 9), 0o600); err != nil {
		t.Fatal(err)
	}
	evTmp := filepath.Join(dir, evidenceName, ".tmp-123")
	if err := os.Mkdir(evTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	w = startWitness(t, dir, s, v, lg.config())
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary checkpoint file still there: %v", err)
	}
	if _, err := os.Stat(evTmp); !os.IsNotExist(err) {
		t.Errorf("temporary evidence directory still there: %v", err)
	}
	if _, served := w.served(lg.origin); !bytes.HasPrefix(served, []byte(lg.origin+"\n5\n")) {
		t.Errorf("served %q, want size 5", served)
	}
}

// TestStateWriteFailure checks that a failed state write yields no
// cosignature and stops the log until a restart reads the state back.
func TestStateWriteFailure(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 12)
	dir := t.TempDir()
	s, v := newWitnessKey(t, "witness.test/w1")
	w := startWitness(t, dir, s, v, lg.config())
	if code, _, resp := w.post(lg.request(t, 0, 5)); code != 200 {
		t.Fatalf("POST = %d %q", code, resp)
	}
	// Replace the checkpoints directory by a file: writes fail, even as
	// root.
	cps := filepath.Join(dir, checkpointsName)
	if err := os.Rename(cps, cps+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cps, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, resp := w.post(lg.request(t, 5, 9))
	if code != 500 || bytes.Contains(resp, []byte("—")) || bytes.Contains(resp, []byte(dir)) {
		t.Fatalf("POST with a failing disk = %d %q, want 500 with no cosignature and no path", code, resp)
	}
	if err := os.Remove(cps); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cps+".away", cps); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := w.post(lg.request(t, 5, 9)); code != 500 {
		t.Errorf("POST after a failed write = %d, want 500 until a restart", code)
	}
	w.Close()
	w = startWitness(t, dir, s, v, lg.config())
	if code, _, resp := w.post(lg.request(t, 5, 9)); code != 200 {
		t.Errorf("POST after a restart = %d %q", code, resp)
	}
}

// clockSigner is a cosignature/v1 signer whose clock the test sets.
type clockSigner struct {
	name string
	key  ed25519.PrivateKey
	now  atomic.Uint64
}

func newClockSigner(t *testing.T, name string) (*clockSigner, note.Verifier) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &clockSigner{name: name, key: priv}, v
}

func (s *clockSigner) Name() string { return s.name }

// KeyHash is the cosignature/v1 key ID: SHA-256(name || "\n" || 0x04 || key)[:4].
func (s *clockSigner) KeyHash() uint32 {
	h := sha256.Sum256(append([]byte(s.name+"\n\x04"), s.key.Public().(ed25519.PublicKey)...))
	return binary.BigEndian.Uint32(h[:])
}

func (s *clockSigner) Sign(msg []byte) ([]byte, error) {
	ts := s.now.Load()
	m := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", ts, msg)
	return append(binary.BigEndian.AppendUint64(nil, ts), ed25519.Sign(s.key, m)...), nil
}

// TestClockBackwards checks that the witness never hands out a cosignature
// older than the previous one for the log: that would state the log was
// smaller after it was larger.
func TestClockBackwards(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 12)
	s, v := newClockSigner(t, "witness.test/clock")
	w := startWitness(t, t.TempDir(), s, v, lg.config())
	s.now.Store(2_000_000_000)
	if code, _, resp := w.post(lg.request(t, 0, 5)); code != 200 {
		t.Fatalf("POST = %d %q", code, resp)
	}
	stored := w.stored(lg.origin)
	s.now.Store(1_999_999_999)
	if code, _, resp := w.post(lg.request(t, 5, 9)); code != 500 || bytes.Contains(resp, []byte("—")) {
		t.Fatalf("POST with the clock behind = %d %q, want 500 and no cosignature", code, resp)
	}
	if !bytes.Equal(w.stored(lg.origin), stored) {
		t.Fatal("a refused cosignature changed the state")
	}
	s.now.Store(2_000_000_000)
	if code, _, resp := w.post(lg.request(t, 5, 9)); code != 200 {
		t.Fatalf("POST with the same time = %d %q", code, resp)
	}
	// The stored timestamp survives a restart.
	w.Close()
	w = startWitness(t, w.dir, s, v, lg.config())
	s.now.Store(1_000)
	if code, _, _ := w.post(lg.request(t, 9, 12)); code != 500 {
		t.Fatalf("POST after a restart with the clock behind = %d, want 500", code)
	}
}

// TestNotACosigner checks that a signer of plain Ed25519 note signatures is
// caught before its signature leaves.
func TestNotACosigner(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 5)
	skey, vkey, _ := note.GenerateKey(rand.Reader, "witness.test/plain")
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	w := startWitness(t, t.TempDir(), s, v, lg.config())
	if code, _, resp := w.post(lg.request(t, 0, 5)); code != 500 || bytes.Contains(resp, []byte("—")) {
		t.Fatalf("POST = %d %q, want 500", code, resp)
	}
	if w.stored(lg.origin) != nil {
		t.Error("state written")
	}
}

func TestNewRefuses(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 1)
	s, _ := newWitnessKey(t, "witness.test/w1")
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no signer", Config{Logs: []LogConfig{lg.config()}, StateDir: dir}, "no Signer"},
		{"no logs", Config{Signer: s, StateDir: dir}, "no logs"},
		{"no state dir", Config{Signer: s, Logs: []LogConfig{lg.config()}}, "no StateDir"},
		{"no verifier", Config{Signer: s, Logs: []LogConfig{{Origin: "o"}}, StateDir: dir}, "no Verifier"},
		{"empty origin", Config{Signer: s, Logs: []LogConfig{{Verifier: lg.verifier}}, StateDir: dir}, "origin"},
		{"origin with a newline", Config{Signer: s, Logs: []LogConfig{{Origin: "a\nb", Verifier: lg.verifier}}, StateDir: dir}, "origin"},
		{"key twice", Config{Signer: s, Logs: []LogConfig{lg.config(), lg.config()}, StateDir: dir}, "configured twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				if w != nil {
					w.Close()
				}
				t.Fatalf("New = %v, want an error about %q", err, tc.err)
			}
		})
	}
}

// TestSeveralKeys checks a log configured with two keys: a checkpoint
// signed by either is accepted.
func TestSeveralKeys(t *testing.T) {
	lg := newTestLog(t, "example.com/log", 9)
	skey2, vkey2, _ := note.GenerateKey(rand.Reader, "example.com/log-2026")
	s2, _ := note.NewSigner(skey2)
	v2, _ := note.NewVerifier(vkey2)
	w := newTestWitness(t, lg.config(), LogConfig{Origin: lg.origin, Verifier: v2, QPD: 1, Contact: "x"})
	if code, _, resp := w.post(lg.request(t, 0, 5)); code != 200 {
		t.Fatalf("POST signed by the first key = %d %q", code, resp)
	}
	if code, _, resp := w.post(body(5, lg.proof(t, 5, 9), signText(t, lg.text(9), s2))); code != 200 {
		t.Fatalf("POST signed by the second key = %d %q", code, resp)
	}
}
