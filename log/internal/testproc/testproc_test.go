package testproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestDiesWithParent: a server started by Start dies when the process that
// started it is killed, even after the runtime has had time to end idle
// threads. The parent is this test binary run again.
func TestDiesWithParent(t *testing.T) {
	if pidFile := os.Getenv("TESTPROC_PARENT"); pidFile != "" {
		cmd := exec.Command("sleep", "300")
		if err := Start(cmd); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
		time.Sleep(time.Minute) // killed before this ends
		return
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(os.Args[0], "-test.run", "^TestDiesWithParent$")
	parent.Env = append(os.Environ(), "TESTPROC_PARENT="+pidFile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(string(b))
		if time.Now().After(deadline) {
			parent.Process.Kill()
			t.Fatal("the parent did not start its child")
		}
	}
	time.Sleep(200 * time.Millisecond)
	parent.Process.Kill()
	parent.Wait()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// Signal 0 checks existence; a zombie would still answer, but the
		// child's parent is gone, so init reaps it.
		if err := syscall.Kill(pid, 0); err != nil {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the child %d outlived its killed parent", pid)
		}
	}
}
