package integ

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/cors"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

// service answers like the real one (README, The service), with the same
// CORS library and options; spoil, when set, may answer instead.
func service(spoil func(w http.ResponseWriter, r *http.Request) bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "0")
		io.WriteString(w, `"Healthy"`)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<h1>HELLO WORLD</h1>")
	})
	h := cors.New(cors.Options{AllowedOrigins: []string{"*"}, AllowedMethods: []string{http.MethodGet, http.MethodHead}}).Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if spoil == nil || !spoil(w, r) {
			h.ServeHTTP(w, r)
		}
	})
}

// hello is the contract of the shipped cdk.json: hello world on /.
var hello = Contract{HealthPath: "/healthcheck", Origin: "https://integ.example.com",
	Probe: contract.Contract{ProbePath: "/", ProbeStatus: 200, ProbeBody: "HELLO WORLD"}}

func TestContractPassesTheService(t *testing.T) {
	srv := httptest.NewServer(service(nil))
	defer srv.Close()
	if err := hello.Check(t.Context(), srv.Client(), srv.URL); err != nil {
		t.Error(err)
	}
}

func TestContractCatchesEachDeviation(t *testing.T) {
	// Each case spoils one answer; the check must name it.
	tests := []struct {
		name  string
		spoil func(w http.ResponseWriter, r *http.Request) bool
		want  string
	}{
		{"health status", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/healthcheck" {
				return false
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `"Draining"`)
			return true
		}, `GET /healthcheck: 503 "\"Draining\"", want 200`},
		{"cacheable health", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/healthcheck" {
				return false
			}
			io.WriteString(w, `"Healthy"`)
			return true
		}, `GET /healthcheck: Cache-Control "", want "no-cache, no-store, must-revalidate"`},
		{"page", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || r.URL.Path != "/" {
				return false
			}
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<h1>Welcome to nginx!</h1>")
			return true
		}, `GET /: 200 "<h1>Welcome to nginx!</h1>", want 200 with "HELLO WORLD" in the body`},
		{"status", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || r.URL.Path != "/" {
				return false
			}
			http.NotFound(w, r)
			return true
		}, `GET /: 404 "404 page not found\n", want 200`},
		{"no CORS", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodOptions {
				return false
			}
			w.WriteHeader(http.StatusMethodNotAllowed)
			return true
		}, "CORS preflight from https://integ.example.com: 405, want 204"},
		{"CORS without origin", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodOptions {
				return false
			}
			w.Header().Set("Access-Control-Allow-Methods", "GET")
			w.WriteHeader(http.StatusNoContent)
			return true
		}, `Access-Control-Allow-Origin "", want * or the origin`},
		{"unreachable", func(w http.ResponseWriter, r *http.Request) bool {
			panic(http.ErrAbortHandler)
		}, "GET /healthcheck: Get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(service(tt.spoil))
			defer srv.Close()
			err := hello.Check(t.Context(), srv.Client(), srv.URL)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v\nwant an error with %q", err, tt.want)
			}
		})
	}
}

func TestWaitHealthy(t *testing.T) {
	// GIVEN a service whose first four answers are the ALB's 503
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 4 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	took, err := WaitHealthy(t.Context(), srv.Client(), srv.URL, 10*time.Millisecond)
	if err != nil || calls.Load() != 5 || took < 40*time.Millisecond {
		t.Errorf("WaitHealthy = %s, %v after %d calls; want success at the fifth, after 4 pauses", took, err, calls.Load())
	}

	// and one that never gets healthy
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	calls.Store(-1000)
	if _, err := WaitHealthy(ctx, srv.Client(), srv.URL, 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), "last: 503 Service Unavailable") {
		t.Errorf("WaitHealthy = %v, want an error with the last status", err)
	}
}

