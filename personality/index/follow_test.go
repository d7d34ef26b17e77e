package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/log/logtest"
)

// fleetRoots are trust roots under which a log's audit accepts the fleet's
// entries.
func fleetRoots(t *testing.T) *client.TrustRoots {
	t.Helper()
	b, err := json.Marshal(map[string]any{"manufacturers": []any{map[string]any{
		"name": "Acme", "udiPrefixes": []string{"gs1:0614141", "gs1:0850001"}, "keys": []string{string(manufacturerPub.PEM())},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	roots, err := client.ParseTrustRoots(b)
	if err != nil {
		t.Fatal(err)
	}
	return roots
}

// TestSharedFollower follows a real log into each shared database: the
// index answers as one a follower builds in a directory; a second follower
// of the database stands by while the first holds the lease; and a
// rebuild, which waits for the lease, answers the same again.
func TestSharedFollower(t *testing.T) {
	ctx := context.Background()
	lg, verifier := logtest.New(t)
	blobs := map[string][]byte{}
	l := &batch{tb: t, x: mustOpen(t, func() (*Index, error) { return Open(t.TempDir()) }), log: func(e *client.Entry) {
		leaf, err := e.Leaf().Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := lg.Sequence(ctx, leaf); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(e.Envelope.Payload)
		blobs[hex.EncodeToString(h[:])] = e.Envelope.Payload
	}}
	f := newFleet(l, 6, 2)
	for day := range 2 {
		f.day(day)
	}
	f.attest(1, 1, 5, false) // a fork
	l.commit()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		raw, err := lg.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := client.VerifyCheckpoint(raw, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size == l.size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log's checkpoint is of %d entries, not %d", cp.Size, l.size)
		}
	}
	cfg := FollowerConfig{Tiles: lg.Tiles(), Verifier: verifier, Roots: fleetRoots(t), Interval: 20 * time.Millisecond,
		Blob: func(_ context.Context, digest string) ([]byte, error) {
			if b, ok := blobs[digest]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("blob %s: %w", digest, fs.ErrNotExist)
		}}
	follow := func(t *testing.T, cfg FollowerConfig) *Follower {
		t.Helper()
		fl, err := NewFollower(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fl.Close() })
		return fl
	}
	catchUp := func(t *testing.T, fl *Follower) {
		t.Helper()
		r, err := fl.CatchUp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size != l.size || r.Devices != len(f.devs) || len(r.Anomalies) != 1 {
			t.Errorf("CatchUp = size %d, %d devices, anomalies %+v; want size %d, %d devices, the fork's anomaly", r.Size, r.Devices, r.Anomalies, l.size, len(f.devs))
		}
	}

	dirCfg := cfg
	dirCfg.Dir = t.TempDir()
	inDir := follow(t, dirCfg)
	catchUp(t, inDir)
	want := answers(t, inDir.Index(), f)

	for _, sb := range sharedBackends {
		t.Run(sb.name, func(t *testing.T) {
			open := sb.database(t)
			dbCfg := cfg
			dbCfg.DB = open()
			a := follow(t, dbCfg)
			dbCfg.DB = open()
			b := follow(t, dbCfg)
			catchUp(t, a)
			if _, err := b.CatchUp(ctx); !errors.Is(err, ErrStandby) {
				t.Errorf("CatchUp of a second follower = %v, want ErrStandby", err)
			}
			for name, fl := range map[string]*Follower{"holder": a, "standby": b} {
				if diff := cmp.Diff(want, answers(t, fl.Index(), f)); diff != "" {
					t.Errorf("the %s's answers (-in a directory +shared):\n%s", name, diff)
				}
			}

			// A rebuild waits for the lease, which a lets go as it closes.
			dbCfg.DB, dbCfg.Rebuild = open(), true
			rebuilt := make(chan *Follower)
			go func() {
				fl, err := NewFollower(ctx, dbCfg)
				if err != nil {
					t.Error(err)
				}
				rebuilt <- fl
			}()
			time.Sleep(100 * time.Millisecond)
			if n, err := b.Index().Size(ctx); err != nil || n != l.size {
				t.Errorf("size while a rebuild waits for the lease = %d, %v; want %d", n, err, l.size)
			}
			a.Close()
			r := <-rebuilt
			if r == nil {
				return
			}
			t.Cleanup(func() { r.Close() })
			if n, err := b.Index().Size(ctx); err != nil || n != 0 {
				t.Errorf("size after a rebuild began = %d, %v; want 0", n, err)
			}
			catchUp(t, r)
			if diff := cmp.Diff(want, answers(t, b.Index(), f)); diff != "" {
				t.Errorf("answers after a rebuild (-in a directory +shared):\n%s", diff)
			}

			// An index of schema version 2 is refused, but a rebuild
			// replaces it, keeping its checkpoints.
			makeVersion2(t, r.Index().db, r.Index().d)
			r.Close()
			dbCfg.DB, dbCfg.Rebuild = open(), false
			if fl, err := NewFollower(ctx, dbCfg); err == nil || !strings.Contains(err.Error(), "vigild reindex") {
				t.Errorf("NewFollower of an index of version 2 = %v; want a refusal that says to run vigild reindex", err)
				if err == nil {
					fl.Close()
				}
			}
			dbCfg.Rebuild = true
			up := follow(t, dbCfg)
			if n, err := up.Index().Size(ctx); err != nil || n != 0 {
				t.Errorf("size after a rebuild of an index of version 2 = %d, %v; want 0", n, err)
			}
			if _, err := up.Index().CheckpointCovering(ctx, 0); err != nil {
				t.Errorf("CheckpointCovering(0) after a rebuild of an index of version 2: %v; want the checkpoint recorded before", err)
			}
			catchUp(t, up)
			if diff := cmp.Diff(want, answers(t, b.Index(), f)); diff != "" {
				t.Errorf("answers after a rebuild of an index of version 2 (-in a directory +shared):\n%s", diff)
			}
		})
	}
}

// TestFollowNewLog checks that a follower of a log with no checkpoint yet,
// as a new log is until its first one is published, logs no error.
func TestFollowNewLog(t *testing.T) {
	var errs atomic.Int64
	_, _, verifier := logtest.NewKey(t, logtest.Origin)
	missing := func(context.Context) ([]byte, error) { return nil, fmt.Errorf("checkpoint: %w", fs.ErrNotExist) }
	fl, err := NewFollower(context.Background(), FollowerConfig{
		Tiles: &client.Tiles{Checkpoint: missing}, Verifier: verifier, Roots: fleetRoots(t),
		Dir: t.TempDir(), Interval: 5 * time.Millisecond, Logger: slog.New(countErrors{slog.DiscardHandler, &errs})})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	fl.Run(ctx)
	if n := errs.Load(); n != 0 {
		t.Errorf("%d errors logged following a log with no checkpoint yet; want none", n)
	}
}

// countErrors counts the records of level Error a handler receives.
type countErrors struct {
	slog.Handler
	n *atomic.Int64
}

func (c countErrors) Enabled(context.Context, slog.Level) bool { return true }

func (c countErrors) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		c.n.Add(1)
	}
	return nil
}
