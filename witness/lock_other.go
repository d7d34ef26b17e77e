//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package witness

import (
	"errors"
	"os"
)

// errLocked reports that another open file description holds the lock.
var errLocked = errors.New("locked")

// lockFile would lock the state directory. Without flock(2) the witness
// cannot keep two processes from sharing a state directory, which could make
// it cosign inconsistent checkpoints, so it refuses to run.
func lockFile(*os.File) error {
	return errors.New("locking the state directory is not supported on this system")
}
