package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// TestLoadKey checks that the printed vkey is the one keygen writes to
// FILE.pub, for many keys (base64 keys often hold a "+"), and that bad key
// files are refused.
func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	for i := range 64 {
		skey, vkey, err := note.GenerateKey(rand.Reader, "witness.test/w1")
		if err != nil {
			t.Fatal(err)
		}
		want, err := fnote.VKeyToCosignatureV1(vkey)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "key")
		if err := os.WriteFile(f, []byte(skey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, got, err := loadKey(f)
		if err != nil || got != want {
			t.Fatalf("key %d: loadKey = %q, %v; want %q", i, got, err, want)
		}
		v, _ := fnote.NewVerifierForCosignatureV1(want)
		if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
			t.Fatalf("key %d: signer %s+%08x, verifier %s+%08x", i, s.Name(), s.KeyHash(), v.Name(), v.KeyHash())
		}
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		err           string
	}{
		{"readable by others", "", 0o644, "readable by others"},
		{"readable by the group", "", 0o640, "readable by others"},
		{"a verifier key", "witness.test/w1+d3cfd9c6+AcWJsL0dlUIQI+pGAuFBbbqS9ADWTQteOoHpH6T7DudF", 0o600, "not a note signer key"},
		{"garbage", "hello", 0o600, "not a note signer key"},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		if err := os.WriteFile(f, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, tc.mode); err != nil { // past the umask
			t.Fatal(err)
		}
		if _, _, err := loadKey(f); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: loadKey = %v, want an error about %q", tc.name, err, tc.err)
		}
	}
}
