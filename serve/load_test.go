package serve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// TestDrainUnderLoad stops a server process with SIGTERM while 36 clients
// keep it busy, as on a rolling deploy or a Spot interruption, and checks
// that nobody notices: every request sent before the load balancer would
// have stopped routing here succeeds, the health check (at a configured
// path) fails from the signal on, a request still in flight when Shutdown
// begins completes, and the process exits 0 in time.
func TestDrainUnderLoad(t *testing.T) {
	const (
		drainDelay      = 2 * time.Second
		shutdownTimeout = 5 * time.Second
		keepAlive       = 32 // clients reusing connections, like the ALB
		fresh           = 4  // clients opening a connection per request
		// stopMargin plays the 5 s margin of production's DRAIN_DELAY: the
		// clients stop sending this long before Shutdown, as the ALB stops
		// routing well before the drain ends.
		stopMargin = 250 * time.Millisecond
	)
	p := startServer(t, map[string]string{
		"DRAIN_DELAY":       drainDelay.String(),
		"SHUTDOWN_TIMEOUT":  shutdownTimeout.String(),
		"HEALTH_CHECK_PATH": "/status/ready",
	})

	var (
		signalled atomic.Int64 // unix nanos of the SIGTERM, 0 before
		cutoff    atomic.Int64 // unix nanos after which clients stop
		sent      atomic.Int64
		duringOK  atomic.Int64
		mu        sync.Mutex
		failures  []string
		wg        sync.WaitGroup
	)
	cutoff.Store(time.Now().Add(time.Hour).UnixNano())
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	client := func(keepAlives bool) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: !keepAlives}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for time.Now().UnixNano() < cutoff.Load() {
			sentAt := time.Now()
			sent.Add(1)
			status, body, err := testhelp.Get(c, p.url+"/")
			switch {
			case err != nil:
				fail("%s after start: %v (reset: %v)", time.Since(sentAt), err, isReset(err))
				return
			case status != 200 || body != appBody:
				fail("GET / = %d %q", status, body)
				return
			}
			if s := signalled.Load(); s != 0 && sentAt.UnixNano() > s {
				duringOK.Add(1)
			}
		}
	}
	for i := range keepAlive + fresh {
		wg.Go(func() { client(i < keepAlive) })
	}

	// The health checker polls like the ALB, only faster.
	var first503 atomic.Int64
	wg.Go(func() {
		c := &http.Client{Timeout: 2 * time.Second}
		for time.Now().UnixNano() < cutoff.Load() {
			checkedAt := time.Now().UnixNano()
			status, body, err := testhelp.Get(c, p.health)
			if err != nil {
				fail("health check: %v", err)
				return
			}
			s := signalled.Load()
			switch {
			case status == 503 && body == `"Draining"`:
				if s == 0 {
					fail("health check 503 before the signal")
				}
				first503.CompareAndSwap(0, checkedAt)
			case status == 200 && body == `"Healthy"`:
				// Allow 200 ms for the signal to reach a busy process.
				if s != 0 && checkedAt > s+int64(200*time.Millisecond) {
					fail("health check 200 %s after the signal", time.Duration(checkedAt-s))
				}
				if first503.Load() != 0 {
					fail("health check 200 again after a 503")
				}
			default:
				fail("health check = %d %q", status, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	time.Sleep(time.Second) // full load before the stop
	before := sent.Load()
	start := time.Now()
	signalled.Store(start.UnixNano())
	cutoff.Store(start.Add(drainDelay - stopMargin).UnixNano())
	p.signal(syscall.SIGTERM)

	// A request whose body is still arriving when Shutdown begins: its
	// handler is reading the body, so the connection is active and
	// Shutdown must wait for it. Any client uploading slowly looks like
	// this, and ReadTimeout (10 s from the first byte) bounds how long it
	// can take, which is why SHUTDOWN_TIMEOUT 10 s suffices.
	time.Sleep(drainDelay - 500*time.Millisecond)
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	slowStart := time.Now()
	if _, err := io.WriteString(conn, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 8\r\n\r\nslow"); err != nil {
		t.Fatal(err)
	}
	p.waitLog("shutting down", 2*time.Second)
	// Shutdown closes the listener first: once dials fail it has begun.
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(start) > drainDelay+time.Second {
			t.Fatal("listener still open after DRAIN_DELAY")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := io.WriteString(conn, "body"); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request cut by Shutdown: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "slowbody" {
		t.Errorf("in-flight request = %d %q, want 200 %q", resp.StatusCode, body, "slowbody")
	}
	slowTook := time.Since(slowStart)

	code, _ := p.wait(shutdownTimeout + 2*time.Second)
	exitAfter := time.Since(start)
	wg.Wait()

	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if exitAfter < drainDelay || exitAfter > drainDelay+shutdownTimeout+time.Second {
		t.Errorf("exited %s after SIGTERM, want between %s and %s", exitAfter, drainDelay, drainDelay+shutdownTimeout+time.Second)
	}
	if first503.Load() == 0 {
		t.Error("the health check never answered 503")
	}
	if duringOK.Load() == 0 {
		t.Error("no request served during the drain")
	}
	t.Logf("clients: %d keep-alive + %d new-connection; %d requests before SIGTERM, %d sent after it (%d succeeded during the drain), %d failed",
		keepAlive, fresh, before, sent.Load()-before, duringOK.Load(), len(failures))
	t.Logf("health check 503 %s after SIGTERM; in-flight request finished %s after it began (200); exit code %d %s after SIGTERM (DRAIN_DELAY %s, SHUTDOWN_TIMEOUT %s)",
		time.Duration(first503.Load()-start.UnixNano()).Round(time.Millisecond), slowTook.Round(time.Millisecond),
		code, exitAfter.Round(time.Millisecond), drainDelay, shutdownTimeout)
}

// TestSoak sends many mixed requests and checks that the server gives
// memory and connections back: resident memory grows by less than 10 MB,
// and after the clients hang up it holds no more descriptors and no more
// goroutines than a server that served a single request. SOAK_REQUESTS sets
// the count (make bench runs 200000).
func TestSoak(t *testing.T) {
	total := 20_000
	if v := os.Getenv("SOAK_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SOAK_REQUESTS=%q: want a positive integer", v)
		}
		total = n
	}
	const workers = 32
	settings := map[string]string{"DRAIN_DELAY": "0s", "GOTRACEBACK": "all"}

	// The reference: a server that has served one request.
	ref := startServer(t, settings)
	ref.checkAlive()
	time.Sleep(100 * time.Millisecond) // let the closed connection's goroutine end
	refFDs := ref.fds()
	refTotal, refConns := countGoroutines(ref.goroutineDump())
	t.Logf("reference server after one request: %d descriptors, %d goroutines (%d for connections)", refFDs, refTotal, refConns)
	if refConns != 0 || refTotal == 0 {
		t.Fatalf("reference dump has %d goroutines, %d for connections: cannot compare", refTotal, refConns)
	}

	p := startServer(t, settings)
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	type call struct {
		method, path, body string
		status             int
		want               string // the answer's body, if it matters
	}
	upload := strings.Repeat("x", 2000)
	mix := []call{
		{"GET", "/", "", 200, appBody},
		{"GET", "/healthcheck", "", 200, `"Healthy"`},
		{"HEAD", "/", "", 200, ""},
		{"HEAD", "/healthcheck", "", 200, ""},
		{"POST", "/echo", upload, 200, upload},
		{"POST", "/healthcheck", "", 405, ""},
		{"POST", "/", "", 405, ""},
		{"GET", "/nope/" + strings.Repeat("x", 200), "", 404, ""},
	}
	// send sends n requests of the mix from 32 clients and stops at the
	// first failure, so that a server that hangs costs one client timeout.
	send := func(n int) (failed int, first error) {
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					mu.Lock()
					stop := first != nil
					mu.Unlock()
					if i >= n || stop {
						return
					}
					c := mix[i%len(mix)]
					req, _ := http.NewRequest(c.method, p.url+c.path, strings.NewReader(c.body))
					resp, err := client.Do(req)
					if err == nil {
						var body []byte
						body, err = io.ReadAll(resp.Body)
						resp.Body.Close()
						if err == nil && (resp.StatusCode != c.status || c.want != "" && string(body) != c.want) {
							err = fmt.Errorf("%s %s = %d %.40q, want %d %.40q", c.method, c.path, resp.StatusCode, body, c.status, c.want)
						}
					}
					if err != nil {
						mu.Lock()
						if failed++; first == nil {
							first = err
						}
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		return failed, first
	}

	if failed, err := send(5_000); failed > 0 {
		t.Fatalf("warm-up: %d failed, first: %v", failed, err)
	}
	tr.CloseIdleConnections()
	fds0 := p.waitFDs(refFDs, 2*time.Second)
	rss0, threads0 := p.rssMiB(), p.statusField("Threads")

	start := time.Now()
	failed, firstErr := send(total)
	took := time.Since(start)
	rssLoaded := p.rssMiB()
	tr.CloseIdleConnections()
	fds1 := p.waitFDs(fds0, 2*time.Second)
	time.Sleep(100 * time.Millisecond) // let connection goroutines finish
	rss1, threads1 := p.rssMiB(), p.statusField("Threads")
	endTotal, endConns := countGoroutines(p.goroutineDump())

	t.Logf("soak: %d requests from %d clients in %s (%.0f req/s), %d failed", total, workers, took.Round(time.Millisecond), float64(total)/took.Seconds(), failed)
	t.Logf("RSS after warm-up %.1f MiB, under load %.1f MiB, after %.1f MiB (growth %.1f MiB)", rss0, rssLoaded, rss1, rss1-rss0)
	t.Logf("descriptors after warm-up %d, after %d; threads %d -> %d; goroutines after %d (%d for connections), reference %d",
		fds0, fds1, threads0, threads1, endTotal, endConns, refTotal)
	if failed > 0 {
		t.Errorf("%d requests failed before the clients stopped, first: %v", failed, firstErr)
	}
	if growth := rss1 - rss0; growth >= 10 {
		t.Errorf("RSS grew by %.1f MiB, want < 10", growth)
	}
	if fds1 > fds0 {
		t.Errorf("%d descriptors open after the clients left, %d before", fds1, fds0)
	}
	if endTotal > refTotal || endConns > 0 {
		t.Errorf("%d goroutines (%d for connections) after the clients left, want <= %d as after one request", endTotal, endConns, refTotal)
	}
}

// TestSecondSignal checks the way out of a local run: the first Ctrl-C
// starts the drain, a second one ends the process at once instead of
// waiting out DRAIN_DELAY.
func TestSecondSignal(t *testing.T) {
	p := startServer(t, map[string]string{"DRAIN_DELAY": "30s"})
	p.signal(os.Interrupt)
	p.waitLog("draining", 2*time.Second)
	p.signal(os.Interrupt)
	code, took := p.wait(2 * time.Second)
	status := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if code != -1 || !status.Signaled() || status.Signal() != syscall.SIGINT {
		t.Errorf("exit code %d (%v), want killed by the second SIGINT", code, p.cmd.ProcessState)
	}
	t.Logf("the second SIGINT ended the process %s after it was sent, during a 30 s drain", took.Round(time.Millisecond))
}
