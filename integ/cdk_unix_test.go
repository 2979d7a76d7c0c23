//go:build unix

package integ

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIStopsItsProcessGroup interrupts a deploy whose CLI waits on a
// child. The fake CLI writes the child's pid to a file, at once or half a
// second after creating the file: the test must read the whole pid either
// way, where reading the file as soon as it existed read "" (issue 28).
func TestCLIStopsItsProcessGroup(t *testing.T) {
	for _, delay := range []string{"0", "0.5"} {
		t.Run("pid written "+delay+"s after the file is created", func(t *testing.T) {
			t.Setenv("FAKE_CDK_PID_DELAY", delay)
			testCLIStopsItsProcessGroup(t)
		})
	}
}

func testCLIStopsItsProcessGroup(t *testing.T) {
	// GIVEN a deploy that waits on a child process
	cli, _ := newFakeCLI(t)
	child := filepath.Join(t.TempDir(), "child")
	t.Setenv("FAKE_CDK_HANG", child)
	ctx, cancel := context.WithCancel(t.Context())
	// The interrupt comes once the child runs: when its whole pid is
	// written, or after 10s without it.
	type interrupt struct {
		pid int
		err error
		at  time.Time
	}
	interrupted := make(chan interrupt, 1)
	go func() {
		pid, err := waitForPid(child, 10*time.Second)
		interrupted <- interrupt{pid, err, time.Now()}
		cancel()
	}()

	// WHEN the test is interrupted
	_, err := cli.Deploy(ctx, testApp)
	returned := time.Now()

	// THEN the CLI and its child stop within the grace period
	got := <-interrupted
	if got.err != nil {
		t.Fatal(got.err)
	}
	if took := returned.Sub(got.at); err == nil || took > 5*time.Second {
		t.Errorf("Deploy = %v %s after the interrupt, want an error within the grace period", err, took)
	}
	for range 100 {
		if !alive(got.pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the CLI's child %d is still running", got.pid)
	syscall.Kill(got.pid, syscall.SIGKILL)
}

// waitForPid polls path until it holds a whole pid, a number ending in a
// newline, and returns it. A file that exists is not yet written: its
// writer may not have written anything, or only part of the number.
func waitForPid(path string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if line, complete := strings.CutSuffix(string(data), "\n"); err == nil && complete {
			pid, err := strconv.Atoi(line)
			if err != nil {
				return 0, fmt.Errorf("%s: %v", path, err)
			}
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: no whole pid after %s (content %q, %v)", path, timeout, data, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
