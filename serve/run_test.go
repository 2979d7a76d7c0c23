package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// running is Run started in the background by startRun.
type running struct {
	port   int
	url    string // http://127.0.0.1:port
	cancel func() // the stop signal
	done   chan error
	logs   testhelp.SyncBuffer
}

// startRun starts Run in this process on a free port, serving testApp with
// the given settings (environment variables, read by ConfigFromEnv), and
// waits until the health check answers.
func startRun(t *testing.T, settings map[string]string) *running {
	t.Helper()
	settings["PORT"] = strconv.Itoa(testhelp.FreePort(t))
	cfg, err := ConfigFromEnv(env(settings))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &running{port: cfg.Port, cancel: cancel, done: make(chan error, 1)}
	r.url = "http://127.0.0.1:" + strconv.Itoa(r.port)
	logger := slog.New(slog.NewJSONHandler(&r.logs, nil))
	gone := make(chan struct{})
	go func() {
		err := Run(ctx, logger, cfg, testApp())
		close(gone)
		r.done <- err
	}()
	testhelp.WaitForReady(t, r.url+cfg.HealthCheckPath, 5*time.Second, gone)
	return r
}

// runWithin runs Run and returns its error, or fails the test if Run is
// still running after d: a config it should have refused would otherwise
// have it serve until go test's own timeout.
func runWithin(t *testing.T, d time.Duration, cfg Config, logger *slog.Logger) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, logger, cfg, testApp()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Run(%+v) still running after %s, want an error at once", cfg, d)
		return nil
	}
}

