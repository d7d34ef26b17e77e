package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// TrustStore keeps a client's trusted state: per log, the latest checkpoint
// it verified. Each log has a directory named by the lowercase hex SHA-256
// of its origin (as witnesses name logs), holding:
//
//	checkpoint        the latest verified signed checkpoint, verbatim
//	LOCK              flock'd while the checkpoint is compared and swapped
//	forks/<time>.json fork proofs written when a split view was seen
//
// A TrustStore may be used concurrently, by goroutines and by processes:
// Swap is a compare-and-swap under an exclusive lock, so two CLI runs
// cannot roll each other back. Writes are atomic and durable (temporary
// file, fsync, rename, fsync of the directory).
type TrustStore struct {
	// Dir is the store's root directory. It is created on first write.
	Dir string
}

// DefaultStateDir returns where the CLI keeps trusted state by default:
// $XDG_STATE_HOME/vigil, or ~/.local/state/vigil.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "vigil"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the state directory (set --state): %w", err)
	}
	return filepath.Join(home, ".local", "state", "vigil"), nil
}

// StaleError is Swap's answer when the stored checkpoint is no longer the
// one the caller read: another run moved it. Current is what is stored now.
type StaleError struct {
	Current []byte
}

// Error says the trusted state moved.
func (e *StaleError) Error() string { return "trusted checkpoint changed concurrently" }

// LogDir returns the directory of the log with the given origin, where
// its trusted checkpoint, fork proofs and (by the CLI's default) audit
// state live.
func (s *TrustStore) LogDir(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return filepath.Join(s.Dir, hex.EncodeToString(h[:]))
}

// Latest returns the trusted checkpoint of the log with the given origin,
// verbatim, or nil if there is none yet. The caller verifies it again: the
// file is only as safe as the directory holding it.
func (s *TrustStore) Latest(origin string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.LogDir(origin), "checkpoint"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading trusted checkpoint: %w", err)
	}
	return b, nil
}

// Swap replaces the trusted checkpoint with next if the stored one is still
// old (nil: none stored). Otherwise it changes nothing and returns a
// *StaleError holding the current one. Deciding that next may replace old
// (it is consistent, and larger) is the caller's job.
func (s *TrustStore) Swap(origin string, old, next []byte) error {
	dir := s.LogDir(origin)
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := s.Latest(origin)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, old) {
		return &StaleError{Current: cur}
	}
	return WriteFileAtomic(filepath.Join(dir, "checkpoint"), next, 0o600)
}

// SaveFork writes a fork proof under the log's directory and returns the
// file's path.
func (s *TrustStore) SaveFork(origin string, f *ForkProof) (string, error) {
	b, err := f.Marshal()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.LogDir(origin), "forks")
	name := filepath.Join(dir, strconv.FormatInt(time.Now().UnixNano(), 10)+".json")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating fork-proof directory: %w", err)
	}
	if err := WriteFileAtomic(name, b, 0o600); err != nil {
		return "", err
	}
	return name, nil
}

// lockDir creates dir if needed and takes an exclusive flock on dir/LOCK,
// waiting for another holder to let go. Released by the returned func, or
// by the kernel if the process dies.
func lockDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking state directory: %w", err)
	}
	return func() { f.Close() }, nil
}
