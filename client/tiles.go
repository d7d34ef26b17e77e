package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
)

// Tiles reads a log through the [C2SP tlog-tiles] API: the client's I/O
// seam, in Tessera's fetcher types, so the same verifier runs over HTTP
// (HTTPTiles) or over a copy of a log's tile tree on disk (DirTiles). Every
// proof the client uses is built here from tiles, so it never depends on a
// server-side proof endpoint. A Tiles may be used concurrently.
//
// [C2SP tlog-tiles]: https://c2sp.org/tlog-tiles
type Tiles struct {
	// Checkpoint returns the log's latest signed checkpoint.
	Checkpoint tclient.CheckpointFetcherFunc
	// Tile returns a hash tile; a missing partial tile falls back to the
	// full one, and a missing tile is an error wrapping os.ErrNotExist.
	Tile tclient.TileFetcherFunc
	// EntryBundle returns an entry bundle, with the same fallback rules.
	EntryBundle tclient.EntryBundleFetcherFunc
}

// fetchAttempts is how many times HTTPTiles tries a request that failed
// for a reason other than "not found".
const fetchAttempts = 5

// HTTPTiles reads the log served at baseURL (the prefix under which
// /checkpoint and /tile/ live). Failed requests other than 404 are retried
// with backoff; hc nil means a client with a one-minute timeout.
func HTTPTiles(baseURL string, hc *http.Client) (*Tiles, error) {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/") + "/")
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("log URL %q: want http(s)://host[:port][/prefix]", baseURL)
	}
	f, err := tclient.NewHTTPFetcher(u, hc)
	if err != nil {
		return nil, fmt.Errorf("log URL %q: %w", baseURL, err)
	}
	return &Tiles{
		Checkpoint: func(ctx context.Context) ([]byte, error) {
			return retry(ctx, func() ([]byte, error) { return f.ReadCheckpoint(ctx) })
		},
		Tile: func(ctx context.Context, l, i uint64, p uint8) ([]byte, error) {
			return retry(ctx, func() ([]byte, error) { return f.ReadTile(ctx, l, i, p) })
		},
		EntryBundle: func(ctx context.Context, i uint64, p uint8) ([]byte, error) {
			return retry(ctx, func() ([]byte, error) { return f.ReadEntryBundle(ctx, i, p) })
		},
	}, nil
}

// DirTiles reads a log's tile tree from a directory (a copy of a POSIX log,
// for an audit with no network).
func DirTiles(dir string) *Tiles {
	f := tclient.FileFetcher{Root: dir}
	return &Tiles{Checkpoint: f.ReadCheckpoint, Tile: f.ReadTile, EntryBundle: f.ReadEntryBundle}
}

// retry calls f until it succeeds, fails with "not found" (an answer, not
// a fault), ctx ends, or fetchAttempts are spent, backing off from 100 ms.
func retry(ctx context.Context, f func() ([]byte, error)) ([]byte, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		b, err := f()
		if err == nil || errors.Is(err, os.ErrNotExist) || attempt == fetchAttempts || ctx.Err() != nil {
			return b, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// ConsistencyProof builds the consistency proof from the tree of size m to
// the tree of size n from the log's tiles, unchecked.
func (t *Tiles) ConsistencyProof(ctx context.Context, m, n uint64) ([][]byte, error) {
	pb, err := tclient.NewProofBuilder(ctx, n, t.Tile)
	if err != nil {
		return nil, err
	}
	p, err := pb.ConsistencyProof(ctx, m, n)
	if err != nil {
		return nil, fmt.Errorf("building consistency proof %d -> %d from tiles: %w", m, n, err)
	}
	return p, nil
}

// RangeRoot computes the root of the log's first size leaves from the
// hashes of the tiles' complete subtrees, unchecked.
func (t *Tiles) RangeRoot(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	nodes, err := tclient.FetchRangeNodes(ctx, size, t.Tile)
	if err != nil {
		return nil, fmt.Errorf("reading the compact range of %d from tiles: %w", size, err)
	}
	r, err := rangeFactory.NewRange(0, size, nodes)
	if err != nil {
		return nil, fmt.Errorf("compact range of %d: %w", size, err)
	}
	return r.GetRootHash(nil)
}

// rangeFactory builds RFC 6962 compact ranges.
var rangeFactory = compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Leaf returns the leaf at index from the entry bundles of the tree of the
// given size, unchecked: a caller proves it included.
func (t *Tiles) Leaf(ctx context.Context, index, size uint64) ([]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: index %d is outside the tree of size %d", ErrNotIncluded, index, size)
	}
	b, err := tclient.GetEntryBundle(ctx, t.EntryBundle, index/layout.EntryBundleWidth, size)
	if err != nil {
		return nil, fmt.Errorf("reading entry %d: %w", index, err)
	}
	i := index % layout.EntryBundleWidth
	if uint64(len(b.Entries)) <= i {
		return nil, fmt.Errorf("reading entry %d: the entry bundle holds only %d entries", index, len(b.Entries))
	}
	return b.Entries[i], nil
}
