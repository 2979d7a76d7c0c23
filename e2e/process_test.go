package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildService builds the service binary once per test binary, the way the
// Dockerfile does. go test puts its own go first on PATH.
var buildService = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "e2e-service-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "service")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./service")
	cmd.Dir = ".." // the module root, as in the Dockerfile
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./service: %v\n%s", err, out)
	}
	return bin, nil
})

// instance is one task: the service binary running on a loopback port.
type instance struct {
	t      *testing.T
	name   string
	addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	output testhelp.SyncBuffer // stdout and stderr
	exited <-chan struct{}
	// listening is the service's startup log line.
	listening map[string]any
}

// startInstance runs the binary with exactly env (nothing inherited) plus
// its own PORT, and returns once it logs that it is listening. It is killed
// at the end of the test if still running.
func startInstance(t *testing.T, name string, env map[string]string) *instance {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the service binary and HAProxy; skipped with -short")
	}
	bin, err := buildService()
	if err != nil {
		t.Fatal(err)
	}
	port := testhelp.FreePort(t)
	in := &instance{t: t, name: name, addr: "127.0.0.1:" + strconv.Itoa(port)}
	in.cmd = exec.Command(bin)
	for k, v := range env {
		if k != "PORT" {
			in.cmd.Env = append(in.cmd.Env, k+"="+v)
		}
	}
	in.cmd.Env = append(in.cmd.Env, "PORT="+strconv.Itoa(port))
	in.cmd.Stdout = &in.output
	in.cmd.Stderr = &in.output
	in.exited, _ = testhelp.Start(t, in.cmd, in.output.String)

	// The service logs JSON lines from the start: "starting" with its own
	// settings, then "listening" once its port is open.
	deadline := time.After(5 * time.Second)
	for {
		out := in.output.String()
		complete := out[:strings.LastIndexByte(out, '\n')+1]
		for line := range strings.Lines(complete) {
			if err := json.Unmarshal([]byte(line), &in.listening); err != nil {
				t.Fatalf("%s: log line %q is not JSON", name, line)
			}
			if in.listening["msg"] == "listening" {
				return in
			}
		}
		select {
		case <-in.exited:
			t.Fatalf("%s exited at start-up: %v\n%s", name, in.cmd.ProcessState, in.output.String())
		case <-deadline:
			t.Fatalf("%s logged nothing within 5s of starting", name)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, as ECS does, and waits up to timeout for the process
// to exit. It returns how long the process took, and fails the test unless
// it exited 0 within timeout.
func (in *instance) stop(timeout time.Duration) time.Duration {
	in.t.Helper()
	start := time.Now()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		in.t.Fatalf("SIGTERM to %s: %v", in.name, err)
	}
	select {
	case <-in.exited:
		took := time.Since(start).Round(time.Millisecond)
		if code := in.cmd.ProcessState.ExitCode(); code != 0 {
			in.t.Errorf("%s exited %d after SIGTERM, want 0", in.name, code)
		}
		return took
	case <-time.After(timeout):
		// ECS would SIGKILL it now, cutting whatever it still serves.
		in.t.Errorf("%s still running %s after SIGTERM, the stop timeout", in.name, timeout)
		in.cmd.Process.Kill()
		<-in.exited
		return time.Since(start).Round(time.Millisecond)
	}
}
