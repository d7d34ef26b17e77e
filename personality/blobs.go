package personality

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// BlobStore is a content-addressed store of payloads too large for a leaf
// (SBOM statements), on a local file system. A blob lives at
// <dir>/sha256/<first two hex digits>/<hex digest>.
//
// Put is durable when it returns (file and directory fsynced after an atomic
// rename), so the log never commits to a blob it does not hold. Get and Put
// may be called concurrently; writing the same blob twice is harmless.
type BlobStore struct {
	dir string
}

// NewBlobStore opens (creating if needed) a blob store in dir.
func NewBlobStore(dir string) (*BlobStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("creating blob store: %w", err)
	}
	return &BlobStore{dir: dir}, nil
}

func (s *BlobStore) path(digest string) string {
	return filepath.Join(s.dir, "sha256", digest[:2], digest)
}

// Put stores data under its SHA-256 digest (lowercase hex), which the caller
// has computed and which is checked.
func (s *BlobStore) Put(_ context.Context, digest string, data []byte) error {
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest {
		return errors.New("blob store: digest does not match content")
	}
	p := s.path(digest)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("blob store: writing: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("blob store: syncing: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob store: syncing directory: %w", err)
	}
	return nil
}

// Get returns the blob with the given digest; the error wraps fs.ErrNotExist
// if there is none.
func (s *BlobStore) Get(_ context.Context, digest string) ([]byte, error) {
	if len(digest) != sha256.Size*2 {
		return nil, fmt.Errorf("blob store: %w", fs.ErrNotExist)
	}
	b, err := os.ReadFile(s.path(digest))
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return b, nil
}