func TestRunDrainsThenStops(t *testing.T) {
	t.Parallel()
	const drainDelay = 300 * time.Millisecond
	r := startRun(t, map[string]string{
		"DRAIN_DELAY":       drainDelay.String(),
		"SHUTDOWN_TIMEOUT":  "2s",
		"HEALTH_CHECK_PATH": "/ready",
	})
	health := r.url + "/ready"

	client := &http.Client{Timeout: time.Second}
	r.cancel()
	stopped := time.Now()

	// The health check fails at once: allow only the time for Run to see
	// ctx on a machine busy with the parallel tests.
	for {
		status, body, err := testhelp.Get(client, health)
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
			t.Fatalf("health check still %d %s after the stop signal", status, time.Since(stopped))
		}
	}
	// Everything else is still served during the drain, on kept-alive and
	// on new connections.
	newConns := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	served := 0
	for time.Since(stopped) < drainDelay*2/3 {
		for _, c := range []*http.Client{client, newConns} {
			status, body, err := testhelp.Get(c, r.url+"/")
			if err != nil || status != http.StatusOK || body != appBody {
				t.Fatalf("GET / during drain = %d %q %v, want 200", status, body, err)
			}
			served++
		}
		if status, _, err := testhelp.Get(client, health); err != nil || status != http.StatusServiceUnavailable {
			t.Fatalf("health check during drain = %d %v, want 503", status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	select {
	case err := <-r.done:
		elapsed := time.Since(stopped)
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if elapsed < drainDelay {
			t.Errorf("Run returned %s after the stop, before DRAIN_DELAY %s", elapsed, drainDelay)
		}
		t.Logf("served %d requests during the drain; Run returned %s after the stop", served, elapsed)
	case <-time.After(drainDelay + 3*time.Second):
		t.Fatal("Run did not return after DRAIN_DELAY + SHUTDOWN_TIMEOUT")
	}
	if _, err := client.Get(r.url + "/"); err == nil {
		t.Error("server still answers after Run returned")
	}

	lines := r.logs.Lines()
	var msgs []string
	for _, line := range lines {
		msgs = append(msgs, testhelp.DecodeJSON(t, line)["msg"].(string))
	}
	if want := []string{"listening", "draining", "shutting down", "stopped"}; !slices.Equal(msgs, want) {
		t.Fatalf("log messages = %q, want %q", msgs, want)
	}
	if got := testhelp.DecodeJSON(t, lines[1])["cause"]; got != "context canceled" {
		t.Errorf("draining cause = %v", got)
	}
}

// TestListeningLine pins the start-up line that operators and the
// end-to-end test read: the address (IPv4 0.0.0.0 exactly, as the task
// definition expects) and the effective limits as Go durations, where
// idle_timeout is compared with the load balancer's idle timeout.
func TestListeningLine(t *testing.T) {
	t.Parallel()
	r := startRun(t, map[string]string{"DRAIN_DELAY": "0s"})
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the stop")
	}
	got := testhelp.DecodeJSON(t, r.logs.Lines()[0])
	want := map[string]any{
		"level":               "INFO",
		"msg":                 "listening",
		"addr":                "0.0.0.0:" + strconv.Itoa(r.port),
		"health_check_path":   "/healthcheck",
		"read_header_timeout": "5s",
		"read_timeout":        "10s",
		"write_timeout":       "10s",
		"idle_timeout":        "1m15s",
		"max_header_bytes":    float64(65536),
		"drain_delay":         "0s",
		"shutdown_timeout":    "10s",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "time" {
			t.Errorf("unexpected field %s = %v", k, got[k])
		}
	}
	if d, err := time.ParseDuration(got["idle_timeout"].(string)); err != nil || d <= 60*time.Second {
		t.Errorf("idle_timeout %v: want a duration above the ALB's 60 s", got["idle_timeout"])
	}
}

// TestRunShutdownTimeout holds a request open past SHUTDOWN_TIMEOUT by never
// finishing its body: Run must cut it and return an error.
func TestRunShutdownTimeout(t *testing.T) {
	t.Parallel()
	r := startRun(t, map[string]string{
		"DRAIN_DELAY":      "0s",
		"SHUTDOWN_TIMEOUT": "200ms",
	})

	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers and half the body: the handler is reading the body and
	// waits for the rest.
	if _, err := io.WriteString(conn, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server read the headers
	r.cancel()

	select {
	case err := <-r.done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want a shutdown deadline error", err)
		}
		const want = "shutdown: requests still in flight after 200ms were cut: context deadline exceeded"
		if err.Error() != want {
			t.Errorf("Run = %q, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	// Close cut the held connection.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("held connection still open after Close (read %d bytes)", n)
	}
}

func TestRunBadConfig(t *testing.T) {
	t.Parallel()
	good, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Config)) Config {
		c := good
		f(&c)
		return c
	}
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, `invalid Config.Port 0: want an integer from 1 to 65535`},
		{with(func(c *Config) { c.Port = 65536 }), `invalid Config.Port 65536: want an integer from 1 to 65535`},
		{with(func(c *Config) { c.DrainDelay = -time.Second }), `invalid Config.DrainDelay -1s: want a duration of 0s or more, such as 15s`},
		{with(func(c *Config) { c.ShutdownTimeout = 0 }), `invalid Config.ShutdownTimeout 0s: want a duration above 0s, such as 10s`},
		{with(func(c *Config) { c.HealthCheckPath = "" }), `invalid Config.HealthCheckPath "": want an absolute path such as /healthcheck`},
		{with(func(c *Config) { c.HealthCheckPath = "/" }), `invalid Config.HealthCheckPath "/": want a path of its own such as /healthcheck: / is the app's`},
	}
	for _, tt := range tests {
		var logs testhelp.SyncBuffer
		err := runWithin(t, 2*time.Second, tt.cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Run(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
		if logs.String() != "" {
			t.Errorf("Run(%+v) logged %q, want nothing", tt.cfg, logs.String())
		}
	}
}

func TestRunPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cfg, err := ConfigFromEnv(env(map[string]string{"PORT": port}))
	if err != nil {
		t.Fatal(err)
	}
	var logs testhelp.SyncBuffer
	err = runWithin(t, 2*time.Second, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if want := "listen tcp4 0.0.0.0:" + port + ": bind: address already in use"; err == nil || err.Error() != want {
		t.Errorf("Run on a port in use = %v, want %q", err, want)
	}
}

// TestRunDefaults runs Run as a quick try would: no logger (slog.Default)
// and no handler (http.DefaultServeMux, as with http.Server).
func TestRunDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := ConfigFromEnv(env(map[string]string{"PORT": strconv.Itoa(testhelp.FreePort(t)), "DRAIN_DELAY": "0s"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	gone := make(chan struct{})
	go func() {
		err := Run(ctx, nil, cfg, nil)
		close(gone)
		done <- err
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(cfg.Port)
	testhelp.WaitForReady(t, url+cfg.HealthCheckPath, 5*time.Second, gone)
	client := &http.Client{Timeout: time.Second}
	if status, body, err := testhelp.Get(client, url+"/"); err != nil || status != 404 || body != "404 page not found\n" {
		t.Errorf("GET / = %d %q %v, want http.DefaultServeMux's 404", status, body, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the stop")
	}
}
