package witness

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	tclient "github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// tesseraLog is a real Tessera POSIX log served over HTTP as a static
// tlog-tiles tree, as a log that does not push to witnesses would be.
type tesseraLog struct {
	add     tessera.AddFn
	awaiter *tessera.PublicationAwaiter
	url     string
}

func newTesseraLog(t *testing.T, skey string) *tesseraLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "log")
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, shutdown, r, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).WithCheckpointInterval(100*time.Millisecond).WithBatching(64, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(func() {
		srv.Close()
		shutdown(ctx)
		cancel()
	})
	return &tesseraLog{add: a.Add, awaiter: tessera.NewPublicationAwaiter(ctx, r.ReadCheckpoint, 20*time.Millisecond), url: srv.URL + "/"}
}

// grow adds n entries and waits for a checkpoint covering them.
func (l *tesseraLog) grow(t *testing.T, prefix string, n int) {
	t.Helper()
	var last tessera.IndexFuture
	for i := range n {
		last = l.add(context.Background(), tessera.NewEntry(fmt.Appendf(nil, "%s %d", prefix, i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := l.awaiter.Await(ctx, last); err != nil {
		t.Fatal(err)
	}
}

// TestFollow runs the witness in pull mode against real Tessera logs: it
// cosigns the first checkpoint, then growth with a consistency proof it
// builds from the tiles, refuses a log serving a smaller tree, and records a
// fork when another tree of the same size appears under the log's key.
func TestFollow(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "pull.example/log")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w := newTestWitness(t, LogConfig{Origin: "pull.example/log", Verifier: v, QPD: 86400, Contact: "test"})
	honest := newTesseraLog(t, skey)
	ctx := context.Background()
	follow := func(l *tesseraLog) (uint64, error) {
		f, err := tclient.NewHTTPFetcher(mustParseURL(t, l.url), nil)
		if err != nil {
			t.Fatal(err)
		}
		return w.followOnce(ctx, f)
	}
	storedSize := func() string {
		lines := strings.SplitN(string(w.stored("pull.example/log")), "\n", 3)
		if len(lines) < 2 {
			return ""
		}
		return lines[1]
	}

	honest.grow(t, "a", 10)
	if n, err := follow(honest); err != nil || n != 10 || storedSize() != "10" {
		t.Fatalf("first follow = %d, %v; stored size %q; want 10", n, err, storedSize())
	}
	honest.grow(t, "b", 300) // across an entry bundle and a tile boundary
	if n, err := follow(honest); err != nil || n != 310 || storedSize() != "310" {
		t.Fatalf("follow after growth = %d, %v; stored size %q; want 310", n, err, storedSize())
	}
	if n, err := follow(honest); err != nil || n != 0 {
		t.Errorf("follow without growth = %d, %v; want nothing to do", n, err)
	}
	if code, body := w.served("pull.example/log"); code != http.StatusOK || !strings.Contains(string(body), "\n310\n") {
		t.Errorf("GET checkpoint after following = %d %q", code, body)
	}

	// Another tree under the same key: smaller first, then of the same size.
	forked := newTesseraLog(t, skey)
	forked.grow(t, "x", 20)
	if _, err := follow(forked); err == nil || storedSize() != "310" {
		t.Errorf("follow of a smaller tree = %v, stored size %q; want a refusal and 310", err, storedSize())
	}
	forked.grow(t, "y", 290)
	if _, err := follow(forked); err == nil || storedSize() != "310" {
		t.Errorf("follow of a fork = %v, stored size %q; want a refusal and 310", err, storedSize())
	}
	if got := w.metric("witness_forks_detected_total"); got != 1 {
		t.Errorf("witness_forks_detected_total = %v, want 1", got)
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
