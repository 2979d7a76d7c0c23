package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// newTestServer serves NewServer(cfg) on a loopback httptest.Server, so that
// HEAD, Content-Length and the like behave as on the wire. The health check
// is serve's, tested there and in TestRun.
func newTestServer(t *testing.T, cfg config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewServer(slog.New(slog.DiscardHandler), cfg))
	t.Cleanup(srv.Close)
	return srv
}

func defaultConfig(t *testing.T) config {
	t.Helper()
	cfg, err := parseConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var (
	hello = map[string]string{
		"Content-Type":   "text/html; charset=utf-8",
		"Content-Length": "20",
	}
	notAllowed = map[string]string{
		"Allow":        "GET, HEAD",
		"Content-Type": "text/plain; charset=utf-8",
	}
	notFound = map[string]string{"Content-Type": "text/plain; charset=utf-8"}
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, defaultConfig(t))

	type route struct {
		method, path string
		status       int
		body         string
		header       map[string]string
	}
	tests := []route{
		{"GET", "/", 200, "<h1>HELLO WORLD</h1>", hello},
		{"HEAD", "/", 200, "", hello},
		{"GET", "/?q=1", 200, "<h1>HELLO WORLD</h1>", hello},
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		tests = append(tests, route{m, "/", 405, "Method Not Allowed\n", notAllowed})
	}
	// The health check is not one of the app's routes: serve answers it
	// before a request gets here.
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"} {
		for _, p := range []string{"/nope", "/index.html", "/healthcheck"} {
			tests = append(tests, route{m, p, 404, "404 page not found\n", notFound})
		}
	}
	tests = append(tests,
		route{"HEAD", "/nope", 404, "", notFound},
		route{"HEAD", "/healthcheck", 404, "", notFound},
	)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			resp, body := testhelp.Do(t, tt.method, srv.URL+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if body != tt.body {
				t.Errorf("body = %q, want %q", body, tt.body)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("unexpected %s without Origin", k)
				}
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const (
		app   = "https://app.example.com"
		local = "http://localhost:3000"
		evil  = "https://evil.example.com"
	)
	preflightVary := "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	listed := newTestServer(t, config{AllowedOrigins: []string{app, local}, AllowCredentials: true})
	wildcard := newTestServer(t, defaultConfig(t))

	// absent marks a header that must not be in the response.
	const absent = "<absent>"
	tests := []struct {
		name   string
		srv    *httptest.Server
		method string
		path   string
		header http.Header
		status int
		want   map[string]string
	}{
		{
			"simple GET, listed origin", listed, "GET", "/",
			http.Header{"Origin": {app}}, 200,
			map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"},
		},
		{
			"simple GET, second listed origin", listed, "GET", "/",
			http.Header{"Origin": {local}}, 200,
			map[string]string{"Access-Control-Allow-Origin": local, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"},
		},
		{
			"simple HEAD, listed origin", listed, "HEAD", "/",
			http.Header{"Origin": {app}}, 200,
			map[string]string{"Access-Control-Allow-Origin": app, "Vary": "Origin"},
		},
		{
			"simple GET, refused origin", listed, "GET", "/",
			http.Header{"Origin": {evil}}, 200,
			map[string]string{"Access-Control-Allow-Origin": absent, "Access-Control-Allow-Credentials": absent, "Vary": "Origin"},
		},
		{
			"simple GET, origin differing only by port", listed, "GET", "/",
			http.Header{"Origin": {"https://app.example.com:8443"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": absent, "Vary": "Origin"},
		},
		{
			"simple GET, origin as suffix", listed, "GET", "/",
			http.Header{"Origin": {"https://app.example.com.evil.example"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": absent, "Vary": "Origin"},
		},
		{
			"null origin", listed, "GET", "/",
			http.Header{"Origin": {"null"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": absent},
		},
		{
			"no origin", listed, "GET", "/",
			nil, 200,
			map[string]string{"Access-Control-Allow-Origin": absent, "Vary": "Origin"},
		},
		{
			"POST from a listed origin is not a CORS method", listed, "POST", "/",
			http.Header{"Origin": {app}}, 405,
			map[string]string{"Access-Control-Allow-Origin": absent, "Allow": "GET, HEAD"},
		},
		{
			"preflight, listed origin", listed, "OPTIONS", "/",
			http.Header{"Origin": {app}, "Access-Control-Request-Method": {"GET"}}, 204,
			map[string]string{
				"Access-Control-Allow-Origin":      app,
				"Access-Control-Allow-Methods":     "GET",
				"Access-Control-Allow-Credentials": "true",
				"Vary":                             preflightVary,
			},
		},
		{
			"preflight, allowed request header", listed, "OPTIONS", "/",
			http.Header{"Origin": {app}, "Access-Control-Request-Method": {"HEAD"}, "Access-Control-Request-Headers": {"content-type"}}, 204,
			map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Headers": "content-type"},
		},
		{
			"preflight, refused request header", listed, "OPTIONS", "/",
			http.Header{"Origin": {app}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"x-secret"}}, 204,
			map[string]string{"Access-Control-Allow-Origin": absent, "Access-Control-Allow-Headers": absent},
		},
		{
			"preflight, refused method", listed, "OPTIONS", "/",
			http.Header{"Origin": {app}, "Access-Control-Request-Method": {"DELETE"}}, 204,
			map[string]string{"Access-Control-Allow-Origin": absent, "Access-Control-Allow-Methods": absent, "Vary": preflightVary},
		},
		{
			"preflight, refused origin", listed, "OPTIONS", "/",
			http.Header{"Origin": {evil}, "Access-Control-Request-Method": {"GET"}}, 204,
			map[string]string{"Access-Control-Allow-Origin": absent, "Access-Control-Allow-Credentials": absent, "Vary": preflightVary},
		},
		{
			// rs/cors always counts OPTIONS as an allowed method.
			"OPTIONS without preflight headers reaches the mux", listed, "OPTIONS", "/",
			http.Header{"Origin": {app}}, 405,
			map[string]string{"Access-Control-Allow-Origin": app, "Allow": "GET, HEAD"},
		},
		{
			"wildcard, simple GET", wildcard, "GET", "/",
			http.Header{"Origin": {evil}}, 200,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": absent, "Vary": "Origin"},
		},
		{
			"wildcard, preflight", wildcard, "OPTIONS", "/",
			http.Header{"Origin": {evil}, "Access-Control-Request-Method": {"GET"}}, 204,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET", "Access-Control-Allow-Credentials": absent},
		},
		{
			"wildcard, no origin", wildcard, "GET", "/",
			nil, 200,
			map[string]string{"Access-Control-Allow-Origin": absent},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, _ := testhelp.Do(t, tt.method, tt.srv.URL+tt.path, tt.header)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			for k, v := range tt.want {
				got, ok := resp.Header[k]
				switch {
				case v == absent && ok:
					t.Errorf("%s = %q, want it absent", k, got)
				case v != absent && strings.Join(got, ", ") != v:
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		var logs testhelp.SyncBuffer
		cfg := defaultConfig(t)
		cfg.AccessLog = on
		srv := httptest.NewServer(NewServer(slog.New(slog.NewJSONHandler(&logs, nil)), cfg))
		testhelp.Do(t, "GET", srv.URL+"/", nil)
		testhelp.Do(t, "POST", srv.URL+"/nope", nil)
		srv.Close()

		lines := logs.Lines()
		if !on {
			if len(lines) != 0 {
				t.Errorf("ACCESS_LOG=false logged %q", lines)
			}
			continue
		}
		if len(lines) != 2 {
			t.Fatalf("ACCESS_LOG=true logged %d lines, want 2: %q", len(lines), lines)
		}
		for i, want := range []map[string]any{
			{"msg": "request", "method": "GET", "path": "/", "status": 200.0, "bytes": 20.0},
			{"msg": "request", "method": "POST", "path": "/nope", "status": 404.0, "bytes": 19.0},
		} {
			got := testhelp.DecodeJSON(t, lines[i])
			for k, v := range want {
				if got[k] != v {
					t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
				}
			}
		}
	}
}
