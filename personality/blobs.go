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

	"github.com/vigil-log/vigil/client"
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
	if err := client.WriteFileAtomic(p, data, 0o644); err != nil {
		return fmt.Errorf("blob store: %w", err)
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
