package e2e

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// albConnectTimeout is how long an ALB waits to connect to a target: fixed
// by AWS, so no template holds it.
const albConnectTimeout = 10 * time.Second

// healthCheckerAgent is the User-Agent of an ALB's health checks (as they
// appear in a target's access log), which the proxy's checks send too.
const healthCheckerAgent = "ELB-HealthChecker/2.0"

// requireHAProxy skips the test when haproxy is not installed, or fails it
// under CI, which must run it.
func requireHAProxy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		const msg = "haproxy not found on PATH: install it with apt-get install -y haproxy"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// proxy is HAProxy playing the load balancer: its one backend is the target
// group, health-checked as the template says, with durations scaled.
type proxy struct {
	t       *testing.T
	s       settings
	url     string
	sock    string // the runtime API, at admin level
	cmd     *exec.Cmd
	output  testhelp.SyncBuffer // stdout and stderr
	exited  <-chan struct{}
	started time.Time
}

// backend is the HAProxy backend that stands for the target group, and
// testBackend the one the test rule sends to.
const (
	backend     = "targets"
	testBackend = "test"
)

// testHeader and testValue are the test rule's condition, or a header no
// request carries when the service has no test rule.
func testHeader(s settings) string {
	if s.testHeader == "" {
		return "X-No-Test-Rule"
	}
	return s.testHeader
}

func testValue(s settings) string {
	if s.testValue == "" {
		return "none"
	}
	return s.testValue
}

