package witness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-log/vigil/client"
)

// The state directory's layout (see the package documentation).
const (
	lockName        = "LOCK"
	checkpointsName = "checkpoints"
	evidenceName    = "evidence"
)

// stateDir is an open, locked state directory.
//
// Its methods are called with the log's lock held (writeCheckpoint,
// writeEvidence) or before the witness serves (open, readCheckpoint); they do
// not synchronize among themselves beyond the file system's guarantees.
type stateDir struct {
	path string
	lock *os.File
}

// openStateDir opens the state directory, creating it and its layout if it
// is missing or empty, and takes its lock. A directory holding anything
// else than the layout is refused: it is not a witness's, and starting over
// in it would lose nothing of ours but might hide an operator's mistake.
func openStateDir(path string) (_ *stateDir, created bool, err error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating state directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(path, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("opening state directory lock: %w", err)
	}
	if err := lockFile(lf); err != nil {
		lf.Close()
		if errors.Is(err, errLocked) {
			return nil, false, fmt.Errorf("state directory %s is in use by another witness", path)
		}
		return nil, false, fmt.Errorf("locking state directory: %w", err)
	}
	d := &stateDir{path: path, lock: lf}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, false, fmt.Errorf("reading state directory: %w", err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		switch n := e.Name(); n {
		case lockName, checkpointsName, evidenceName:
			have[n] = true
		default:
			return nil, false, fmt.Errorf("state directory %s holds %q: not a witness state directory", path, n)
		}
	}
	created = !have[checkpointsName]
	for _, sub := range []string{checkpointsName, evidenceName} {
		if !have[sub] {
			if err := os.Mkdir(filepath.Join(path, sub), 0o700); err != nil {
				return nil, false, fmt.Errorf("creating state directory: %w", err)
			}
		}
	}
	// The new subdirectories must survive a crash before any file is
	// renamed into them.
	if len(have) < 3 {
		if err := syncDir(path); err != nil {
			return nil, false, err
		}
	}
	if err := d.removeTemporaries(); err != nil {
		return nil, false, err
	}
	return d, created, nil
}

// removeTemporaries removes what a crash in the middle of a write leaves:
// temporary files and directories, which were never renamed into place and
// so were never part of the state.
func (d *stateDir) removeTemporaries() error {
	for _, sub := range []string{checkpointsName, evidenceName} {
		dir := filepath.Join(d.path, sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("reading state directory: %w", err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					return fmt.Errorf("removing a temporary file: %w", err)
				}
			}
		}
	}
	return nil
}

// close releases the directory's lock.
func (d *stateDir) close() error { return d.lock.Close() }

// originHash is the lowercase hex SHA-256 of an origin line, which names a
// log in URLs and file names.
func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// readCheckpoint returns the stored cosigned checkpoint of a log, or nil if
// the witness never cosigned one.
func (d *stateDir) readCheckpoint(hash string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.path, checkpointsName, hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading stored checkpoint: %w", err)
	}
	return b, nil
}

// writeCheckpoint durably replaces a log's stored cosigned checkpoint. When
// it returns nil, the new checkpoint survives a crash. When it fails, the
// file holds the old checkpoint or the new one; which is unknown.
func (d *stateDir) writeCheckpoint(hash string, b []byte) error {
	return client.WriteFileAtomic(filepath.Join(d.path, checkpointsName, hash), b, 0o600)
}

// writeEvidence durably keeps the two checkpoints that show a fork: the one
// the witness cosigned and a conflicting one the log signed for the same
// size. It returns the name of the evidence directory under evidence/. The
// same conflicting checkpoint is kept once, however often it is sent.
func (d *stateDir) writeEvidence(hash, origin string, size uint64, cosigned, conflicting []byte, detected time.Time) (string, error) {
	digest := sha256.Sum256(conflicting)
	name := fmt.Sprintf("%s-%d-%s", hash, size, hex.EncodeToString(digest[:8]))
	evDir := filepath.Join(d.path, evidenceName)
	final := filepath.Join(evDir, name)
	if _, err := os.Stat(final); err == nil {
		return name, nil
	}
	tmp, err := os.MkdirTemp(evDir, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("creating evidence directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	info := fmt.Sprintf("origin %s\nsize %d\ndetected %s\n", origin, size, detected.UTC().Format(time.RFC3339))
	for _, f := range []struct {
		name string
		b    []byte
	}{{"cosigned", cosigned}, {"conflicting", conflicting}, {"info", []byte(info)}} {
		if err := writeFileSync(filepath.Join(tmp, f.name), f.b); err != nil {
			return "", err
		}
	}
	if err := syncDir(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("renaming evidence directory: %w", err)
	}
	return name, syncDir(evDir)
}

// writeFileSync creates name with b and fsyncs it.
func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Base(name), err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(name), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", filepath.Base(name), err)
	}
	return f.Close()
}

// syncDir fsyncs a directory, making the creations, renames and removals
// of its entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory to sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}
