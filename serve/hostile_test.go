package serve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests here attack a server process and check that it refuses what it
// must, stays up, and keeps serving other clients at normal latency.

func TestHeaderLimit(t *testing.T) {
	p := startServer(t, map[string]string{"DRAIN_DELAY": "0s"})
	big := func(n int) string { return strings.Repeat("a", n) }
	var many strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&many, "X-H%d: %s\r\n", i, big(40))
	}
	tests := []struct {
		name, raw string
		status    int
	}{
		{"60 KiB header", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + big(60<<10) + "\r\n\r\n", 200},
		{"100 KiB header", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + big(100<<10) + "\r\n\r\n", 431},
		{"1 MiB header", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + big(1<<20) + "\r\n\r\n", 431},
		{"2000 headers, 100 KiB", "GET / HTTP/1.1\r\nHost: t\r\n" + many.String() + "\r\n", 431},
		{"100 KiB request line", "GET /" + big(100<<10) + " HTTP/1.1\r\nHost: t\r\n\r\n", 431},
	}
	for _, tt := range tests {
		resp, _, err := rawExchange(p.addr, tt.raw)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		t.Logf("%s (%d bytes): %s", tt.name, len(tt.raw), resp.Status)
	}
	p.checkAlive()
}

// TestSlowloris holds 200 connections that never finish their headers, half
// trickling a header line every 500 ms and half sending nothing at all. The
// server must close each after ReadHeaderTimeout (5 s) and serve others
// meanwhile. The test takes about 6 s for that reason: the timeout is a
// constant, not a setting to shorten.
func TestSlowloris(t *testing.T) {
	const attackers = 200
	ensureFiles(t, attackers+100)
	p := startServer(t, map[string]string{"DRAIN_DELAY": "0s"})
	before := probe(t, p.url)
	fds0 := p.settledFDs()

	type result struct {
		closedAfter time.Duration
		answered    string
		err         error
	}
	results := make([]result, attackers)
	var wg sync.WaitGroup
	for i := range attackers {
		wg.Go(func() {
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				results[i].err = err
				return
			}
			defer conn.Close()
			start := time.Now()
			stop := make(chan struct{})
			if i%2 == 0 {
				go func() {
					if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: t\r\n"); err != nil {
						return
					}
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						case <-time.After(500 * time.Millisecond):
						}
						if _, err := fmt.Fprintf(conn, "X-%d: x\r\n", n); err != nil {
							return
						}
					}
				}()
			}
			conn.SetReadDeadline(start.Add(15 * time.Second))
			b, _ := io.ReadAll(conn) // returns when the server closes
			close(stop)
			results[i].closedAfter = time.Since(start)
			results[i].answered = string(b)
		})
	}
	// Wait until the server holds every attacker's connection.
	held := p.fds() - fds0
	for deadline := time.Now().Add(2 * time.Second); held < attackers && time.Now().Before(deadline); held = p.fds() - fds0 {
		time.Sleep(20 * time.Millisecond)
	}
	// Probe once a second until the attackers are cut off.
	var during latencies
	for range 4 {
		during = append(during, probe(t, p.url)...)
		time.Sleep(time.Second)
	}
	wg.Wait()

	var minClose, maxClose time.Duration
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("attacker %d: %v", i, r.err)
		case r.closedAfter < ReadHeaderTimeout-200*time.Millisecond || r.closedAfter > ReadHeaderTimeout+2*time.Second:
			t.Errorf("attacker %d closed after %s, want about %s", i, r.closedAfter, ReadHeaderTimeout)
		case r.answered != "":
			t.Errorf("attacker %d got an answer: %q", i, r.answered)
		}
		if i == 0 || r.closedAfter < minClose {
			minClose = r.closedAfter
		}
		maxClose = max(maxClose, r.closedAfter)
	}
	t.Logf("%d slow-header connections (%d held open by the server at the peak) closed after %s to %s",
		attackers, held, minClose.Round(time.Millisecond), maxClose.Round(time.Millisecond))
	if held < attackers {
		t.Errorf("server held %d connections, want %d: the attack did not land", held, attackers)
	}
	checkLatency(t, "the slowloris attack", before, during)
	if n := p.waitFDs(fds0, 2*time.Second); n > fds0 {
		t.Errorf("%d descriptors open after the attack, %d before", n, fds0)
	}
	p.checkAlive()
}

