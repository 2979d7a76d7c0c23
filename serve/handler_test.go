package serve

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// newTestServer serves the health check at healthPath in front of testApp
// on a loopback httptest.Server, so that HEAD, Content-Length and the like
// behave as on the wire. appCalls counts the requests that reach the app.
func newTestServer(t *testing.T, healthPath string) (srv *httptest.Server, h *handler, appCalls *atomic.Int64) {
	t.Helper()
	appCalls = new(atomic.Int64)
	app := testApp()
	h = newHandler(healthPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appCalls.Add(1)
		app.ServeHTTP(w, r)
	}))
	srv = httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, h, appCalls
}

var (
	noCache = map[string]string{
		"Cache-Control": "no-cache, no-store, must-revalidate",
		"Pragma":        "no-cache",
		"Expires":       "0",
	}
	healthy = map[string]string{
		"Content-Type":   "application/json",
		"Content-Length": "9",
		"Cache-Control":  noCache["Cache-Control"],
		"Pragma":         noCache["Pragma"],
		"Expires":        noCache["Expires"],
	}
	draining = map[string]string{
		"Content-Type":   "application/json",
		"Content-Length": "10",
		"Cache-Control":  noCache["Cache-Control"],
		"Pragma":         noCache["Pragma"],
		"Expires":        noCache["Expires"],
	}
	notAllowed = map[string]string{
		"Allow":        "GET, HEAD",
		"Content-Type": "text/plain; charset=utf-8",
	}
	fromApp  = map[string]string{"Content-Type": "application/json"}
	notFound = map[string]string{"Content-Type": "text/plain; charset=utf-8"}
)

type exchange struct {
	method, path string
	status       int
	body         string
	header       map[string]string
	app          bool // whether the app answers it
}

func check(t *testing.T, srv *httptest.Server, appCalls *atomic.Int64, tests []exchange) {
	t.Helper()
	for _, tt := range tests {
		before := appCalls.Load()
		resp, body := testhelp.Do(t, tt.method, srv.URL+tt.path, nil)
		if resp.StatusCode != tt.status || body != tt.body {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
		for k, v := range tt.header {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tt.method, tt.path, k, got, v)
			}
		}
		if reached := appCalls.Load() > before; reached != tt.app {
			t.Errorf("%s %s reached the app: %v, want %v", tt.method, tt.path, reached, tt.app)
		}
	}
}

func TestHealthCheck(t *testing.T) {
	t.Parallel()
	srv, _, appCalls := newTestServer(t, "/healthcheck")
	tests := []exchange{
		{"GET", "/healthcheck", 200, `"Healthy"`, healthy, false},
		{"HEAD", "/healthcheck", 200, "", healthy, false},
		{"GET", "/healthcheck?x=1", 200, `"Healthy"`, healthy, false},
		{"GET", "/", 200, appBody, fromApp, true},
		{"HEAD", "/", 200, "", fromApp, true},
		{"GET", "/healthcheck/", 404, "404 page not found\n", notFound, true},
		{"GET", "/HEALTHCHECK", 404, "404 page not found\n", notFound, true},
		{"GET", "/healthcheck/x", 404, "404 page not found\n", notFound, true},
		{"GET", "/nope", 404, "404 page not found\n", notFound, true},
		{"POST", "/", 405, "Method Not Allowed\n", notAllowed, true},
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		tests = append(tests, exchange{m, "/healthcheck", 405, "Method Not Allowed\n", notAllowed, false})
	}
	check(t, srv, appCalls, tests)
}

func TestHealthCheckDraining(t *testing.T) {
	t.Parallel()
	srv, h, appCalls := newTestServer(t, "/healthcheck")
	h.draining.Store(true)
	check(t, srv, appCalls, []exchange{
		{"GET", "/healthcheck", 503, `"Draining"`, draining, false},
		{"HEAD", "/healthcheck", 503, "", draining, false},
		{"POST", "/healthcheck", 405, "Method Not Allowed\n", notAllowed, false},
		{"GET", "/", 200, appBody, fromApp, true},
	})
}

// TestHealthCheckPath serves the health check at another path: the old one
// is then the app's like any other.
func TestHealthCheckPath(t *testing.T) {
	t.Parallel()
	srv, _, appCalls := newTestServer(t, "/status/ready")
	check(t, srv, appCalls, []exchange{
		{"GET", "/status/ready", 200, `"Healthy"`, healthy, false},
		{"HEAD", "/status/ready", 200, "", healthy, false},
		{"DELETE", "/status/ready", 405, "Method Not Allowed\n", notAllowed, false},
		{"GET", "/healthcheck", 404, "404 page not found\n", notFound, true},
		{"GET", "/status", 404, "404 page not found\n", notFound, true},
		{"GET", "/", 200, appBody, fromApp, true},
	})
}
