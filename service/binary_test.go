package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// buildBinary builds the service as the Dockerfile does (static, trimmed)
// into a directory that lives as long as the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the service binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "service")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// go test puts its own go first on PATH.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinary runs the real binary: main's side of a bad setting (exit code
// 1 and exactly one line on stderr), then a normal life with its own health
// check path, ended by SIGTERM. serve's tests put the same stop sequence
// under load and attack.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)

	for env, want := range map[string]string{
		"PORT=70000":                  `invalid PORT "70000": want an integer from 1 to 65535`,
		"HEALTH_CHECK_PATH=/health/":  `invalid HEALTH_CHECK_PATH "/health/": remove the trailing slash`,
		"ACCESS_LOG=maybe":            `invalid ACCESS_LOG "maybe": want true or false`,
		"CORS_ALLOW_CREDENTIALS=true": `invalid CORS_ALLOW_CREDENTIALS "true": want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials`,
	} {
		// On a free port, a setting wrongly accepted has the service
		// serve: the deadline kills it and the exit code gives it away.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{env, "PORT=" + strconv.Itoa(testhelp.FreePort(t))}
		if env == "PORT=70000" {
			cmd.Env = cmd.Env[:1]
		}
		var stdout, stderr testhelp.SyncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Errorf("%s: exit code %d (%v), want 1", env, code, err)
		}
		if stderr.String() != want+"\n" || stdout.String() != "" {
			t.Errorf("%s: stderr %q, stdout %q; want the one line %q", env, stderr.String(), stdout.String(), want)
		}
	}

	port := testhelp.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=" + strconv.Itoa(port), "HEALTH_CHECK_PATH=/ready", "DRAIN_DELAY=300ms", "SHUTDOWN_TIMEOUT=2s"}
	var stdout, stderr testhelp.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("service stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	testhelp.WaitForReady(t, base+"/ready", 10*time.Second, exited)

	client := &http.Client{Timeout: 2 * time.Second}
	if status, body, err := testhelp.Get(client, base+"/"); err != nil || status != 200 || body != "<h1>HELLO WORLD</h1>" {
		t.Errorf("GET / = %d %q %v, want 200 hello world", status, body, err)
	}
	if status, _, err := testhelp.Get(client, base+"/healthcheck"); err != nil || status != 404 {
		t.Errorf("GET /healthcheck = %d %v, want 404 with HEALTH_CHECK_PATH=/ready", status, err)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		status, body, err := testhelp.Get(client, base+"/ready")
		if err == nil && status == 503 && body == `"Draining"` {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("GET /ready = %d %q %v a second after SIGTERM, want 503 \"Draining\"", status, body, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("service still running 5s after SIGTERM (DRAIN_DELAY 300ms, SHUTDOWN_TIMEOUT 2s)")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 || stderr.String() != "" {
		t.Errorf("exit code %d, stderr %q; want 0 and nothing", code, stderr.String())
	}

	lines := stdout.Lines()
	var msgs []string
	for _, line := range lines {
		msgs = append(msgs, testhelp.DecodeJSON(t, line)["msg"].(string))
	}
	if want := []string{"starting", "listening", "draining", "shutting down", "stopped"}; !slices.Equal(msgs, want) {
		t.Fatalf("log messages = %q, want %q", msgs, want)
	}
	listening := testhelp.DecodeJSON(t, lines[1])
	for k, want := range map[string]any{
		"addr":              "0.0.0.0:" + strconv.Itoa(port),
		"health_check_path": "/ready",
		"idle_timeout":      "1m15s",
		"write_timeout":     "10s",
	} {
		if got := listening[k]; got != want {
			t.Errorf("listening line: %s = %v, want %v", k, got, want)
		}
	}
	t.Logf("exited 0 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}
