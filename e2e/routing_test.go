package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/alb"
	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// routingDir holds the routing resources of the three-service fixture's
// templates (the listener, the rules, the target groups), which
// TestServicesRoutingSnapshot in the stacks package keeps identical to
// what synth writes; shopDir is the fixture's code.
var (
	routingDir = filepath.Join("..", "stacks", "testdata", "routing")
	shopDir    = filepath.Join("..", "stacks", "testdata", "shop")
)

// echoTarget is a target that answers every request with its name and the
// request's path and query as it arrived, and counts the requests on its
// health path.
type echoTarget struct {
	*instance
	healthPath string
	checks     atomic.Int64
}

func startEcho(t *testing.T, name, healthPath string) *echoTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoTarget{instance: &instance{t: t, name: name, addr: ln.Addr().String()}, healthPath: healthPath}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == e.healthPath {
			e.checks.Add(1)
		}
		fmt.Fprintf(w, "%s %s", name, r.RequestURI)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return e
}

// TestListenerRules pins the translation of ALB listener rules into
// HAProxy's to the load balancer's documented matching (Listener rules:
// rule condition types; PathPatternConfig, HostHeaderConfig,
// HttpHeaderConfig): a path pattern compares case-sensitively with the
// path, not the query string; * matches any run of characters, / included,
// and ? exactly one; host and header values compare without case; the rule
// with the lowest priority among those that match wins, and a request no
// rule matches gets the default action. The load balancer forwards the
// request as it came: it strips no prefix of the path a rule matched.
// Health checks go to each target group's targets on its health path,
// whatever the rules say of that path. Each case is checked three ways:
// the expected answer as the documentation gives it, the matching model
// of internal/alb (which the stacks tests use), and HAProxy configured
// from the rules.
func TestListenerRules(t *testing.T) {
	requireHAProxy(t)
	// The listener's default action as the templates have it.
	l := readListener(t, routingDir)
	l.rules = []alb.Rule{
		{Stack: "api", TargetGroup: "TG", Priority: 100, Paths: []string{"/api", "/api/*"}},
		{Stack: "test", TargetGroup: "TG", Priority: 99, Paths: []string{"/api", "/api/*"}, Headers: map[string][]string{"X-Fargo-Test": {"1"}}},
		{Stack: "admin", TargetGroup: "TG", Priority: 200, Hosts: []string{"admin.example.com"}},
		{Stack: "files", TargetGroup: "TG", Priority: 300, Paths: []string{"/f?les/*.png"}},
		{Stack: "shops", TargetGroup: "TG", Priority: 400, Hosts: []string{"*.shop.example.com"}, Paths: []string{"/cart*"}},
		{Stack: "literal", TargetGroup: "TG", Priority: 500, Paths: []string{"/v1.0/*", "/a+b", "/it's"}},
	}
	const healthPath = "/healthcheck"
	targets := map[string][]*instance{}
	echoes := map[string]*echoTarget{}
	for _, r := range l.rules {
		g := groupName(r.Stack, r.TargetGroup)
		l.groups[g] = healthCheck{path: healthPath, code: "200"}
		echoes[r.Stack] = startEcho(t, r.Stack, healthPath)
		targets[g] = []*instance{echoes[r.Stack].instance}
	}
	p := startListener(t, l, targets)

	const app = "app.example.com"
	test := map[string]string{"X-Fargo-Test": "1"}
	tests := []struct {
		why          string
		host, target string
		headers      map[string]string
		want         string // the rule's stack, or "" for the default action
	}{
		{"no rule matches: the default action", app, "/", nil, ""},
		{"a value without a wildcard is exact", app, "/api", nil, "api"},
		{"* matches across /", app, "/api/users/1", nil, "api"},
		{"the query string is not part of the path", app, "/api?next=/admin", nil, "api"},
		{"the query string does not match a path pattern", app, "/x?/api", nil, ""},
		{"a path without its wildcard does not match longer paths", app, "/apix", nil, ""},
		{"paths are case-sensitive", app, "/API/users", nil, ""},
		{"paths are case-sensitive, the exact value too", app, "/Api", nil, ""},
		{"hosts are not case-sensitive", "ADMIN.Example.COM", "/", nil, "admin"},
		{"a host matches whole", "admin.example.com.evil.example", "/", nil, ""},
		{"the lowest priority that matches wins", "admin.example.com", "/api/x", nil, "api"},
		{"? is one character", app, "/files/a/b.png", nil, "files"},
		{"? is not two", app, "/fiiles/a.png", nil, ""},
		{"? is not none", app, "/fles/a.png", nil, ""},
		{"the extension keeps case", app, "/files/a.PNG", nil, ""},
		{"* in a host, and both conditions", "eu.shop.example.com", "/cart/1", nil, "shops"},
		{"both conditions: the path alone is not enough", app, "/cart/1", nil, ""},
		{"* in a host matches no dot it does not see", "shop.example.com", "/cart", nil, ""},
		{". is itself", app, "/v1.0/x", nil, "literal"},
		{". is not any character", app, "/v1x0/x", nil, ""},
		{"+ is itself", app, "/a+b", nil, "literal"},
		{"+ is not a repeat", app, "/aab", nil, ""},
		{"' is itself", app, "/it's", nil, "literal"},
		{"the test rule: header and path", app, "/api/x", test, "test"},
		{"header names are not case-sensitive", app, "/api/x", map[string]string{"x-fargo-test": "1"}, "test"},
		{"the test rule needs its path too", app, "/x", test, ""},
		{"the test rule needs its header value", app, "/api", map[string]string{"X-Fargo-Test": "2"}, "api"},
		{"the health path is routed by the rules like any other", app, healthPath, nil, ""},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range tests {
		model := ""
		if r := alb.Route(l.rules, tt.host, tt.target, tt.headers); r != nil {
			model = r.Stack
		}
		if model != tt.want {
			t.Errorf("%s: %s%s %v: the model routes to %q, want %q", tt.why, tt.host, tt.target, tt.headers, model, tt.want)
		}
		a := send(client, p.url, tt.host, tt.target, tt.headers)
		var got string
		switch {
		case a.err != nil:
			t.Fatalf("%s: %s%s: %v", tt.why, tt.host, tt.target, a.err)
		case a.status == l.defaultStatus && a.body == l.defaultBody:
			got = ""
		case a.status == http.StatusOK:
			got = a.server
			// The target sees the path and query as sent: no prefix
			// stripped.
			if want := a.server + " " + tt.target; a.body != want {
				t.Errorf("%s: %s%s: the target got %q, want %q", tt.why, tt.host, tt.target, a.body, want)
			}
		default:
			t.Fatalf("%s: %s%s: %d %q from %q", tt.why, tt.host, tt.target, a.status, a.body, a.server)
		}
		if got != tt.want {
			t.Errorf("%s: %s%s %v: HAProxy routes to %q, want %q", tt.why, tt.host, tt.target, tt.headers, got, tt.want)
		}
	}
	// Health checks bypass the rules: every target group's target got its
	// checks on the health path, which no rule but the default sends it.
	for name, e := range echoes {
		if e.checks.Load() == 0 {
			t.Errorf("%s: no health check reached it on %s", name, healthPath)
		}
	}
}

// TestServicesRouting puts each service of the three-service fixture
// (stacks/testdata/shop: the app's own service, api on the path /api, admin
// on the host admin.example.com) behind HAProxy configured from the
// listener rules of the fixture's templates, and sends requests as the
// load balancer would route them: by host and path to each service, what
// no service claims to the app's own, the test header to each canary
// service's new release (admin, rolling, has none: the header must not
// reach another service's). Then, under load on all three, api deploys a
// canary and admin's task dies: no request of another service fails.
func TestServicesRouting(t *testing.T) {
	requireHAProxy(t)
	if testing.Short() {
		t.Skip("runs the fixture's services and HAProxy; skipped with -short")
	}
	l := readListener(t, routingDir)
	bins := buildShop(t)

	// Each rule's stack runs one task of the release in production, in
	// the production rule's target group; a stack with a test rule also
	// runs its new release's task in the test rule's.
	type service struct {
		stack, word         string
		production, testing string // target group backends
		old, next           *instance
	}
	services := map[string]*service{}
	for _, r := range l.rules {
		s := services[r.Stack]
		if s == nil {
			// Each answers with its name; the app's own is the shop.
			s = &service{stack: r.Stack, word: binName(r.Stack)}
			if s.word == "service" {
				s.word = "shop"
			}
			s.old = startBinary(t, filepath.Join(bins, binName(r.Stack)), r.Stack+"-old")
			services[r.Stack] = s
		}
		if len(r.Headers) > 0 {
			s.testing = groupName(r.Stack, r.TargetGroup)
			s.next = startBinary(t, filepath.Join(bins, binName(r.Stack)), r.Stack+"-new")
		} else {
			s.production = groupName(r.Stack, r.TargetGroup)
		}
	}
	if len(services) != 3 {
		t.Fatalf("%d services in the fixture's rules, want 3", len(services))
	}
	targets := map[string][]*instance{}
	for _, s := range services {
		targets[s.production] = append(targets[s.production], s.old)
		if s.next != nil {
			targets[s.testing] = append(targets[s.testing], s.next)
		}
	}
	p := startListener(t, l, targets)

	const shop, admin = "shop.example.com", "Admin.Example.com"
	test := map[string]string{"X-Fargo-Test": "1"}
	tests := []struct {
		why          string
		host, target string
		headers      map[string]string
		want         string // the task that answers
	}{
		{"the path /api", shop, "/api", nil, "Service-api-old"},
		{"under /api, with a query", shop, "/api/orders?page=2", nil, "Service-api-old"},
		{"paths are case-sensitive", shop, "/API/orders", nil, "Service-old"},
		{"/api is not a prefix of /apix", shop, "/apix", nil, "Service-old"},
		{"the host admin, in any case", admin, "/users", nil, "Service-admin-old"},
		{"the path before the host (priority 100 < 200)", admin, "/api/orders", nil, "Service-api-old"},
		{"no service claims it: the app's own", shop, "/", nil, "Service-old"},
		{"the health path is routed as any path", shop, "/healthcheck", nil, "Service-old"},
		{"api's test rule: its new release", shop, "/api/orders", test, "Service-api-new"},
		{"the app's own test rule: its new release", shop, "/", test, "Service-new"},
		{"admin (rolling) has no test rule, and the header reaches no other's", admin, "/", test, "Service-admin-old"},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range tests {
		r := alb.Route(l.rules, tt.host, tt.target, tt.headers)
		model := ""
		if r != nil {
			s := services[r.Stack]
			model = s.old.name
			if len(r.Headers) > 0 {
				model = s.next.name
			}
		}
		if model != tt.want {
			t.Errorf("%s: %s%s: the model routes to %q, want %q", tt.why, tt.host, tt.target, model, tt.want)
		}
		a := send(client, p.url, tt.host, tt.target, tt.headers)
		if a.err != nil || a.status != http.StatusOK || a.server != tt.want || !strings.Contains(a.body, services[strings.TrimSuffix(strings.TrimSuffix(tt.want, "-old"), "-new")].word) {
			t.Errorf("%s: %s%s %v: %d %q from %q (%v), want %s's answer", tt.why, tt.host, tt.target, tt.headers, a.status, a.body, a.server, a.err, tt.want)
		}
	}
	// Health checks bypass the rules: api's and admin's targets are UP on
	// checks of /healthcheck, a path the rules send to the app's own.
	stat, err := p.stat()
	for _, s := range services {
		if st := stat[s.production+"/"+s.old.name]; err != nil || st.status != "UP" || !strings.HasPrefix(st.check, "L7OK") {
			t.Errorf("%s: %v %v, want UP on a passed check", s.old.name, st, err)
		}
	}
	if t.Failed() {
		return
	}

	// Under load on every service: api's canary deploy, then admin's task
	// dies.
	api, own, adm := services["Service-api"], services["Service"], services["Service-admin"]
	load := startRoutedLoad(t, p.url, []routedTarget{{own.stack, shop, "/", own.word}, {api.stack, shop, "/api/orders", api.word}, {adm.stack, "admin.example.com", "/", adm.word}})
	load.waitAll(len(services), 5*time.Second)
	// The canary: the production rule forwards to both target groups by
	// weight (in HAProxy, the new task joins the production backend at a
	// weight), then all of it to the new release; the old task is
	// deregistered, drained and stopped.
	prod := api.production
	p.mustCommand(fmt.Sprintf("add server %s/%s %s %s weight 0", prod, api.next.name, api.next.addr, p.checkOptions()), "New server registered.")
	p.mustCommand(fmt.Sprintf("enable health %s/%s", prod, api.next.name), "")
	p.mustCommand(fmt.Sprintf("set server %s/%s state ready", prod, api.next.name), "")
	p.mustCommand(fmt.Sprintf("set weight %s/%s 10", prod, api.next.name), "")
	p.mustCommand(fmt.Sprintf("set weight %s/%s 90", prod, api.old.name), "")
	load.waitServed(api.stack, api.next.name, 5*time.Second)
	p.mustCommand(fmt.Sprintf("set weight %s/%s 100", prod, api.next.name), "")
	p.mustCommand(fmt.Sprintf("set weight %s/%s 0", prod, api.old.name), "")
	p.mustCommand(fmt.Sprintf("set server %s/%s state drain", prod, api.old.name), "")
	shifted := time.Now()
	time.Sleep(300 * time.Millisecond)
	api.old.kill()
	time.Sleep(300 * time.Millisecond)
	// admin's only task dies without warning: its own requests fail until
	// its health check takes it out; no other service's may.
	died := time.Now()
	adm.old.kill()
	time.Sleep(500 * time.Millisecond)
	results := load.stop()

	for _, s := range []*service{own, api} {
		n, total, desc := load.failed(results, s.stack)
		if n > 0 {
			t.Errorf("%s: %d of %d requests failed during api's canary and admin's crash:%s", s.stack, n, total, desc)
		}
		t.Logf("%s: %d requests, none failed", s.stack, total)
	}
	for _, r := range results {
		if r.stack == api.stack && r.err == "" && r.sent.After(shifted) && r.server != api.next.name {
			t.Errorf("api request sent %s after the full shift answered by %s", r.sent.Sub(shifted), r.server)
			break
		}
	}
	n, total, _ := load.failed(results, adm.stack)
	if n == 0 {
		t.Errorf("admin: none of %d requests failed after its only task died: the test does not see a service's failures", total)
	}
	for _, r := range results {
		if r.stack == adm.stack && r.err != "" && r.done.Before(died) {
			t.Errorf("admin: a request answered before its task died failed: %s", r.err)
			break
		}
	}
	t.Logf("admin: %d of %d requests failed, none answered before its task died", n, total)
}

// binName is the fixture binary of a stack: service for Service, <name>
// for Service-<name> (its package is ./services/<name>).
func binName(stack string) string {
	if name, ok := strings.CutPrefix(stack, "Service-"); ok {
		return name
	}
	return "service"
}

// buildShop builds the fixture's three main packages, as the Dockerfile
// builds each service's PACKAGE, and returns the directory of the
// binaries: service, api, admin.
func buildShop(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dir+string(filepath.Separator), "./service", "./services/api", "./services/admin")
	cmd.Dir = shopDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in %s: %v\n%s", shopDir, err, out)
	}
	return dir
}

