//go:build !unix

package integ

import (
	"os/exec"
	"time"
)

// stopGroupOnCancel keeps exec's default, killing the CLI when the context
// ends: process groups are a Unix notion.
func stopGroupOnCancel(cmd *exec.Cmd, grace time.Duration) (killRest func()) {
	cmd.WaitDelay = grace
	return func() {}
}
