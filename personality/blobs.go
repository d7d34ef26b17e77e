package personality

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vigil-log/vigil/client"
)

// Blobs stores payloads too large for a leaf (SBOM statements) under their
// SHA-256 digest, in lowercase hex. BlobStore (a directory) and SQLBlobs
// (the log's MySQL database) implement it.
//
// Put is durable when it returns, so the log never commits to a blob the
// store does not hold; it checks the digest, and storing a blob twice is
// harmless. Get's error wraps fs.ErrNotExist for a blob the store lacks. Both
// may be called concurrently.
type Blobs interface {
	Put(ctx context.Context, digest string, data []byte) error
	Get(ctx context.Context, digest string) ([]byte, error)
}

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

// SQLBlobs keeps blobs in a MySQL or MariaDB table, vigil_blobs, in the
// database that holds the log, so that every frontend of the log reads what
// any of them stored.
type SQLBlobs struct {
	db *sql.DB
}

// NewSQLBlobs creates the vigil_blobs table in db if it is missing. The
// caller closes db.
func NewSQLBlobs(ctx context.Context, db *sql.DB) (*SQLBlobs, error) {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS vigil_blobs (
		digest BINARY(32) NOT NULL PRIMARY KEY,
		data LONGBLOB NOT NULL)`)
	if err != nil {
		return nil, fmt.Errorf("blob store: creating vigil_blobs: %w", err)
	}
	return &SQLBlobs{db: db}, nil
}

// Put stores data under its digest, which is checked. A transaction commits
// it before Put returns.
func (s *SQLBlobs) Put(ctx context.Context, digest string, data []byte) error {
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != digest {
		return errors.New("blob store: digest does not match content")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO vigil_blobs (digest, data) VALUES (?, ?)
		ON DUPLICATE KEY UPDATE digest = digest`, sum[:], data)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	return nil
}

// Get returns the blob with the given digest.
func (s *SQLBlobs) Get(ctx context.Context, digest string) ([]byte, error) {
	d, err := hex.DecodeString(digest)
	if err != nil || len(d) != sha256.Size {
		return nil, fmt.Errorf("blob store: %w", fs.ErrNotExist)
	}
	var b []byte
	err = s.db.QueryRowContext(ctx, `SELECT data FROM vigil_blobs WHERE digest = ?`, d).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob store: sha256:%s: %w", digest, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return b, nil
}
