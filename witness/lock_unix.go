//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package witness

import (
	"errors"
	"os"
	"syscall"
)

// errLocked reports that another open file description holds the lock.
var errLocked = errors.New("locked")

// lockFile takes an exclusive flock(2) on f without waiting. The lock
// belongs to the open file: it is released when f is closed, including by
// the kernel when the process dies, so a crash never leaves it stale.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
