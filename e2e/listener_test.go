package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/alb"
	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// listener is what the templates say decides where a request goes: the
// listener rules, the default action, and each target group's health
// check.
type listener struct {
	rules []alb.Rule
	// The default action's fixed response.
	defaultStatus            int
	defaultBody, defaultType string
	// groups are the target groups, by groupName.
	groups map[string]healthCheck
}

type healthCheck struct{ path, code string }

// groupName names a target group of a stack as a HAProxy backend.
func groupName(stack, logicalID string) string { return stack + "." + logicalID }

// readListener reads the listener of the templates in dir: exactly one
// listener, with a fixed-response default action, and the rules of every
// stack (file <stack>.template.json).
func readListener(t *testing.T, dir string) listener {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if len(files) == 0 {
		t.Fatalf("no templates in %s", dir)
	}
	l := listener{groups: map[string]healthCheck{}}
	listeners := 0
	for _, f := range files {
		stack := strings.TrimSuffix(filepath.Base(f), ".template.json")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rules, err := alb.RulesFromTemplate(stack, tpl)
		if err != nil {
			t.Fatal(err)
		}
		l.rules = append(l.rules, rules...)
		resources, _ := tpl["Resources"].(map[string]any)
		for id, r := range resources {
			r, _ := r.(map[string]any)
			p := props{t: t, r: resource{file: filepath.Base(f), id: id}}
			p.r.properties, _ = r["Properties"].(map[string]any)
			switch r["Type"] {
			case "AWS::ElasticLoadBalancingV2::TargetGroup":
				matcher, _ := p.r.properties["Matcher"].(map[string]any)
				code, _ := matcher["HttpCode"].(string)
				l.groups[groupName(stack, id)] = healthCheck{path: p.str("HealthCheckPath"), code: code}
			case "AWS::ElasticLoadBalancingV2::Listener":
				listeners++
				var actions []struct {
					Type                string
					FixedResponseConfig struct{ StatusCode, MessageBody, ContentType string }
				}
				b, _ := json.Marshal(p.r.properties["DefaultActions"])
				json.Unmarshal(b, &actions)
				if len(actions) != 1 || actions[0].Type != "fixed-response" {
					t.Fatalf("%s: default actions %s: the routing test knows one fixed response only", p.where(), b)
				}
				a := actions[0].FixedResponseConfig
				l.defaultStatus, _ = strconv.Atoi(a.StatusCode)
				l.defaultBody, l.defaultType = a.MessageBody, a.ContentType
			}
		}
	}
	if listeners != 1 {
		t.Fatalf("%d listeners in %s: the routing test knows one", listeners, dir)
	}
	for _, r := range l.rules {
		if _, ok := l.groups[groupName(r.Stack, r.TargetGroup)]; !ok {
			t.Fatalf("%s/%s forwards to %s, no target group of its stack", r.Stack, r.LogicalID, r.TargetGroup)
		}
	}
	return l
}

// albPattern is an ALB condition value as an anchored regular expression:
// * is any run of characters (/ included), ? exactly one, and every other
// character itself, in brackets where it is not a letter or a digit (the
// characters ALB allows in a value include none that brackets change).
func albPattern(v string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, c := range v {
		switch {
		case c == '*':
			b.WriteString(".*")
		case c == '?':
			b.WriteString(".")
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteString("[" + string(c) + "]")
		}
	}
	b.WriteString("$")
	return b.String()
}

