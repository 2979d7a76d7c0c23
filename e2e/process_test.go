package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
// Dockerfile does.
var buildService = sync.OnceValues(func() (string, error) { return build("./service") })

// build builds the main package pkg of the module into binDir, as the
// Dockerfile builds ./service. go test puts its own go first on PATH.
func build(pkg string) (string, error) {
	buildDir.Do(func() { binDir, buildDirErr = os.MkdirTemp("", "e2e-service-") })
	if buildDirErr != nil {
		return "", buildDirErr
	}
	bin := filepath.Join(binDir, filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Dir = ".." // the module root, as in the Dockerfile
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

var (
	buildDir    sync.Once
	buildDirErr error
)

// instance is one task: the service binary running on a loopback port.
type instance struct {
	t      *testing.T
	name   string
	addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	output testhelp.SyncBuffer // stdout and stderr
	exited <-chan struct{}
}

// healthPath is where the app answers health checks: HEALTH_CHECK_PATH,
// or serve's default when the task definition does not set it.
func healthPath(env map[string]string) string {
	if v, ok := env["HEALTH_CHECK_PATH"]; ok {
		return v
	}
	return "/healthcheck"
}

// startInstance runs the app (s.app, or ./service built as the Dockerfile
// builds it) with exactly env (nothing inherited) plus its own PORT, and
// returns once its health check answers 200, as a new task is ready for
// the load balancer. What the app logs meanwhile is its own business. It
// is killed at the end of the test if still running.
func startInstance(t *testing.T, s settings, name string, env map[string]string) *instance {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the service binary and HAProxy; skipped with -short")
	}
	bin := s.app
	if bin == "" {
		var err error
		if bin, err = buildService(); err != nil {
			t.Fatal(err)
		}
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

	health := "http://" + in.addr + healthPath(env)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.After(10 * time.Second)
	for {
		if resp, err := client.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in
			}
		}
		select {
		case <-in.exited:
			t.Fatalf("%s exited at start-up: %v\n%s\n(it gets the task's environment and, for each secret, a value from the environment, e2e/%s or a placeholder: docs/contract.md)",
				name, in.cmd.ProcessState, in.output.String(), secretsFile)
		case <-deadline:
			t.Fatalf("%s: GET %s answered no 200 within 10s of starting", name, health)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// listening returns the app's start-up line, the JSON object with msg
// "listening" that serve.Run logs, whatever else the app logs around it:
// lines that are not JSON are skipped. A pipe may hand over a line in
// pieces, so only whole lines count, and the line may arrive after the
// health check answers: it waits up to 2s for it.
func (in *instance) listening() map[string]any {
	in.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, line := range in.output.Lines() {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				return m
			}
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s logged no JSON line with \"msg\":\"listening\" (serve.Run logs it through a JSON logger; docs/contract.md):\n%s", in.name, in.output.String())
		}
		time.Sleep(5 * time.Millisecond)
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
