package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestDrainUnderLoad stops the real binary with SIGTERM while 36 clients
// keep it busy, as on a rolling deploy or a Spot interruption, and checks
// that nobody notices: every request sent before the load balancer would
// have stopped routing here succeeds, /healthcheck fails from the signal on,
// a request still in flight when Shutdown begins completes, and the process
// exits 0 in time.
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
	p := startService(t, map[string]string{
		"DRAIN_DELAY":      drainDelay.String(),
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
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
			status, body, err := get(c, p.url+"/")
			switch {
			case err != nil:
				fail("%s after start: %v (reset: %v)", time.Since(sentAt), err, isReset(err))
				return
			case status != 200 || body != "<h1>HELLO WORLD</h1>":
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
			status, body, err := get(c, p.url+"/healthcheck")
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

	// A request whose body is still arriving when Shutdown begins: the
	// handler has run, but the server reads the rest of the body before it
	// answers, so the connection is active and Shutdown must wait for it.
	// It is an honest in-flight request, not a test-only slow route: any
	// client uploading slowly looks like this, and ReadTimeout (10 s from
	// the first byte) bounds how long it can take, which is why
	// SHUTDOWN_TIMEOUT 10 s suffices.
	time.Sleep(drainDelay - 500*time.Millisecond)
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	slowStart := time.Now()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 8\r\n\r\nslow"); err != nil {
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
	if resp.StatusCode != 200 || string(body) != "<h1>HELLO WORLD</h1>" {
		t.Errorf("in-flight request = %d %q, want 200", resp.StatusCode, body)
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
		t.Error("/healthcheck never answered 503")
	}
	if duringOK.Load() == 0 {
		t.Error("no request served during the drain")
	}
	t.Logf("clients: %d keep-alive + %d new-connection; %d requests before SIGTERM, %d sent after it (%d succeeded during the drain), %d failed",
		keepAlive, fresh, before, sent.Load()-before, duringOK.Load(), len(failures))
	t.Logf("/healthcheck 503 %s after SIGTERM; in-flight request finished %s after it began (200); exit code %d %s after SIGTERM (DRAIN_DELAY %s, SHUTDOWN_TIMEOUT %s)",
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
	listed := map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com", "CORS_ALLOW_CREDENTIALS": "true", "DRAIN_DELAY": "0s", "GOTRACEBACK": "all"}

	// The reference: a server that has served one request.
	ref := startService(t, listed)
	ref.checkAlive()
	time.Sleep(100 * time.Millisecond) // let the closed connection's goroutine end
	refFDs := ref.fds()
	refTotal, refConns := countGoroutines(ref.goroutineDump())
	t.Logf("reference server after one request: %d descriptors, %d goroutines (%d for connections)", refFDs, refTotal, refConns)
	if refConns != 0 || refTotal == 0 {
		t.Fatalf("reference dump has %d goroutines, %d for connections: cannot compare", refTotal, refConns)
	}

	p := startService(t, listed)
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	type call struct {
		method, path string
		header       http.Header
		status       int
	}
	mix := []call{
		{"GET", "/", nil, 200},
		{"GET", "/healthcheck", nil, 200},
		{"HEAD", "/", nil, 200},
		{"GET", "/", http.Header{"Origin": {"https://app.example.com"}}, 200},
		{"GET", "/", http.Header{"Origin": {"https://evil.example.com"}}, 200},
		{"OPTIONS", "/", http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"GET"}}, 204},
		{"POST", "/", nil, 405},
		{"GET", "/nope/" + strings.Repeat("x", 200), nil, 404},
	}
	send := func(n int) (failed int, first error) {
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					c := mix[i%len(mix)]
					req, _ := http.NewRequest(c.method, p.url+c.path, nil)
					req.Header = c.header.Clone()
					resp, err := client.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != c.status {
							err = fmt.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.status)
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
		t.Errorf("%d of %d requests failed, first: %v", failed, total, firstErr)
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

// TestBinaryBadSetting checks main's side of a bad setting: exit code 1 and
// exactly one line on stderr, nothing on stdout.
func TestBinaryBadSetting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the service binary; skipped with -short")
	}
	bin, err := buildService()
	if err != nil {
		t.Fatal(err)
	}
	for env, want := range map[string]string{
		"PORT=70000":                  `invalid PORT "70000": want an integer from 1 to 65535`,
		"ACCESS_LOG=maybe":            `invalid ACCESS_LOG "maybe": want true or false`,
		"CORS_ALLOW_CREDENTIALS=true": `invalid CORS_ALLOW_CREDENTIALS "true": want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials`,
	} {
		cmd := exec.Command(bin)
		cmd.Env = []string{env}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Errorf("%s: exit code %d (%v), want 1", env, code, err)
		}
		if stderr.String() != want+"\n" || stdout.String() != "" {
			t.Errorf("%s: stderr %q, stdout %q; want the one line %q", env, stderr.String(), stdout.String(), want)
		}
	}
}