// frontendRules translates the listener's rules into HAProxy's: one ACL
// per condition, whose values (one pattern each, in a file in dir, so that
// no value needs quoting) any may match, and one use_backend per rule that
// needs all its ACLs, in priority order, so that the first that matches
// wins, as on the ALB. Path patterns match HAProxy's path, which is
// without the query string, and keep case; host-header and http-header
// values ignore it. A request no rule matches gets the default action.
func frontendRules(t *testing.T, dir string, l listener) string {
	t.Helper()
	rules := slices.Clone(l.rules)
	slices.SortFunc(rules, func(a, b alb.Rule) int { return a.Priority - b.Priority })
	var cfg strings.Builder
	acl := func(name, fetch, flags string, values []string) {
		var patterns strings.Builder
		for _, v := range values {
			patterns.WriteString(albPattern(v) + "\n")
		}
		file := filepath.Join(dir, name+".patterns")
		if err := os.WriteFile(file, []byte(patterns.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "\tacl %s %s -m reg %s-f %s\n", name, fetch, flags, file)
	}
	for i, r := range rules {
		var conds []string
		if len(r.Paths) > 0 {
			name := fmt.Sprintf("rule%d_path", i)
			acl(name, "path", "", r.Paths)
			conds = append(conds, name)
		}
		if len(r.Hosts) > 0 {
			name := fmt.Sprintf("rule%d_host", i)
			acl(name, "req.hdr(host)", "-i ", r.Hosts)
			conds = append(conds, name)
		}
		for j, h := range slices.Sorted(maps.Keys(r.Headers)) {
			name := fmt.Sprintf("rule%d_header%d", i, j)
			acl(name, "req.hdr("+h+")", "-i ", r.Headers[h])
			conds = append(conds, name)
		}
		if len(conds) == 0 {
			t.Fatalf("%s/%s has no condition: ALB requires one", r.Stack, r.LogicalID)
		}
		fmt.Fprintf(&cfg, "\t# %s/%s, priority %d\n\tuse_backend %s if %s\n", r.Stack, r.LogicalID, r.Priority, groupName(r.Stack, r.TargetGroup), strings.Join(conds, " "))
	}
	fmt.Fprintf(&cfg, "\tdefault_backend default-action\n\nbackend default-action\n\thttp-request return status %d content-type %q string %q\n", l.defaultStatus, l.defaultType, l.defaultBody)
	return cfg.String()
}

// albProxy is HAProxy playing the ALB's listener: the rules in front, one
// backend per target group, each health-checked on its own path, straight
// to its targets, not through the rules.
type albProxy struct {
	*proxy
}

// checkInterval is how often HAProxy checks each target: fast, since the
// routing tests are not about the health check's timings.
const checkInterval = 100 * time.Millisecond

// startListener starts HAProxy with the listener's rules and the given
// targets in each backend (by groupName), and returns once every target
// has passed a health check.
func startListener(t *testing.T, l listener, targets map[string][]*instance) *albProxy {
	t.Helper()
	dir := t.TempDir()
	p := &albProxy{&proxy{t: t, sock: filepath.Join(dir, "admin.sock")}}
	p.url = "http://127.0.0.1:" + strconv.Itoa(testhelp.FreePort(t))
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
	stats socket %s mode 600 level admin
	nbthread 1

defaults
	mode http
	retries 0
	timeout connect 5s
	timeout client 10s
	timeout server 10s
	# A check may be slow on a loaded machine; only a dead target fails
	# it.
	timeout check 2s

frontend listener
	bind %s
	http-response set-header X-Server %%s
%s`, p.sock, strings.TrimPrefix(p.url, "http://"), frontendRules(t, dir, l))
	for _, name := range slices.Sorted(maps.Keys(l.groups)) {
		hc := l.groups[name]
		fmt.Fprintf(&cfg, "\nbackend %s\n\tbalance roundrobin\n\toption httpchk\n\thttp-check send meth GET uri %s ver HTTP/1.1 hdr Host localhost\n\thttp-check expect status %s\n", name, hc.path, hc.code)
		for _, in := range targets[name] {
			fmt.Fprintf(&cfg, "\tserver %s %s %s\n", in.name, in.addr, p.checkOptions())
		}
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command("haproxy", "-db", "-f", path)
	p.cmd.Stdout = &p.output
	p.cmd.Stderr = &p.output
	p.exited, _ = testhelp.Start(t, p.cmd, func() string {
		return "haproxy.cfg:\n" + cfg.String() + "\nhaproxy:\n" + p.output.String()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := p.stat()
		up := 0
		for name, ins := range targets {
			for _, in := range ins {
				if st := stat[name+"/"+in.name]; st.status == "UP" && strings.HasPrefix(st.check, "L7OK") {
					up++
				}
			}
		}
		n := 0
		for _, ins := range targets {
			n += len(ins)
		}
		if err == nil && up == n {
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("haproxy exited at start-up: %v\n%s\n%s", p.cmd.ProcessState, cfg.String(), p.output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not all UP with a passed health check: %v %v", stat, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *albProxy) checkOptions() string {
	return fmt.Sprintf("check inter %s rise 1 fall 2", ms(checkInterval))
}

// stat reads the state of every server, by backend/server.
func (p *albProxy) stat() (map[string]serverState, error) { return showStat(p.command) }

// answer is what came back for one request through the listener.
type answer struct {
	status int
	server string // X-Server: the target that answered
	body   string
	err    error
}

// send sends one GET for target (path and query) with the Host header
// host and the given headers.
func send(client *http.Client, url, host, target string, headers map[string]string) answer {
	req, err := http.NewRequest("GET", url+target, nil)
	if err != nil {
		return answer{err: err}
	}
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, server: resp.Header.Get("X-Server"), body: strings.TrimSpace(string(body)), err: err}
}
