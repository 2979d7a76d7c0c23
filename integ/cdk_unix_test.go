//go:build unix

package integ

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCLIStopsItsProcessGroup(t *testing.T) {
	// GIVEN a deploy that waits on a child process
	cli, _ := newFakeCLI(t)
	child := filepath.Join(t.TempDir(), "child")
	t.Setenv("FAKE_CDK_HANG", child)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for range 100 {
			if _, err := os.Stat(child); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()

	// WHEN the test is interrupted
	start := time.Now()
	_, err := cli.Deploy(ctx, testApp)

	// THEN the CLI and its child stop within the grace period
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Deploy = %v after %s, want an error within the grace period", err, time.Since(start))
	}
	data, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the CLI's child %d is still running", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}

// alive reports whether pid runs: it exists and, where /proc says so, is
// not a zombie waiting for init to reap it.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}
