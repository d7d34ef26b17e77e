package client

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteFileAtomic replaces the file name with b so that a crash at any
// moment leaves the old content or the new, never a mix, and so that the new
// content survives a crash once it returns nil. Every state file of vigil is
// written with it: the client's trusted checkpoints, fork proofs and audit
// state, the witness's cosigned checkpoints, the log's SBOM blobs.
//
// renameio writes and fsyncs a temporary file (named with a leading dot, in
// name's own directory, so a crash leaves only dot files to sweep) and
// renames it into place; the fsync of the directory, which renameio leaves
// to its caller, makes the rename itself durable.
func WriteFileAtomic(name string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(name)
	if err := renameio.WriteFile(name, b, perm, renameio.WithTempDir(dir)); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(name), err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", filepath.Base(name), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", filepath.Base(name), err)
	}
	return nil
}
