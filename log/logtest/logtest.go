// Package logtest runs a real vigil log for tests: Tessera's POSIX driver
// and badger antispam in a test's temporary directory, with short batching
// and checkpoint intervals so receipts come quickly.
package logtest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	vlog "github.com/vigil-log/vigil/log"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the origin of test logs.
const Origin = "test.vigil.local/log"

// New creates a log in t.TempDir and closes it when the test ends. It
// returns the log and the verifier of its checkpoints.
func New(t testing.TB) (*vlog.Log, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, Origin)
	if err != nil {
		t.Fatalf("generating log key: %v", err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := vlog.Create(context.Background(), vlog.Config{
		Dir:          dir + "/tree",
		AntispamDir:  dir + "/antispam",
		Signer:       s,
		Verifier:     v,
		Options:      tessera.NewAppendOptions().WithCheckpointInterval(100*time.Millisecond).WithBatching(256, 10*time.Millisecond),
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("creating log: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("closing log: %v", err)
		}
	})
	return l, v
}
