package serve

// Helpers for the tests that run a server as a real process on loopback
// (load_test.go, hostile_test.go): signals, resident memory, descriptors
// and goroutine dumps need one. The process is this test binary, started
// again with serverEnv set, which makes TestMain run serverMain instead of
// the tests: no separate build, and the server is Run serving testApp.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// serverEnv, set to 1, turns the test binary into the test server.
const serverEnv = "SERVE_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		os.Exit(serverMain())
	}
	os.Exit(m.Run())
}

// serverMain is what a service's main does with this package, serving
// testApp: settings from the environment, a bad one reported as one line on
// stderr, JSON logs on stdout, exit code 1 on any error.
func serverMain() int {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := Run(context.Background(), logger, cfg, testApp()); err != nil {
		logger.Error("stopped with error", "error", err)
		return 1
	}
	return 0
}

// process is the test server running as a subprocess.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	url    string
	health string // the health check's URL
	stdout testhelp.SyncBuffer
	stderr testhelp.SyncBuffer
	exited <-chan struct{}
	err    *error // from Wait, once exited is closed
}

// startServer runs the test server with exactly env (nothing inherited, so
// a PORT in the developer's shell cannot leak in) and waits until it is
// healthy. The process is killed at the end of the test if still running.
func startServer(t *testing.T, env map[string]string) *process {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a server process under load; skipped with -short")
	}
	port := testhelp.FreePort(t)
	p := &process{
		t:    t,
		addr: "127.0.0.1:" + strconv.Itoa(port),
	}
	p.url = "http://" + p.addr
	p.health = p.url + DefaultHealthCheckPath
	if path := env["HEALTH_CHECK_PATH"]; path != "" {
		p.health = p.url + path
	}
	p.cmd = exec.Command(os.Args[0])
	p.cmd.Env = []string{serverEnv + "=1", "PORT=" + strconv.Itoa(port)}
	if dir := os.Getenv("GOCOVERDIR"); dir != "" {
		p.cmd.Env = append(p.cmd.Env, "GOCOVERDIR="+dir) // go test -cover
	}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	p.exited, p.err = testhelp.Start(t, p.cmd, func() string {
		return "stdout:\n" + p.stdout.String() + "\nstderr:\n" + p.stderr.String()
	})
	testhelp.WaitForReady(t, p.health, 10*time.Second, p.exited)
	return p
}

func (p *process) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code (-1 if a signal killed it) and how long it took.
func (p *process) wait(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(timeout):
		p.t.Fatalf("server still running after %s", timeout)
		return 0, 0
	}
}

// waitLog waits for a whole log line with the given msg: the pipe may hand
// over a line in pieces, and a line still being written is not yet logged.
func (p *process) waitLog(msg string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, line := range p.stdout.Lines() {
			if strings.Contains(line, `"msg":"`+msg+`"`) {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.t.Fatalf("no %q log line after %s", msg, timeout)
}

// checkAlive fails the test unless the process is running and serves the
// app now.
func (p *process) checkAlive() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.t.Fatalf("server exited: %v", *p.err)
	default:
	}
	checkApp(p.t, p.url)
}

// statusField reads a field such as VmRSS (kB) or Threads from
// /proc/PID/status.
func (p *process) statusField(name string) int {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				p.t.Fatal(err)
			}
			return n
		}
	}
	p.t.Fatalf("no %s in /proc/PID/status", name)
	return 0
}

func (p *process) rssMiB() float64 { return float64(p.statusField("VmRSS")) / 1024 }

// fds counts the process's open file descriptors: its listener, a few of
// the runtime's, and one per client connection.
func (p *process) fds() int {
	p.t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	return len(entries)
}

// settledFDs returns the descriptor count once connections that clients
// just closed are gone on the server side too.
func (p *process) settledFDs() int {
	n := p.fds()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := p.fds()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// waitFDs waits until the process has at most want descriptors open and
// returns the last count.
func (p *process) waitFDs(want int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	n := p.fds()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = p.fds()
	}
	return n
}

// goroutineDump stops the process with SIGQUIT, which makes the Go runtime
// print every goroutine's stack on stderr (GOTRACEBACK=all), and returns
// the dump. It is how the tests count goroutines without adding a debug
// endpoint or signal handler to the server.
func (p *process) goroutineDump() string {
	p.t.Helper()
	p.signal(syscall.SIGQUIT)
	p.wait(5 * time.Second)
	return p.stderr.String()
}

// countGoroutines counts the goroutines in a dump that run any code outside
// the runtime (the runtime's own, such as GC workers, come and go with its
// needs), and those serving a connection.
func countGoroutines(dump string) (total, conns int) {
	for _, block := range strings.Split(dump, "\n\n") {
		if !strings.HasPrefix(block, "goroutine ") || strings.HasPrefix(block, "goroutine 0 ") {
			continue
		}
		for line := range strings.Lines(block) {
			if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "created by ") {
				continue // not a function frame
			}
			if !strings.HasPrefix(line, "runtime.") {
				total++
				if strings.Contains(block, "net/http.(*conn).serve") {
					conns++
				}
				break
			}
		}
	}
	return total, conns
}

// latencies is a set of request durations.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

func (l latencies) String() string {
	return fmt.Sprintf("p50 %s p99 %s max %s over %d requests",
		l.percentile(50).Round(time.Microsecond), l.percentile(99).Round(time.Microsecond),
		l.percentile(100).Round(time.Microsecond), len(l))
}

// probe measures GET / from a few keep-alive clients, the "others" whose
// latency must stay normal while the server is attacked.
func probe(t *testing.T, url string) latencies {
	t.Helper()
	l, err := tryProbe(url)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tryProbe is probe for a goroutine other than the test's, which must not
// call t.Fatal. A client stops at its first error, so a server that hangs
// costs one client timeout, not one per request.
func tryProbe(url string) (latencies, error) {
	const workers, each = 4, 150
	transport := &http.Transport{MaxIdleConnsPerHost: workers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	var (
		mu   sync.Mutex
		all  latencies
		errs []error
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			var mine latencies
			for range each {
				start := time.Now()
				status, body, err := testhelp.Get(client, url+"/")
				if err == nil && (status != 200 || body != appBody) {
					err = fmt.Errorf("%d %q", status, body)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("probe: %d errors, first: %v", len(errs), errs[0])
	}
	return all, nil
}

// checkLatency compares the p99 measured under attack with the one measured
// before it. The bound is generous (5x, and at least 100 ms) because CI
// machines are small and shared; a server starved by the attack misses it
// by far.
func checkLatency(t *testing.T, what string, before, during latencies) {
	t.Helper()
	limit := max(5*before.percentile(99), 100*time.Millisecond)
	t.Logf("latency of GET / before: %s", before)
	t.Logf("latency of GET / during %s: %s (limit p99 %s)", what, during, limit)
	if p99 := during.percentile(99); p99 > limit {
		t.Errorf("p99 during %s = %s, want <= %s", what, p99, limit)
	}
}

// rawExchange sends raw on a new connection and reads one response. The
// write runs alongside the read, since the server may answer (431) before it
// has read everything.
func rawExchange(addr, raw string) (*http.Response, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	go io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// ensureFiles makes sure this process may open n more files, raising the
// soft limit towards the hard one if needed (Go already does so at start-up,
// so this matters only where the hard limit is low).
func ensureFiles(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < n {
		lim.Cur = min(n, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < n {
		t.Fatalf("needs %d open files, hard limit is %d: raise ulimit -Hn", n, lim.Max)
	}
}

// isReset reports whether err is a connection reset or abort.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}
