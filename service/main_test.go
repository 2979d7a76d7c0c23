package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a server writing logs while a test
// reads them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the complete lines written so far.
func (b *syncBuffer) Lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

func decodeJSON(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q is not JSON: %v", line, err)
	}
	return m
}

// freePort returns a TCP port that was free a moment ago. The service only
// accepts ports from 1 up, so tests cannot ask it for port 0.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitForReady polls url until it answers 200, sleeping between tries. It
// leaves no connection open.
func waitForReady(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %s", url, timeout)
}

func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// runningService is run started in the background by startRun.
type runningService struct {
	port           int
	addr           string // 127.0.0.1:port
	cancel         func() // the stop signal
	done           chan error
	stdout, stderr syncBuffer
}

// startRun starts run on a free port with the given arguments and settings
// and waits until /healthcheck answers.
func startRun(t *testing.T, args []string, settings map[string]string) *runningService {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &runningService{port: freePort(t), cancel: cancel, done: make(chan error, 1)}
	r.addr = "127.0.0.1:" + strconv.Itoa(r.port)
	vars := map[string]string{"PORT": strconv.Itoa(r.port)}
	maps.Copy(vars, settings)
	go func() { r.done <- run(ctx, args, env(vars), &r.stdout, &r.stderr) }()
	waitForReady(t, "http://"+r.addr+"/healthcheck", 5*time.Second)
	return r
}

func TestRunDrainsThenStops(t *testing.T) {
	t.Parallel()
	const drainDelay = 300 * time.Millisecond
	r := startRun(t, []string{"service"}, map[string]string{
		"DRAIN_DELAY":      drainDelay.String(),
		"SHUTDOWN_TIMEOUT": "2s",
	})
	port, base, done, stdout, stderr := r.port, "http://"+r.addr, r.done, &r.stdout, &r.stderr

	client := &http.Client{Timeout: time.Second}
	r.cancel()
	stopped := time.Now()

	// The health check fails at once: allow only the time for run to see
	// ctx on a machine busy with the parallel tests.
	for {
		status, body, err := get(client, base+"/healthcheck")
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusServiceUnavailable {
			if body != `"Draining"` {
				t.Errorf("draining body = %q", body)
			}
			break
		}
		if time.Since(stopped) > 200*time.Millisecond {
			t.Fatalf("/healthcheck still %d %s after the stop signal", status, time.Since(stopped))
		}
	}
	// Everything else is still served during the drain, on kept-alive and
	// on new connections.
	newConns := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	served := 0
	for time.Since(stopped) < drainDelay*2/3 {
		for _, c := range []*http.Client{client, newConns} {
			status, body, err := get(c, base+"/")
			if err != nil || status != http.StatusOK || body != "<h1>HELLO WORLD</h1>" {
				t.Fatalf("GET / during drain = %d %q %v, want 200", status, body, err)
			}
			served++
		}
		if status, _, err := get(client, base+"/healthcheck"); err != nil || status != http.StatusServiceUnavailable {
			t.Fatalf("/healthcheck during drain = %d %v, want 503", status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	select {
	case err := <-done:
		elapsed := time.Since(stopped)
		if err != nil {
			t.Fatalf("run = %v, want nil", err)
		}
		if elapsed < drainDelay {
			t.Errorf("run returned %s after the stop, before DRAIN_DELAY %s", elapsed, drainDelay)
		}
		t.Logf("served %d requests during the drain; run returned %s after the stop", served, elapsed)
	case <-time.After(drainDelay + 3*time.Second):
		t.Fatal("run did not return after DRAIN_DELAY + SHUTDOWN_TIMEOUT")
	}
	if _, err := client.Get(base + "/"); err == nil {
		t.Error("server still answers after run returned")
	}

	if stderr.String() != "" {
		t.Errorf("stderr = %q, want empty", stderr.String())
	}
	var msgs []string
	for _, line := range stdout.Lines() {
		msgs = append(msgs, decodeJSON(t, line)["msg"].(string))
	}
	if want := []string{"listening", "draining", "shutting down", "stopped"}; !equal(msgs, want) {
		t.Errorf("log messages = %q, want %q", msgs, want)
	}
	start := decodeJSON(t, stdout.Lines()[0])
	if got, want := start["addr"], "0.0.0.0:"+strconv.Itoa(port); got != want {
		t.Errorf("listening on %v, want %s", got, want)
	}
	if got, want := fmt.Sprint(start["config"]), fmt.Sprintf(
		"map[access_log:false cors_allow_credentials:false cors_allowed_origins:[*] drain_delay:300ms log_level:INFO port:%d shutdown_timeout:2s]", port); got != want {
		t.Errorf("startup config = %s, want %s", got, want)
	}
	if got := decodeJSON(t, stdout.Lines()[1])["cause"]; got != "context canceled" {
		t.Errorf("draining cause = %v", got)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestRunShutdownTimeout holds a request open past SHUTDOWN_TIMEOUT by never
// finishing its body: run must cut it and return an error.
func TestRunShutdownTimeout(t *testing.T) {
	t.Parallel()
	r := startRun(t, nil, map[string]string{
		"DRAIN_DELAY":      "0s",
		"SHUTDOWN_TIMEOUT": "200ms",
	})
	addr, done, stdout, cancel := r.addr, r.done, &r.stdout, r.cancel

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers and half the body: the server has the request and waits for
	// the rest of its body before it answers.
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server read the headers
	cancel()

	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run = %v, want a shutdown deadline error", err)
		}
		if !strings.Contains(stdout.String(), `"msg":"stopped with error"`) {
			t.Errorf("error not logged: %s", stdout.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
	// Close cut the held connection.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("held connection still open after Close (read %d bytes)", n)
	}
}

func TestRunBadSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"PORT": "abc"}, `invalid PORT "abc": want an integer from 1 to 65535`},
		{nil, map[string]string{"DRAIN_DELAY": "soon"}, `invalid DRAIN_DELAY "soon": want a duration of 0s or more, such as 15s`},
		{[]string{"service", "-port", "80"}, nil, `unexpected arguments ["-port" "80"]: the service is configured by environment variables`},
	}
	for _, tt := range tests {
		var stdout, stderr syncBuffer
		err := run(context.Background(), tt.args, env(tt.env), &stdout, &stderr)
		if err == nil || err.Error() != tt.want {
			t.Errorf("run = %v, want %q", err, tt.want)
		}
		if stderr.String() != tt.want+"\n" {
			t.Errorf("stderr = %q, want the one line %q", stderr.String(), tt.want)
		}
		if stdout.String() != "" {
			t.Errorf("stdout = %q, want empty", stdout.String())
		}
	}
}

func TestRunPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var stdout, stderr syncBuffer
	err = run(context.Background(), nil, env(map[string]string{"PORT": port}), &stdout, &stderr)
	if err == nil {
		t.Fatal("run succeeded on a port in use")
	}
	lines := stdout.Lines()
	if len(lines) != 1 || decodeJSON(t, lines[0])["level"] != "ERROR" {
		t.Errorf("stdout = %q, want one ERROR line", lines)
	}
}
