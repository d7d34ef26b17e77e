package personality

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"testing"

	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/gcptest"
	"github.com/vigil-log/vigil/log/logtest"
)

// TestBlobStores: every store keep a blob under its digest, refuse a wrong
// digest without storing anything, take a second Put of one blob, and
// answer a missing or malformed digest with fs.ErrNotExist (a 404).
func TestBlobStores(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) Blobs{
		"dir": func(t *testing.T) Blobs {
			s, err := NewBlobStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"gcs": func(t *testing.T) Blobs {
			st := logtest.OnGCP(t, gcptest.InProcess(t))
			return NewGCSBlobs(st.GCS, st.Bucket)
		},
		"mysql": func(t *testing.T) Blobs {
			s, err := NewSQLBlobs(ctx, logtest.MySQL(t).(vlog.MySQL).DB)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	blob := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	sum := sha256.Sum256(blob)
	digest := hex.EncodeToString(sum[:])
	other := sha256.Sum256([]byte("other"))
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if err := s.Put(ctx, hex.EncodeToString(other[:]), blob); err == nil {
				t.Error("Put under another blob's digest succeeded")
			}
			if _, err := s.Get(ctx, hex.EncodeToString(other[:])); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused Put stored something: Get = %v", err)
			}
			for range 2 {
				if err := s.Put(ctx, digest, blob); err != nil {
					t.Fatalf("Put: %v", err)
				}
			}
			got, err := s.Get(ctx, digest)
			if err != nil || string(got) != string(blob) {
				t.Errorf("Get = %q, %v", got, err)
			}
			for _, bad := range []string{"", "00", digest[:63], digest + "00", "zz" + digest[2:], strings.ToUpper(digest), "../../etc/passwd"} {
				if _, err := s.Get(ctx, bad); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Get(%q) = %v, want fs.ErrNotExist", bad, err)
				}
			}
		})
	}
}
