package e2e

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

const (
	// clients is how many keep-alive connections carry the load.
	clients = 4
	// pause between one client's requests keeps the load steady without
	// taking the CPU that the health checks and the rest of the suite need.
	pause = 2 * time.Millisecond
)

// result is one request through the proxy.
type result struct {
	sent   time.Time
	server string // the X-Server header of the answer
	err    string // why the request failed; empty if it did not
}

// load is constant keep-alive traffic through the proxy to the probe:
// the request that shows the app works (probePath in cdk.json, else the
// health check path).
type load struct {
	t        *testing.T
	stopping atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	results  []result
	// draining holds the tasks that got SIGTERM while registered.
	draining map[string]bool
}

func startLoad(t *testing.T, url string, c contract.Contract) *load {
	l := &load{t: t, draining: map[string]bool{}}
	for range clients {
		l.wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for !l.stopping.Load() {
				r := result{sent: time.Now()}
				var status int
				r.server, status, r.err = get(client, url, c)
				l.mu.Lock()
				// A draining task answers its health check with another
				// status than 200, by contract, while it serves every other
				// request: with the health check as the probe, that answer
				// is the task still serving.
				if r.err != "" && c.ProbesHealthCheck() && status != 0 && l.draining[r.server] {
					r.err = ""
				}
				l.results = append(l.results, r)
				l.mu.Unlock()
				time.Sleep(pause)
			}
		})
	}
	t.Cleanup(func() { l.stop() })
	return l
}

// drain records that the task name is about to get SIGTERM while it is
// still registered, as on a Spot interruption.
func (l *load) drain(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draining[name] = true
}

// get sends the probe and returns the server that answered, the status and
// why it failed if it did: a connection error, or not the answer the
// contract wants (a 5xx from the proxy, say). Only a task's answer names
// the server: HAProxy's own error pages do not pass its http-response
// rules (only http-after-response rules see them, haproxy/haproxy commit
// 6d0c3df), as the control runs show, whose 503s count as failures.
func get(client *http.Client, url string, c contract.Contract) (server string, status int, failure string) {
	resp, err := client.Get(url + c.ProbePath)
	if err != nil {
		return "", 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 0, "reading the body: " + err.Error()
	}
	server = resp.Header.Get("X-Server")
	if err := c.CheckProbe(resp.StatusCode, string(body)); err != nil {
		// The server that failed it, if one did, for the alarms of its
		// target group.
		return server, resp.StatusCode, err.Error()
	}
	return server, resp.StatusCode, ""
}

// stop ends the load, letting requests in flight finish, and returns every
// result.
func (l *load) stop() []result {
	l.t.Helper()
	l.stopping.Store(true)
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // twice the client timeout
		l.t.Fatal("load clients still running 10s after stop")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.results)
}

// waitServed waits until every named server has answered a request sent
// after since.
func (l *load) waitServed(since time.Time, timeout time.Duration, servers ...string) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		counts := answered(l.results, since)
		l.mu.Unlock()
		missing := slices.DeleteFunc(slices.Clone(servers), func(s string) bool { return counts[s] > 0 })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			last := "none"
			for _, r := range l.results {
				if r.err != "" {
					last = r.err
				}
			}
			l.mu.Unlock()
			l.t.Fatalf("no good answer from %v within %s; good answers so far: %v; the last failure: %s", missing, timeout, counts, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answered counts, per server, the good answers to requests sent after
// since.
func answered(results []result, since time.Time) map[string]int {
	counts := map[string]int{}
	for _, r := range results {
		if r.err == "" && r.sent.After(since) {
			counts[r.server]++
		}
	}
	return counts
}

// lastSent returns when the last request that server answered was sent.
func lastSent(results []result, server string) time.Time {
	var last time.Time
	for _, r := range results {
		if r.err == "" && r.server == server && r.sent.After(last) {
			last = r.sent
		}
	}
	return last
}

// failures describes the failed requests, the first few in full, with their
// send times relative to ref.
func failures(results []result, ref time.Time) (n int, desc string) {
	var b strings.Builder
	for _, r := range results {
		if r.err == "" {
			continue
		}
		if n++; n <= 5 {
			fmt.Fprintf(&b, "\n  sent %+v after the stop began: %s", r.sent.Sub(ref).Round(time.Millisecond), r.err)
		}
	}
	return n, b.String()
}