// startBinary runs one of the fixture's binaries on a free loopback port
// and returns once it accepts connections.
func startBinary(t *testing.T, bin, name string) *instance {
	t.Helper()
	port := testhelp.FreePort(t)
	in := &instance{t: t, name: name, addr: "127.0.0.1:" + strconv.Itoa(port)}
	in.cmd = exec.Command(bin)
	in.cmd.Env = []string{"PORT=" + strconv.Itoa(port)}
	in.cmd.Stdout = &in.output
	in.cmd.Stderr = &in.output
	in.exited, _ = testhelp.Start(t, in.cmd, in.output.String)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("tcp", in.addr); err == nil {
			c.Close()
			return in
		}
		select {
		case <-in.exited:
			t.Fatalf("%s exited at start-up: %v\n%s", name, in.cmd.ProcessState, in.output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s within 5s", name, in.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill ends the task at once, as a crash does.
func (in *instance) kill() {
	in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.exited
}

// routedTarget is one service's traffic: its host and path, and a word its
// answers contain.
type routedTarget struct{ stack, host, target, word string }

// routedResult is one request of the routed load.
type routedResult struct {
	stack      string
	sent, done time.Time
	server     string
	err        string
}

// routedLoad is steady keep-alive traffic to each service, one client per
// service.
type routedLoad struct {
	t        *testing.T
	stopping atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	results  []routedResult
}

func startRoutedLoad(t *testing.T, url string, targets []routedTarget) *routedLoad {
	l := &routedLoad{t: t}
	for _, rt := range targets {
		l.wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for !l.stopping.Load() {
				r := routedResult{stack: rt.stack, sent: time.Now()}
				a := send(client, url, rt.host, rt.target, nil)
				r.server, r.done = a.server, time.Now()
				switch {
				case a.err != nil:
					r.err = a.err.Error()
				case a.status != http.StatusOK || !strings.Contains(a.body, rt.word):
					r.err = fmt.Sprintf("%d %q from %q", a.status, a.body, a.server)
				}
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
				time.Sleep(pause)
			}
		})
	}
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *routedLoad) stop() []routedResult {
	l.stopping.Store(true)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]routedResult(nil), l.results...)
}

// waitServed waits until server has answered a request of stack.
func (l *routedLoad) waitServed(stack, server string, timeout time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, r := range l.results {
			if r.stack == stack && r.server == server && r.err == "" {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	l.t.Fatalf("%s answered no request of %s within %s", server, stack, timeout)
}

// waitAll waits until each of n services has answered a request.
func (l *routedLoad) waitAll(n int, timeout time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		ok := map[string]bool{}
		for _, r := range l.results {
			if r.err == "" {
				ok[r.stack] = true
			}
		}
		l.mu.Unlock()
		if len(ok) == n {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("not every service answered within %s: %v", timeout, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failed counts the failed requests of stack, and describes the first.
func (l *routedLoad) failed(results []routedResult, stack string) (n, total int, desc string) {
	for _, r := range results {
		if r.stack != stack {
			continue
		}
		total++
		if r.err != "" {
			if n++; n <= 3 {
				desc += "\n  " + r.err
			}
		}
	}
	return n, total, desc
}