// startProxy starts HAProxy with targets registered and returns once every
// one of them has passed a health check. The response header X-Server names
// the target that answered.
func startProxy(t *testing.T, s settings, targets ...*instance) *proxy {
	t.Helper()
	dir := t.TempDir()
	p := &proxy{t: t, s: s, sock: filepath.Join(dir, "admin.sock")}
	p.url = "http://127.0.0.1:" + strconv.Itoa(testhelp.FreePort(t))
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
	stats socket %s mode 600 level admin
	# One thread is plenty on loopback and leaves the CPU to the rest of the suite.
	nbthread 1

defaults
	mode http
	# The ALB sends each request to one target, once: no retries.
	retries 0
	timeout connect %s
	timeout client %s
	timeout server %s

frontend web
	bind %s
	# The test rule: the header sends a request to the new tasks of a
	# deployment, which the canary test adds to this backend.
	use_backend %s if { req.hdr(%s) -m str %s }
	default_backend %s
	http-response set-header X-Server %%s

backend %s

backend %s
	balance roundrobin
	option httpchk
	http-check send meth GET uri %s ver HTTP/1.1 hdr Host localhost hdr User-Agent %s
	http-check expect status %s
	timeout check %s
`, p.sock, ms(scaled(albConnectTimeout)), ms(scaled(s.albIdleTimeout)), ms(scaled(s.albIdleTimeout)),
		strings.TrimPrefix(p.url, "http://"), testBackend, testHeader(s), testValue(s), backend, testBackend, backend, s.healthPath, healthCheckerAgent, s.healthCode, ms(scaled(s.healthTimeout)))
	for _, in := range targets {
		fmt.Fprintf(&cfg, "\tserver %s %s %s\n", in.name, in.addr, p.serverOptions())
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	p.cmd = exec.Command("haproxy", "-db", "-f", path) // -db: foreground
	p.cmd.Stdout = &p.output
	p.cmd.Stderr = &p.output
	p.exited, _ = testhelp.Start(t, p.cmd, func() string {
		return "haproxy.cfg:\n" + cfg.String() + "\nhaproxy:\n" + p.output.String()
	})
	p.started = time.Now()

	// HAProxy starts with its servers UP; wait for a passed check on each,
	// like tasks that have been in service for a while.
	deadline := time.Now().Add(scaled(s.healthInterval)*time.Duration(s.healthyThreshold) + 5*time.Second)
	for {
		servers, err := p.servers()
		passed := 0
		for _, in := range targets {
			if st := servers[in.name]; st.status == "UP" && strings.HasPrefix(st.check, "L7OK") {
				passed++
			}
		}
		if err == nil && passed == len(targets) {
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("haproxy exited at start-up: %v\n%s", p.cmd.ProcessState, p.output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not all UP with a passed health check by %s after start: %v %v", time.Since(p.started), servers, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverOptions are the target group's health-check settings on a server
// line, which HAProxy's "add server" needs in full.
func (p *proxy) serverOptions() string {
	return fmt.Sprintf("check inter %s rise %d fall %d",
		ms(scaled(p.s.healthInterval)), p.s.healthyThreshold, p.s.unhealthyThreshold)
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// command runs one runtime API command and returns its answer.
func (p *proxy) command(cmd string) (string, error) {
	conn, err := net.DialTimeout("unix", p.sock, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	return strings.TrimSpace(string(out)), err
}

// mustCommand runs cmd and fails the test unless it answers want.
func (p *proxy) mustCommand(cmd, want string) {
	p.t.Helper()
	out, err := p.command(cmd)
	if err != nil || out != want {
		p.t.Fatalf("haproxy %q = %q, %v; want %q", cmd, out, err, want)
	}
}

// serverState is a server's status ("UP", "DOWN", "DRAIN", "DOWN 1/3"
// while rising, ...) and its last health check ("L7OK", "L7STS", ...).
type serverState struct{ status, check string }

// servers reads the state of every server of the backend.
func (p *proxy) servers() (map[string]serverState, error) {
	all, err := showStat(p.command)
	if err != nil {
		return nil, err
	}
	states := map[string]serverState{}
	for name, st := range all {
		if server, ok := strings.CutPrefix(name, backend+"/"); ok {
			states[server] = st
		}
	}
	return states, nil
}

// showStat reads the state of every server of every backend through the
// admin socket's "show stat", by backend/server.
func showStat(command func(string) (string, error)) (map[string]serverState, error) {
	out, err := command("show stat")
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# "))).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("show stat: %v: %q", err, out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	states := map[string]serverState{}
	for _, r := range rows[1:] {
		if len(r) == len(rows[0]) && r[col["svname"]] != "BACKEND" && r[col["svname"]] != "FRONTEND" {
			states[r[col["pxname"]]+"/"+r[col["svname"]]] = serverState{status: r[col["status"]], check: r[col["check_status"]]}
		}
	}
	return states, nil
}

// waitStatus waits up to timeout for the server's status to be want and
// returns how long that took.
func (p *proxy) waitStatus(name, want string, timeout time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for {
		servers, err := p.servers()
		if err == nil && servers[name].status == want {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			p.t.Fatalf("server %s not %s after %s: %v %v", name, want, timeout, servers[name], err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// register adds a target as ECS does when a new task starts: the target
// gets traffic only once it has passed healthyThreshold checks in a row.
// HAProxy would put a server leaving maintenance straight UP, so it goes
// through drain (no traffic) to a forced DOWN, from which only its checks
// can bring it up.
func (p *proxy) register(in *instance) {
	p.t.Helper()
	server := backend + "/" + in.name
	p.mustCommand(fmt.Sprintf("add server %s %s %s", server, in.addr, p.serverOptions()), "New server registered.")
	p.mustCommand("enable health "+server, "")
	p.mustCommand("set server "+server+" state drain", "")
	p.mustCommand("set server "+server+" health down", "")
	p.mustCommand("set server "+server+" state ready", "")
	servers, err := p.servers()
	if err != nil || !strings.HasPrefix(servers[in.name].status, "DOWN") {
		p.t.Fatalf("new server %s is %v (%v) once registered, want DOWN until its checks pass", in.name, servers[in.name], err)
	}
}

// deregister stops sending new requests to a target and lets those in
// flight finish, as the ALB does with a deregistering target.
func (p *proxy) deregister(in *instance) {
	p.t.Helper()
	p.mustCommand("set server "+backend+"/"+in.name+" state drain", "")
}
