package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/personality"
	"github.com/vigil-log/vigil/personality/index"
)

// reindex rebuilds the query index of a stopped log from the log alone.
func reindex(args []string) error {
	fs := flag.NewFlagSet("vigild reindex", flag.ContinueOnError)
	data := fs.String("data", "", "the log's data directory (required)")
	rootsFile := fs.String("trust-roots", "", "the trust-roots file the log runs with (required)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: vigild reindex --data DIR --trust-roots FILE

Rebuilds the query index (DIR/index) from the log alone: it discards the
index and folds every entry again, as vigild's follower does, checking each
entry's authority against the entries before it. Run it with vigild
stopped; it refuses to run beside one. vigild also rebuilds a missing index
on its own, in the background, when it starts.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *rootsFile == "" || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("--data and --trust-roots are required")
	}
	dd := &dataDir{path: *data}
	if err := dd.loadKey(""); err != nil {
		return fmt.Errorf("%s is not a vigil log: %w", *data, err)
	}
	rb, err := os.ReadFile(*rootsFile)
	if err != nil {
		return fmt.Errorf("reading trust roots: %w", err)
	}
	roots, err := client.ParseTrustRoots(rb)
	if err != nil {
		return fmt.Errorf("%s: %w", *rootsFile, err)
	}
	blobs, err := personality.NewBlobStore(dd.blobs())
	if err != nil {
		return err
	}
	last := time.Now()
	f, err := index.NewFollower(index.FollowerConfig{
		Tiles: client.DirTiles(dd.tree()), Verifier: dd.verifier, Blob: blobs.Get, Roots: roots, Dir: dd.index(), Rebuild: true,
		Progress: func(p client.AuditProgress) {
			if time.Since(last) >= 2*time.Second || p.Done == p.Total {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "reindex: %d / %d entries\n", p.Done, p.Total)
			}
		},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	r, err := f.CatchUp(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("index rebuilt: %d entries, %d devices, %d firmware builds, %d anomalies, in %s\n",
		r.Size, r.Devices, r.FirmwareBuilds, len(r.Anomalies), time.Since(start).Round(time.Millisecond))
	return nil
}
