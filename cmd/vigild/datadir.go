package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// The data directory's layout.
const (
	keyFile     = "log.key"  // the log's note signing key, mode 0600
	vkeyFile    = "log.vkey" // its verifier key, for clients
	treeDir     = "tree"     // Tessera's POSIX tree: what /checkpoint and /tile serve
	antispamDir = "antispam" // Tessera's badger antispam index
	blobsDir    = "blobs"    // content-addressed SBOM statements
	indexDir    = "index"    // the query index and the state of the audit that builds it
)

// dataDir is an opened data directory.
type dataDir struct {
	path     string
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	created  bool // the log is new: create it rather than open it
}

// openDataDir opens the data directory, or prepares a new one if it does
// not exist or is empty: a new log key named origin, written with mode 0600,
// and its vkey. A directory that has content but no key, or a key without a
// log, is refused rather than silently given a new log. An empty origin means
// the key's own name when opening.
func openDataDir(dir, origin string) (*dataDir, error) {
	d := &dataDir{path: dir}
	kp := filepath.Join(dir, keyFile)
	_, err := os.Stat(kp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading data directory: %w", err)
		}
		// A lone vkey is what a first start leaves if it stops before
		// writing the key; anything else is not ours.
		if len(ents) > 1 || len(ents) == 1 && ents[0].Name() != vkeyFile {
			return nil, fmt.Errorf("data directory %s has content but no %s: not a vigil log, refusing to start a new log there", dir, keyFile)
		}
		if err := os.Remove(filepath.Join(dir, vkeyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing a stale vkey: %w", err)
		}
		if err := d.createKey(origin); err != nil {
			return nil, err
		}
		d.created = true
	case err != nil:
		return nil, fmt.Errorf("reading log key: %w", err)
	default:
		if err := d.loadKey(origin); err != nil {
			return nil, err
		}
		// A key without a tree means the first start stopped between
		// writing the key and creating the log: finish creating it.
		ents, err := os.ReadDir(d.tree())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading tree directory: %w", err)
		}
		d.created = len(ents) == 0
	}
	return d, nil
}

func (d *dataDir) tree() string     { return filepath.Join(d.path, treeDir) }
func (d *dataDir) antispam() string { return filepath.Join(d.path, antispamDir) }
func (d *dataDir) blobs() string    { return filepath.Join(d.path, blobsDir) }
func (d *dataDir) index() string    { return filepath.Join(d.path, indexDir) }

func (d *dataDir) createKey(origin string) error {
	if origin == "" {
		return errors.New("creating a log needs --origin")
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return fmt.Errorf("generating log key: %w", err)
	}
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := writeFileSync(filepath.Join(d.path, vkeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	// The private key last: its presence marks the directory as a log's.
	if err := writeFileSync(filepath.Join(d.path, keyFile), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	return d.loadKey(origin)
}

func (d *dataDir) loadKey(origin string) error {
	var err error
	d.signer, d.verifier, d.vkey, err = loadLogKey(filepath.Join(d.path, keyFile), filepath.Join(d.path, vkeyFile), origin)
	return err
}

// loadLogKey reads a log's note signer key from kp, and its verifier key
// from vp, and checks that they are a pair of the given origin (any, if
// empty). The key must not be readable by others, nor writable by its
// group; a group may read it, as Kubernetes mounts a Secret for a pod's
// fsGroup.
func loadLogKey(kp, vp, origin string) (note.Signer, note.Verifier, string, error) {
	fi, err := os.Stat(kp)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading log key: %w", err)
	}
	if fi.Mode().Perm()&0o027 != 0 {
		return nil, nil, "", fmt.Errorf("log key %s is readable by others or writable by its group (mode %#o): chmod 600 it (or 640)", kp, fi.Mode().Perm())
	}
	b, err := os.ReadFile(kp)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading log key: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, nil, "", fmt.Errorf("parsing log key %s: %w", kp, err)
	}
	if origin != "" && origin != signer.Name() {
		return nil, nil, "", fmt.Errorf("--origin %q does not match the log's origin %q", origin, signer.Name())
	}
	vb, err := os.ReadFile(vp)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading log vkey: %w", err)
	}
	vkey := strings.TrimSpace(string(vb))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, "", fmt.Errorf("parsing log vkey %s: %w", vp, err)
	}
	if verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() {
		return nil, nil, "", fmt.Errorf("%s does not match %s", vp, kp)
	}
	return signer, verifier, vkey, nil
}

// writeFileSync creates name exclusively with the given mode and fsyncs it
// and its directory.
func writeFileSync(name string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	dir, err := os.Open(filepath.Dir(name))
	if err != nil {
		return fmt.Errorf("syncing directory of %s: %w", name, err)
	}
	defer dir.Close()
	return dir.Sync()
}
