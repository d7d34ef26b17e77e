package log

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/spanner"
	gcs "cloud.google.com/go/storage"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/gcp"
	gcpas "github.com/transparency-dev/tessera/storage/gcp/antispam"
	"github.com/vigil-log/vigil/client"
)

// GCP is Tessera's GCP driver: entries sequenced in a Cloud Spanner
// database, tiles, entry bundles and the checkpoint as objects in a GCS
// bucket, and Tessera's Spanner antispam index in the same database. Any
// number of vigild frontends share one log.
//
// Google's client libraries find credentials and endpoints themselves
// (Application Default Credentials; SPANNER_EMULATOR_HOST and
// STORAGE_EMULATOR_HOST for the emulators).
type GCP struct {
	// Spanner is the database, projects/P/instances/I/databases/D. Required.
	Spanner string
	// Client is a client of that database, which the caller closes after
	// the log (Tessera's driver, given one, uses it and never closes it; its
	// antispam index makes its own). Required.
	Client *spanner.Client
	// Bucket is the GCS bucket's name. Required.
	Bucket string
	// GCS is a client the caller closes after the log. Required.
	GCS *gcs.Client
}

func (s GCP) object(name string) *gcs.ObjectHandle { return s.GCS.Bucket(s.Bucket).Object(name) }

// read returns an object's content, or an error wrapping fs.ErrNotExist.
func (s GCP) read(ctx context.Context, name string) ([]byte, error) {
	r, err := s.object(name).NewReader(ctx)
	if errors.Is(err, gcs.ErrObjectNotExist) {
		return nil, fmt.Errorf("gs://%s/%s: %w", s.Bucket, name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading gs://%s/%s: %w", s.Bucket, name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading gs://%s/%s: %w", s.Bucket, name, err)
	}
	return b, nil
}

// exists: a log is there once Tessera has published a checkpoint, which it
// does as it starts on a new log.
func (s GCP) exists(ctx context.Context) (bool, error) {
	if s.GCS == nil || s.Client == nil {
		return false, errors.New("GCP storage: no GCS or Spanner client")
	}
	_, err := s.object(layout.CheckpointPath).Attrs(ctx)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, gcs.ErrObjectNotExist):
		return false, nil
	}
	return false, fmt.Errorf("checking for a log in gs://%s: %w", s.Bucket, err)
}

// prepare checks that the bucket is there. Tessera creates its Spanner
// tables itself, idempotently, so frontends starting together on an empty
// database may all do it.
func (s GCP) prepare(ctx context.Context) error {
	if _, err := s.GCS.Bucket(s.Bucket).Attrs(ctx); err != nil {
		return fmt.Errorf("creating a log: bucket gs://%s: %w", s.Bucket, err)
	}
	return nil
}

func (s GCP) open(ctx context.Context, hc *http.Client, pushback uint) (tessera.Driver, tessera.Antispam, error) {
	driver, err := gcp.New(ctx, gcp.Config{GCSClient: s.GCS, SpannerClient: s.Client, HTTPClient: hc, Bucket: s.Bucket, Spanner: s.Spanner})
	if err != nil {
		return nil, nil, fmt.Errorf("opening GCP storage: %w", err)
	}
	as, err := gcpas.NewAntispam(ctx, s.Spanner, gcpas.AntispamOpts{PushbackThreshold: pushback})
	if err != nil {
		return nil, nil, fmt.Errorf("opening Spanner antispam index: %w", err)
	}
	return driver, as, nil
}

func (s GCP) checkpoint(ctx context.Context) ([]byte, error) {
	b, err := s.read(ctx, layout.CheckpointPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// tiles reads the bucket's objects directly: Tessera's GCP driver reads
// only through a running appender.
func (s GCP) tiles(context.Context) (*client.Tiles, error) {
	return &client.Tiles{
		Checkpoint: func(ctx context.Context) ([]byte, error) { return s.read(ctx, layout.CheckpointPath) },
		Tile: func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
			return s.partialOrFull(ctx, p, func(p uint8) string { return layout.TilePath(level, index, p) })
		},
		EntryBundle: func(ctx context.Context, index uint64, p uint8) ([]byte, error) {
			return s.partialOrFull(ctx, p, func(p uint8) string { return layout.EntriesPath(index, p) })
		},
	}, nil
}

// partialOrFull reads a partial tile or bundle, or the full one that
// replaced it once the tree grew (Tessera removes partials then). Tessera
// has this fallback only in an internal package.
func (s GCP) partialOrFull(ctx context.Context, p uint8, path func(uint8) string) ([]byte, error) {
	b, err := s.read(ctx, path(p))
	if p != 0 && errors.Is(err, fs.ErrNotExist) {
		return s.read(ctx, path(0))
	}
	return b, err
}

// sequenced reads Tessera's next sequence number: its driver gives entries
// their index in one Spanner transaction and integrates them into the tree
// in later ones, so after a crash the tree may lag the entries that have an
// index. SeqCoord is the pinned Tessera v1.0.4's table; Tessera exports no
// reader of it.
func (s GCP) sequenced(ctx context.Context) (uint64, error) {
	row, err := s.Client.Single().ReadRow(ctx, "SeqCoord", spanner.Key{0}, []string{"next"})
	if err != nil {
		return 0, fmt.Errorf("reading Tessera's next sequence number: %w", err)
	}
	var next int64
	if err := row.Columns(&next); err != nil {
		return 0, fmt.Errorf("reading Tessera's next sequence number: %w", err)
	}
	return uint64(next), nil
}

// shared: any number of frontends append to one database and bucket.
func (GCP) shared() bool { return true }

// minCheckpointInterval is the GCP driver's floor.
func (GCP) minCheckpointInterval() time.Duration { return 1200 * time.Millisecond }

func (s GCP) String() string { return "gcp:" + s.Spanner + ",gs://" + s.Bucket }

// RetrySchemaChange runs fn, which makes a Spanner schema change, again for
// as long as Spanner refuses it because another is under way, up to two
// minutes or until ctx ends. Spanner runs one schema change of a database at
// a time, and refuses the others rather than queue them: frontends starting
// together all run their IF NOT EXISTS statements (Tessera's GCP driver does
// at every start), and the emulator also refuses one while any read-write
// transaction is open. The refusal is matched by its text, since Tessera
// wraps it without its code.
func RetrySchemaChange(ctx context.Context, logger *slog.Logger, fn func() error) error {
	wait := 100 * time.Millisecond
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := fn()
		if err == nil || !strings.Contains(err.Error(), "concurrent schema change") || time.Now().After(deadline) {
			return err
		}
		if logger != nil {
			logger.WarnContext(ctx, "Spanner is making another schema change; trying again", "err", err, "in", wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waiting for another schema change: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
