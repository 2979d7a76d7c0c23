package integ

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

// Contract is what the deployed service must answer (docs/contract.md):
// its health check, its probe, and CORS.
type Contract struct {
	// HealthPath is the health check's path: the healthCheckPath context key.
	HealthPath string
	// Origin is sent with the CORS preflight: any origin when
	// corsAllowedOrigins is "*", else one of the listed ones.
	Origin string
	// Probe is what the app must answer: probePath, probeStatus, probeBody
	// (the health check path answering 200 unless cdk.json sets them).
	Probe contract.Contract
}

// Check sends the three requests of the contract to base (the ServiceUrl
// output) and returns every way the answers differ from it.
func (c Contract) Check(ctx context.Context, client *http.Client, base string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// GET the health path: 200, with any body, as the target group's
	// matcher wants.
	if res, body, err := do(ctx, client, http.MethodGet, base+c.HealthPath, nil); err != nil {
		fail("GET %s: %v", c.HealthPath, err)
	} else if res.StatusCode != http.StatusOK {
		fail("GET %s: %d %q, want 200", c.HealthPath, res.StatusCode, contract.Excerpt(body))
	}

	// The probe: the app's own answer.
	if res, body, err := do(ctx, client, http.MethodGet, base+c.Probe.ProbePath, nil); err != nil {
		fail("GET %s: %v", c.Probe.ProbePath, err)
	} else if err := c.Probe.CheckProbe(res.StatusCode, body); err != nil {
		errs = append(errs, err)
	}

	// A CORS preflight on the probe, or on / when the probe is the health
	// check, which serve.Run answers before the app and its CORS: 204,
	// allowing the origin and GET.
	path := c.Probe.ProbePath
	if path == c.HealthPath {
		path = "/"
	}
	preflight := http.Header{"Origin": {c.Origin}, "Access-Control-Request-Method": {http.MethodGet}}
	if res, _, err := do(ctx, client, http.MethodOptions, base+path, preflight); err != nil {
		fail("CORS preflight: %v", err)
	} else {
		const keep = " (corsAllowedOrigins: keep the CORS middleware, docs/contract.md)"
		if res.StatusCode != http.StatusNoContent {
			fail("CORS preflight on %s from %s: %d, want 204"+keep, path, c.Origin, res.StatusCode)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != c.Origin {
			fail("CORS preflight on %s from %s: Access-Control-Allow-Origin %q, want * or the origin"+keep, path, c.Origin, got)
		}
		if got := res.Header.Get("Access-Control-Allow-Methods"); !slices.Contains(splitList(got), http.MethodGet) {
			fail("CORS preflight on %s from %s: Access-Control-Allow-Methods %q, want GET in it"+keep, path, c.Origin, got)
		}
	}
	return errors.Join(errs...)
}

// WaitHealthy polls GET url every interval until it answers 200, and
// returns how long that took.
func WaitHealthy(ctx context.Context, client *http.Client, url string, interval time.Duration) (time.Duration, error) {
	start := time.Now()
	var last string
	for {
		res, _, err := do(ctx, client, http.MethodGet, url, nil)
		switch {
		case err == nil && res.StatusCode == http.StatusOK:
			return time.Since(start), nil
		case err == nil:
			last = res.Status
		default:
			last = err.Error()
		}
		if err := sleep(ctx, interval); err != nil {
			return 0, fmt.Errorf("no 200 from %s after %s (last: %s): %w", url, time.Since(start).Round(time.Second), last, err)
		}
	}
}

// LoadStats counts what a Load sent.
type LoadStats struct {
	Requests, Failed int64
	// Errors holds the first few failures, for the report.
	Errors []string
}

// Load sends GET url from workers goroutines, each pausing between its
// requests, until ctx ends, and counts the failures: a transport error or
// any status but 200. Half the workers keep their connections alive; the
// others open a new one per request, as new clients do. A request in flight
// when ctx ends is finished and counted, not cut off.
func Load(ctx context.Context, url string, workers int, pause, timeout time.Duration) LoadStats {
	var stats LoadStats
	var requests, failed atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: w%2 == 1}}
		wg.Go(func() {
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				requests.Add(1)
				res, _, err := do(context.Background(), client, http.MethodGet, url, nil)
				if err == nil && res.StatusCode != http.StatusOK {
					err = errors.New(res.Status)
				}
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(stats.Errors) < 5 {
						stats.Errors = append(stats.Errors, time.Now().UTC().Format(time.TimeOnly)+" "+err.Error())
					}
					mu.Unlock()
				}
				sleep(ctx, pause)
			}
		})
	}
	wg.Wait()
	stats.Requests, stats.Failed = requests.Load(), failed.Load()
	return stats
}

// Task is one ECS task, as DescribeTasks reports it.
type Task struct {
	ID               string
	LastStatus       string // RUNNING, PENDING, ...
	CapacityProvider string // FARGATE or FARGATE_SPOT
}

// CheckPlacement checks the capacity-provider strategy at work: at least
// minTasks tasks running, the first onDemandBase of them on FARGATE and
// every other on FARGATE_SPOT.
func CheckPlacement(tasks []Task, minTasks, onDemandBase int) error {
	var onDemand, spot int
	var other []string
	for _, t := range tasks {
		if t.LastStatus != "RUNNING" {
			continue
		}
		switch t.CapacityProvider {
		case "FARGATE":
			onDemand++
		case "FARGATE_SPOT":
			spot++
		default:
			other = append(other, t.ID+" on "+t.CapacityProvider)
		}
	}
	running := onDemand + spot + len(other)
	wantOnDemand := min(onDemandBase, running)
	switch {
	case len(other) > 0:
		return fmt.Errorf("tasks on neither FARGATE nor FARGATE_SPOT: %s", strings.Join(other, ", "))
	case running < minTasks:
		return fmt.Errorf("%d tasks running, want at least minTasks (%d)", running, minTasks)
	case onDemand != wantOnDemand || spot != running-wantOnDemand:
		return fmt.Errorf("%d tasks on FARGATE and %d on FARGATE_SPOT, want %d and %d (onDemandBaseTasks %d)", onDemand, spot, wantOnDemand, running-wantOnDemand, onDemandBase)
	}
	return nil
}

// Deployment is one ECS service deployment, as DescribeServices reports it.
type Deployment struct {
	ID           string
	RolloutState string // IN_PROGRESS, COMPLETED or FAILED
	Running      int
	Desired      int
}

// DeploymentDone reports whether deployment id has finished: it is the only
// one left, completed, with all its tasks running. A failed one (the circuit
// breaker or an alarm rolled it back) is an error.
func DeploymentDone(deployments []Deployment, id string) (bool, error) {
	for _, d := range deployments {
		if d.ID == id && d.RolloutState == "FAILED" {
			return false, fmt.Errorf("deployment %s failed (rolled back)", id)
		}
	}
	if len(deployments) != 1 {
		return false, nil
	}
	d := deployments[0]
	if d.ID != id {
		return false, fmt.Errorf("deployment %s is gone; %s (%s) is the service's only one", id, d.ID, d.RolloutState)
	}
	return d.RolloutState == "COMPLETED" && d.Running == d.Desired, nil
}

// do sends one request and reads the whole body.
func do(ctx context.Context, client *http.Client, method, url string, header http.Header) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("reading the body: %w", err)
	}
	return res, string(body), nil
}

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		out = append(out, strings.TrimSpace(v))
	}
	return out
}
