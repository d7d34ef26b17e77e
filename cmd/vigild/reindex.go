package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/personality/index"
)

// reindex rebuilds the query index of a stopped log from the log alone.
func reindex(args []string) error {
	fs := flag.NewFlagSet("vigild reindex", flag.ContinueOnError)
	storage := addStorageFlags(fs)
	rootsFile := fs.String("trust-roots", "", "the trust-roots file the log runs with (required)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: vigild reindex --data DIR --trust-roots FILE
       vigild reindex --storage mysql --mysql-dsn DSN --log-key FILE --trust-roots FILE
       vigild reindex --storage gcp --gcp-project P --spanner DB --gcs-bucket B --log-key FILE --trust-roots FILE

Rebuilds the query index from the log alone: it discards the index and
folds every entry again, as vigild's follower does, checking each entry's
authority against the entries before it.

On posix, the index is DIR/index; run it with vigild stopped, as it refuses
to run beside one. vigild also rebuilds a missing index on its own, in the
background, when it starts.

On mysql and gcp, the index is in the log's database: reindex waits for the lease
on the index, which a running frontend's follower holds, and which another
running frontend would take again at once; stop every frontend first. It is
also how a shared index of an earlier schema version, which frontends of a
newer vigild refuse, is replaced: run the newer reindex, then the frontends.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rootsFile == "" || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("--trust-roots is required")
	}
	rb, err := os.ReadFile(*rootsFile)
	if err != nil {
		return fmt.Errorf("reading trust roots: %w", err)
	}
	roots, err := client.ParseTrustRoots(rb)
	if err != nil {
		return fmt.Errorf("%s: %w", *rootsFile, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	be, err := openBackend(ctx, storage, false, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer be.close()
	tiles, err := vlog.ReadTiles(ctx, be.storage)
	if err != nil {
		return err
	}
	last := time.Now()
	f, err := index.NewFollower(ctx, be.follower(index.FollowerConfig{
		Tiles: tiles, Roots: roots, Rebuild: true,
		Progress: func(p client.AuditProgress) {
			if time.Since(last) >= 2*time.Second || p.Done == p.Total {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "reindex: %d / %d entries\n", p.Done, p.Total)
			}
		},
	}))
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	r, err := f.CatchUp(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("index rebuilt: %d entries, %d devices, %d firmware builds, %d anomalies, in %s\n",
		r.Size, r.Devices, r.FirmwareBuilds, len(r.Anomalies), time.Since(start).Round(time.Millisecond))
	return nil
}
