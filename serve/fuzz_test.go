package serve

import (
	"bufio"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary requests to the health check in front of the
// test app, as the server would after parsing them, and checks that the
// health check answers exactly the requests for its path and leaves every
// other one to the app untouched: the response must be the one the app
// alone gives. Plain go test runs the seeds; go test -fuzz=FuzzHandler
// explores.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct {
		method, target, healthPath string
		draining                   bool
	}{
		{"GET", "/healthcheck", "/healthcheck", false},
		{"HEAD", "/healthcheck", "/healthcheck", true},
		{"POST", "/healthcheck", "/healthcheck", false},
		{"OPTIONS", "/healthcheck?x=%zz", "/healthcheck", true},
		{"GET", "/", "/healthcheck", false},
		{"GET", "/healthcheck/", "/healthcheck", false},
		{"GET", "/%68ealthcheck", "/healthcheck", true},
		{"GET", "//healthcheck", "/healthcheck", false},
		{"GET", "/healthcheck/../", "/healthcheck", false},
		{"GET", "/%2e%2e/healthcheck", "/healthcheck", false},
		{"GET", "http://other.example/healthcheck", "/healthcheck", true},
		{"GET", "/status/ready", "/status/ready", false},
		{"GET", "/healthcheck", "/status/ready", false},
		{"POST", "/echo", "/echo", false},
		{"BREW", "/", "/healthcheck", false},
		{"CONNECT", "example.com:443", "/healthcheck", false},
		{"GET", "*", "/healthcheck", false},
	} {
		f.Add(seed.method, seed.target, seed.healthPath, seed.draining)
	}

	app := testApp()
	f.Fuzz(func(t *testing.T, method, target, healthPath string, draining bool) {
		if CheckHealthPath(healthPath) != nil {
			return // Run refuses it
		}
		req, ok := parseRequest(method, target)
		if !ok {
			return // the server answers 400 itself; no handler runs
		}
		var appCalls int
		h := newHandler(healthPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			appCalls++
			app.ServeHTTP(w, r)
		}))
		h.draining.Store(draining)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("%s %q, health check %s, draining %v: "+format, append([]any{method, target, healthPath, draining}, args...)...)
		}

		if req.URL.Path != healthPath {
			if appCalls != 1 {
				fail("the app ran %d times, want once", appCalls)
			}
			alone := httptest.NewRecorder()
			req, _ := parseRequest(method, target) // ServeMux records its match in the request
			app.ServeHTTP(alone, req)
			if rec.Code != alone.Code || rec.Body.String() != alone.Body.String() || !maps.EqualFunc(rec.Header(), alone.Header(), slices.Equal) {
				fail("answered %d %q %v, the app alone %d %q %v",
					rec.Code, rec.Body, rec.Header(), alone.Code, alone.Body, alone.Header())
			}
			return
		}
		if appCalls != 0 {
			fail("the app ran for the health check")
		}
		switch {
		case method != "GET" && method != "HEAD":
			if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
				fail("%d with Allow %q, want 405 with Allow GET, HEAD", res.StatusCode, res.Header.Get("Allow"))
			}
		case draining:
			if res.StatusCode != 503 || rec.Body.String() != `"Draining"` {
				fail("%d %q, want 503 \"Draining\"", res.StatusCode, rec.Body)
			}
		default:
			if res.StatusCode != 200 || rec.Body.String() != `"Healthy"` {
				fail("%d %q, want 200 \"Healthy\"", res.StatusCode, rec.Body)
			}
		}
		if method == "GET" || method == "HEAD" {
			for k, v := range noCache {
				if got := res.Header.Get(k); got != v {
					fail("%s = %q, want %q", k, got, v)
				}
			}
		}
	})
}

// parseRequest builds the request the server would hand to its handler, or
// reports false if the server would reject it before that.
func parseRequest(method, target string) (*http.Request, bool) {
	if strings.ContainsAny(method+target, "\r\n") {
		return nil, false // one value cannot span lines on the wire
	}
	raw := method + " " + target + " HTTP/1.1\r\nHost: service.test\r\n\r\n"
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return nil, false
	}
	return req, true
}