// TestIdleConnections parks 2,000 keep-alive connections on the server, as
// a busy load balancer or many clients would, then checks that others are
// served at normal latency and that every parked connection is still usable:
// IdleTimeout (75 s) must outlast the ALB's 60 s.
func TestIdleConnections(t *testing.T) {
	const idle = 2000
	ensureFiles(t, idle+200)
	p := startServer(t, map[string]string{"DRAIN_DELAY": "0s"})
	before := probe(t, p.url)
	fds0, rss0 := p.settledFDs(), p.rssMiB()

	type parked struct {
		conn net.Conn
		r    *bufio.Reader
	}
	conns := make([]parked, idle)
	request := func(c parked) error {
		if _, err := io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != 200 || string(body) != appBody) {
			err = fmt.Errorf("%s %q", resp.Status, body)
		}
		return err
	}
	// each runs f on every connection from 50 goroutines and returns the
	// first error.
	each := func(f func(i int) error) error {
		var mu sync.Mutex
		var first error
		var wg sync.WaitGroup
		for w := range 50 {
			wg.Go(func() {
				for i := w; i < idle; i += 50 {
					if err := f(i); err != nil {
						mu.Lock()
						if first == nil {
							first = fmt.Errorf("connection %d: %w", i, err)
						}
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		return first
	}
	t.Cleanup(func() {
		for _, c := range conns {
			if c.conn != nil {
				c.conn.Close()
			}
		}
	})
	start := time.Now()
	err := each(func(i int) error {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			return err
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conns[i] = parked{conn, bufio.NewReader(conn)}
		return request(conns[i])
	})
	if err != nil {
		t.Fatalf("parking connections: %v", err)
	}
	opened := time.Since(start)
	held, rss := p.fds()-fds0, p.rssMiB()
	during := probe(t, p.url)
	time.Sleep(time.Second) // idle a while longer
	if err := each(func(i int) error { return request(conns[i]) }); err != nil {
		t.Errorf("reusing a parked connection: %v", err)
	}

	t.Logf("%d keep-alive connections opened and used in %s; the server held %d extra descriptors; RSS %.1f -> %.1f MiB",
		idle, opened.Round(time.Millisecond), held, rss0, rss)
	if held < idle {
		t.Errorf("server held %d connections, want %d", held, idle)
	}
	checkLatency(t, fmt.Sprintf("%d idle connections", idle), before, during)
	for _, c := range conns {
		c.conn.Close()
	}
	if n := p.waitFDs(fds0, 5*time.Second); n > fds0 {
		t.Errorf("%d descriptors open after the clients left, %d before", n, fds0)
	}
	p.checkAlive()
}

// TestMalformedRequests sends what no browser or load balancer would, over
// raw TCP, while others are served.
func TestMalformedRequests(t *testing.T) {
	p := startServer(t, map[string]string{"DRAIN_DELAY": "0s"})
	long := strings.Repeat("a", 60<<10)
	tests := []struct {
		name, raw string
		status    int
		location  string
	}{
		// Request lines and methods.
		{"garbage", "GARBAGE\r\n\r\n", 400, ""},
		{"binary", "\x00\x01\x02\xff\r\n\r\n", 400, ""},
		{"HTTP/0.9", "GET /\r\n\r\n", 400, ""},
		{"double space", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"HTTP/9.9", "GET / HTTP/9.9\r\nHost: t\r\n\r\n", 505, ""},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, ""},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n", 400, ""},
		{"bad Host", "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400, ""},
		{"method not a token", "G@T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"unknown method", "BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 405, ""},
		{"unknown method, unknown path", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"1000-byte method", strings.Repeat("A", 1000) + " / HTTP/1.1\r\nHost: t\r\n\r\n", 405, ""},
		{"CONNECT", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 405, ""},
		{"GET *", "GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"absolute URI", "GET http://evil.example/ HTTP/1.1\r\nHost: t\r\n\r\n", 200, ""},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 200, ""},
		// Headers and bodies.
		{"header without colon", "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400, ""},
		{"NUL in header", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400, ""},
		{"two Content-Lengths", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, ""},
		{"negative Content-Length", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400, ""},
		{"unknown Transfer-Encoding", "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ""},
		{"bad chunk", "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, ""},
		// Paths and queries.
		{"8 KiB path", "GET /" + long[:8<<10] + " HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"60 KiB path", "GET /" + long + " HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"NUL in path", "GET /\x00 HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"escaped NUL", "GET /%00 HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"raw high bytes", "GET /\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"dot-dot", "GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", 307, "/etc/passwd"},
		{"dot-dot to a route", "GET /healthcheck/../ HTTP/1.1\r\nHost: t\r\n\r\n", 307, "/"},
		{"double slash", "GET // HTTP/1.1\r\nHost: t\r\n\r\n", 307, "/"},
		{"escaped dot-dot", "GET /%2e%2e/healthcheck HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"escaped slash", "GET /healthcheck%2f HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"escaped letter", "GET /%68ealthcheck HTTP/1.1\r\nHost: t\r\n\r\n", 200, ""},
		{"junk query", "GET /?a=%zz&%%%;;== HTTP/1.1\r\nHost: t\r\n\r\n", 200, ""},
		{"60 KiB query", "GET /?" + long + " HTTP/1.1\r\nHost: t\r\n\r\n", 200, ""},
		{"DEL in query", "GET /healthcheck?\x7f HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		// The health check's own path.
		{"POST to the health check", "POST /healthcheck HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, ""},
		{"health check with a slash", "GET /healthcheck/ HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
		{"health check, double slash", "GET //healthcheck HTTP/1.1\r\nHost: t\r\n\r\n", 307, "/healthcheck"},
		{"health check in upper case", "GET /HEALTHCHECK HTTP/1.1\r\nHost: t\r\n\r\n", 404, ""},
	}
	before := probe(t, p.url)
	// Send the whole table from 4 clients, again and again while the probe
	// runs (at least 3 times). A client stops at its first failed
	// exchange, so a server that hangs costs one timeout per client.
	var (
		mu        sync.Mutex
		wrong     = map[string]string{}
		sent, bad int
		wg        sync.WaitGroup
		during    latencies
		probeErr  error
	)
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		during, probeErr = tryProbe(p.url)
	})
	for w := range 4 {
		wg.Go(func() {
			for round := 0; ; round++ {
				select {
				case <-done:
					if round >= 3 {
						return
					}
				default:
				}
				for i := w; i < len(tests); i += 4 {
					tt := tests[i]
					resp, _, err := rawExchange(p.addr, tt.raw)
					var msg string
					switch {
					case err != nil:
						msg = err.Error()
					case resp.StatusCode != tt.status:
						msg = fmt.Sprintf("status %d, want %d", resp.StatusCode, tt.status)
					case resp.Header.Get("Location") != tt.location:
						msg = fmt.Sprintf("Location %q, want %q", resp.Header.Get("Location"), tt.location)
					}
					mu.Lock()
					sent++
					if msg != "" {
						bad++
						wrong[tt.name] = msg
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	for name, msg := range wrong {
		t.Errorf("%s: %s", name, msg)
	}
	t.Logf("%d hostile requests of %d kinds from 4 clients; %d answered otherwise than expected", sent, len(tests), bad)
	checkLatency(t, "malformed requests", before, during)
	p.checkAlive()
}
