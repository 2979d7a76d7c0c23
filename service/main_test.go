package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// TestRun runs the service in-process with its own health check path and
// the access log on: the configured path is the health check (and the
// default one is just another unknown path), health checks stay out of the
// access log, and a stop drains and returns nil.
func TestRun(t *testing.T) {
	t.Parallel()
	port := testhelp.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var stdout, stderr testhelp.SyncBuffer
	done := make(chan error, 1)
	gone := make(chan struct{})
	go func() {
		err := run(ctx, []string{"service"}, env(map[string]string{
			"PORT":                 strconv.Itoa(port),
			"HEALTH_CHECK_PATH":    "/ready",
			"ACCESS_LOG":           "true",
			"CORS_ALLOWED_ORIGINS": "https://app.example.com",
			"DRAIN_DELAY":          "100ms",
		}), &stdout, &stderr)
		close(gone)
		done <- err
	}()
	testhelp.WaitForReady(t, base+"/ready", 5*time.Second, gone)

	client := &http.Client{Timeout: time.Second}
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/ready", 200, `"Healthy"`},
		{"/", 200, "<h1>HELLO WORLD</h1>"},
		{"/healthcheck", 404, "404 page not found\n"},
	} {
		if status, body, err := testhelp.Get(client, base+tt.path); err != nil || status != tt.status || body != tt.body {
			t.Errorf("GET %s = %d %q %v, want %d %q", tt.path, status, body, err, tt.status, tt.body)
		}
	}
	cancel()
	for stopped := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		status, body, err := testhelp.Get(client, base+"/ready")
		if err == nil && status == 503 && body == `"Draining"` {
			break
		}
		if time.Since(stopped) > time.Second {
			t.Fatalf("GET /ready a second after the stop = %d %q %v, want 503", status, body, err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after the stop")
	}

	if stderr.String() != "" {
		t.Errorf("stderr = %q, want empty", stderr.String())
	}
	var msgs []string
	var requests []string
	for _, line := range stdout.Lines() {
		m := testhelp.DecodeJSON(t, line)
		msgs = append(msgs, m["msg"].(string))
		switch m["msg"] {
		case "starting":
			if got, want := fmt.Sprint(m["config"]), "map[access_log:true cors_allow_credentials:false cors_allowed_origins:[https://app.example.com] log_level:INFO]"; got != want {
				t.Errorf("start-up config = %s, want %s", got, want)
			}
		case "listening":
			if m["addr"] != "0.0.0.0:"+strconv.Itoa(port) || m["health_check_path"] != "/ready" {
				t.Errorf("listening line %s: want addr 0.0.0.0:%d and health_check_path /ready", line, port)
			}
		case "request":
			requests = append(requests, m["path"].(string))
		}
	}
	// The draining health check after the stop is not logged either.
	if want := []string{"starting", "listening", "request", "request", "draining", "shutting down", "stopped"}; !slices.Equal(msgs, want) {
		t.Errorf("log messages = %q, want %q", msgs, want)
	}
	if want := []string{"/", "/healthcheck"}; !slices.Equal(requests, want) {
		t.Errorf("access log paths = %q, want %q", requests, want)
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
		{nil, map[string]string{"HEALTH_CHECK_PATH": "/health check"}, `invalid HEALTH_CHECK_PATH "/health check": want only letters, digits and - . _ ~ /`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "https://*.example.com"}, `invalid CORS_ALLOWED_ORIGINS "https://*.example.com": entry "https://*.example.com": wildcards are not supported: list each origin`},
		{[]string{"service", "-port", "80"}, nil, `unexpected arguments ["-port" "80"]: the service is configured by environment variables`},
	}
	for _, tt := range tests {
		// A free port, so that a setting wrongly accepted makes run serve
		// instead of failing to listen: the deadline below then fails the
		// test within seconds.
		vars := map[string]string{"PORT": strconv.Itoa(testhelp.FreePort(t))}
		maps.Copy(vars, tt.env)
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr testhelp.SyncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, tt.args, env(vars), &stdout, &stderr) }()
		select {
		case err := <-done:
			if err == nil || err.Error() != tt.want {
				t.Errorf("run = %v, want %q", err, tt.want)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("run with %v %v still running after 2s, want the error %q", tt.args, tt.env, tt.want)
		}
		cancel()
		if stderr.String() != tt.want+"\n" {
			t.Errorf("stderr = %q, want the one line %q", stderr.String(), tt.want)
		}
		if stdout.String() != "" {
			t.Errorf("stdout = %q, want empty", stdout.String())
		}
	}
}