func TestLoadCountsFailures(t *testing.T) {
	// GIVEN a server that fails every third request, and counts the
	// connections it accepts
	var served, failed, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%3 == 0 {
			failed.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	// WHEN two workers load it for a moment
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	stats := Load(ctx, srv.URL, 2, time.Millisecond, time.Second)

	// THEN the counts are the server's, and one worker reused its
	// connection while the other opened one per request
	if stats.Requests != served.Load() || stats.Failed != failed.Load() || stats.Failed == 0 {
		t.Errorf("Load counted %d requests, %d failed; the server served %d, failed %d", stats.Requests, stats.Failed, served.Load(), failed.Load())
	}
	if len(stats.Errors) == 0 || !strings.Contains(stats.Errors[0], "502 Bad Gateway") {
		t.Errorf("Errors = %q, want 502s", stats.Errors)
	}
	if n := conns.Load(); n < 3 || n > stats.Requests/2+2 {
		t.Errorf("%d connections for %d requests, want about one per request of one worker", n, stats.Requests)
	}
}

func TestLoadFinishesRequestsInFlight(t *testing.T) {
	// GIVEN slow answers, and the end of the load while requests wait
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()

	// THEN they finish and count as served, not failed
	stats := Load(ctx, srv.URL, 4, time.Millisecond, time.Second)
	if stats.Requests != 4 || stats.Failed != 0 {
		t.Errorf("Load = %+v, want 4 requests, none failed", stats)
	}
}

func TestLoadCountsRefusedConnections(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if stats := Load(ctx, url, 2, 5*time.Millisecond, time.Second); stats.Failed == 0 || stats.Failed != stats.Requests {
		t.Errorf("Load against a closed port = %+v, want every request failed", stats)
	}
}

func TestCheckPlacement(t *testing.T) {
	task := func(status, provider string) Task {
		return Task{ID: "t", LastStatus: status, CapacityProvider: provider}
	}
	od, spot := task("RUNNING", "FARGATE"), task("RUNNING", "FARGATE_SPOT")
	tests := []struct {
		name             string
		tasks            []Task
		minTasks, onBase int
		want             string
	}{
		{"defaults", []Task{od, spot}, 2, 1, ""},
		{"scaled out", []Task{spot, od, spot}, 2, 1, ""},
		{"all Spot", []Task{spot, spot}, 2, 0, ""},
		{"all on demand", []Task{od, od}, 2, 3, ""},
		{"pending ignored", []Task{od, spot, task("PENDING", "FARGATE_SPOT")}, 2, 1, ""},
		{"too few", []Task{od, task("PENDING", "FARGATE_SPOT")}, 2, 1, "1 tasks running, want at least minTasks (2)"},
		{"Spot never used", []Task{od, od}, 2, 1, "2 tasks on FARGATE and 0 on FARGATE_SPOT, want 1 and 1"},
		{"no on-demand base", []Task{spot, spot}, 2, 1, "0 tasks on FARGATE and 2 on FARGATE_SPOT, want 1 and 1"},
		{"launch type", []Task{od, task("RUNNING", "")}, 2, 1, "tasks on neither FARGATE nor FARGATE_SPOT: t on "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPlacement(tt.tasks, tt.minTasks, tt.onBase)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("CheckPlacement = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDeploymentDone(t *testing.T) {
	dep := func(id, state string, running, desired int) Deployment {
		return Deployment{ID: id, RolloutState: state, Running: running, Desired: desired}
	}
	tests := []struct {
		name string
		ds   []Deployment
		done bool
		err  string
	}{
		{"started", []Deployment{dep("new", "IN_PROGRESS", 0, 2), dep("old", "COMPLETED", 2, 2)}, false, ""},
		{"old draining", []Deployment{dep("new", "IN_PROGRESS", 2, 2), dep("old", "COMPLETED", 1, 0)}, false, ""},
		{"steady, tasks starting", []Deployment{dep("new", "IN_PROGRESS", 1, 2)}, false, ""},
		{"done", []Deployment{dep("new", "COMPLETED", 2, 2)}, true, ""},
		{"rolled back", []Deployment{dep("rollback", "IN_PROGRESS", 0, 2), dep("new", "FAILED", 0, 2)}, false, "deployment new failed"},
		{"replaced", []Deployment{dep("other", "COMPLETED", 2, 2)}, false, "deployment new is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, err := DeploymentDone(tt.ds, "new")
			if done != tt.done || tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("DeploymentDone = %v, %v; want %v, %q", done, err, tt.done, tt.err)
			}
		})
	}
}
