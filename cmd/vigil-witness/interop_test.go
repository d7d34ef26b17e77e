package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"golang.org/x/mod/sumdb/note"
)

// TestTesseraInterop drives the witness binary from a plain Tessera log,
// with no vigil code on the log's side: Tessera's POSIX driver and its own
// witness client (WithWitnesses) publish checkpoints only with the
// witness's cosignature, and the cosignatures verify.
func TestTesseraInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	dir := t.TempDir()
	logSKey, logVKey, err := note.GenerateKey(rand.Reader, "plain-tessera.example/log")
	if err != nil {
		t.Fatal(err)
	}
	wSKey, wVKey, err := note.GenerateKey(rand.Reader, "w.interop.local")
	if err != nil {
		t.Fatal(err)
	}
	wKeyFile := filepath.Join(dir, "w.key")
	if err := os.WriteFile(wKeyFile, []byte(wSKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "logs.txt")
	os.WriteFile(logs, []byte("logs/v0\nvkey "+logVKey+"\nqpd 86400\ncontact interop test\n"), 0o644)
	w := e2e.StartWitness(t, wKeyFile, logs, filepath.Join(dir, "state"))

	cosigVKey, err := fnote.VKeyToCosignatureV1(wVKey)
	if err != nil {
		t.Fatal(err)
	}
	group, err := tessera.NewWitnessGroupFromPolicy([]byte(fmt.Sprintf("witness w %s %s/\nquorum w\n", cosigVKey, w.URL)))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(logSKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	driver, err := posix.New(ctx, posix.Config{Path: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).WithCheckpointInterval(100*time.Millisecond).WithBatching(64, 10*time.Millisecond).
		WithWitnesses(group, nil))
	if err != nil {
		t.Fatalf("a plain Tessera log with our witness in its policy: %v", err)
	}
	defer shutdown(ctx)
	awaiter := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 20*time.Millisecond)
	cosig, err := fnote.NewVerifierForCosignatureV1(cosigVKey)
	if err != nil {
		t.Fatal(err)
	}
	logV, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var last tessera.IndexFuture
		for i := range 20 {
			last = appender.Add(ctx, tessera.NewEntry(fmt.Appendf(nil, "round %d entry %d", round, i)))
		}
		actx, acancel := context.WithTimeout(ctx, 20*time.Second)
		idx, cp, err := awaiter.Await(actx, last)
		acancel()
		if err != nil {
			t.Fatalf("round %d: awaiting a witnessed checkpoint: %v", round, err)
		}
		n, err := note.Open(cp, note.VerifierList(logV, cosig))
		if err != nil {
			t.Fatalf("round %d: checkpoint signatures: %v", round, err)
		}
		if len(n.Sigs) != 2 {
			t.Errorf("round %d: checkpoint for index %d verified with %d signatures, want the log's and the witness's", round, idx.Index, len(n.Sigs))
		}
		if !strings.HasPrefix(n.Text, fmt.Sprintf("plain-tessera.example/log\n%d\n", 20*(round+1))) {
			t.Errorf("round %d: checkpoint %q", round, n.Text)
		}
	}
}
