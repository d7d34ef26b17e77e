package personality

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	gcs "cloud.google.com/go/storage"
	"github.com/vigil-log/vigil/client"
	"google.golang.org/api/googleapi"
)

// Blobs stores payloads too large for a leaf (SBOM statements) under their
// SHA-256 digest, in lowercase hex. BlobStore (a directory), SQLBlobs (the
// log's MySQL database) and GCSBlobs (the log's GCS bucket) implement it.
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
	if _, err := checkDigest(digest, data); err != nil {
		return err
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
	if !validDigest(digest) {
		return nil, fmt.Errorf("blob store: %w", fs.ErrNotExist)
	}
	b, err := os.ReadFile(s.path(digest))
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return b, nil
}

// checkDigest checks that digest is data's SHA-256, in lowercase hex, and
// returns the raw sum.
func checkDigest(digest string, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != digest {
		return nil, errors.New("blob store: digest does not match content")
	}
	return sum[:], nil
}

// validDigest reports whether digest is a lowercase hex SHA-256, so that
// nothing else is ever made a file or object name.
func validDigest(digest string) bool {
	d, err := hex.DecodeString(digest)
	return err == nil && len(d) == sha256.Size && hex.EncodeToString(d) == digest
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
	sum, err := checkDigest(digest, data)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO vigil_blobs (digest, data) VALUES (?, ?)
		ON DUPLICATE KEY UPDATE digest = digest`, sum, data)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	return nil
}

// Get returns the blob with the given digest.
func (s *SQLBlobs) Get(ctx context.Context, digest string) ([]byte, error) {
	if !validDigest(digest) {
		return nil, fmt.Errorf("blob store: %w", fs.ErrNotExist)
	}
	d, _ := hex.DecodeString(digest)
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM vigil_blobs WHERE digest = ?`, d).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob store: sha256:%s: %w", digest, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return b, nil
}

// GCSBlobs keeps blobs as objects of the log's GCS bucket, under
// blobs/sha256/<hex digest>, beside Tessera's tiles, so that every frontend
// of the log reads what any of them stored.
type GCSBlobs struct {
	bucket *gcs.BucketHandle
}

// gcsBlobPrefix is where blobs live in the bucket; Tessera's objects are
// checkpoint and tile/.
const gcsBlobPrefix = "blobs/sha256/"

// NewGCSBlobs stores blobs in bucket, through c, which the caller closes.
func NewGCSBlobs(c *gcs.Client, bucket string) *GCSBlobs {
	return &GCSBlobs{bucket: c.Bucket(bucket)}
}

// Put stores data under its digest, which is checked. GCS has the object
// durably when the upload's Close returns; an object already there (the
// same content, under its digest) is left as it is.
func (s *GCSBlobs) Put(ctx context.Context, digest string, data []byte) error {
	if _, err := checkDigest(digest, data); err != nil {
		return err
	}
	w := s.bucket.Object(gcsBlobPrefix + digest).If(gcs.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ContentType = "application/octet-stream"
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("blob store: %w", err)
	}
	err := w.Close()
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusPreconditionFailed {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	return nil
}

// Get returns the blob with the given digest.
func (s *GCSBlobs) Get(ctx context.Context, digest string) ([]byte, error) {
	if !validDigest(digest) {
		return nil, fmt.Errorf("blob store: %w", fs.ErrNotExist)
	}
	r, err := s.bucket.Object(gcsBlobPrefix + digest).NewReader(ctx)
	if errors.Is(err, gcs.ErrObjectNotExist) {
		return nil, fmt.Errorf("blob store: sha256:%s: %w", digest, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return b, nil
}
