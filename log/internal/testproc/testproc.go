// Package testproc starts the servers that tests run (MariaDB, the Spanner
// emulator) so that they die with the test process, however it ends: a test
// binary killed by a timeout or a broken pipe leaves no server behind.
package testproc

import (
	"os/exec"
	"runtime"
	"syscall"
)

// Start starts cmd with SIGKILL as its parent-death signal. The kernel sends
// that signal when the thread that started the child exits, not the
// process, and Go ends threads it no longer needs; so the child is started
// from a goroutine locked to its thread, which then blocks for the life of
// the process.
func Start(cmd *exec.Cmd) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		errc <- cmd.Start()
		select {}
	}()
	return <-errc
}
