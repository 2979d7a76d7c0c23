//go:build unix

package integ

import (
	"os/exec"
	"syscall"
	"time"
)

// stopGroupOnCancel starts cmd in a process group of its own, so that a
// Ctrl-C in the terminal reaches the test (which then tears down) but not a
// running `cdk destroy`. When the context ends, the group (the CLI, and the
// app it synthesizes with `go run`) gets SIGTERM; the CLI is killed after
// grace. The returned function, called after cmd.Wait, kills whatever is
// left of the group.
func stopGroupOnCancel(cmd *exec.Cmd, grace time.Duration) (killRest func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace
	return func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}
