package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fargo-cdk/fargo/internal/alb"
)

// servicesConfig loads the Defaults with the given services key.
func servicesConfig(t *testing.T, services string, more map[string]any) (Config, error) {
	t.Helper()
	ctx := cdkContext(t)
	ctx["services"] = services
	for k, v := range more {
		ctx[k] = v
	}
	return loadConfig(ctx, noEnv)
}

// TestServicesPrecedence: a service's value comes from its entry, else
// the top-level key, else the Defaults; environment and secrets never
// from the top level.
func TestServicesPrecedence(t *testing.T) {
	cfg, err := servicesConfig(t, `{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "maxTasks": 5, "environment": {"MODE": "api"}}}`, map[string]any{
		"minTasks": "3", "maxTasks": "4", "environment": `{"TOP": "1"}`,
		"secrets": `{"DB_PASSWORD": "/prod/db"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := cfg.Services[0].Config
	checks := []struct {
		what      string
		got, want any
	}{
		{"entry over top level (maxTasks)", api.MaxTasks, 5},
		{"top level over Defaults (minTasks)", api.MinTasks, 3},
		{"Defaults (cpu)", api.Cpu, 256},
		{"own environment only", len(api.Environment), 1},
		{"no inherited secrets", len(api.Secrets), 0},
		{"name", api.Service, "api"},
		{"top level keeps its own (maxTasks)", cfg.MaxTasks, 4},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

// TestServicesConfigErrors: each bad value stops synth with one line
// naming the service, the key, the value and what is allowed.
func TestServicesConfigErrors(t *testing.T) {
	const api = `"api": {"package": "./services/api", "paths": ["/api"], "priority": 100}`
	tests := []struct{ services, want string }{
		{`{"Api": {}}`, `services="Api": want a service name of lower-case letters`},
		{`{"a-service-name-longer-than-32-chars": {}}`, `services="a-service-name-longer-than-32-chars"`},
		{`{"api": []}`, `services.api=`},
		{`{"api": {"paths": ["/api"], "priority": 100}}`, `services.api=`},
		{`{"api": {"package": "services/api", "paths": ["/api"], "priority": 100}}`, `services.api.package="services/api"`},
		{`{"api": {"package": "./services/api", "directory": "./web", "paths": ["/api"], "priority": 100}}`, `want exactly one of package`},
		{`{"api": {"package": "./services/api", "priority": 100}}`, `services.api="no hosts or paths"`},
		{`{"api": {"package": "./services/api", "paths": ["api"], "priority": 100}}`, `services.api.paths="api"`},
		{`{"api": {"package": "./services/api", "paths": ["/a b"], "priority": 100}}`, `services.api.paths="/a b"`},
		{`{"api": {"package": "./services/api", "hosts": ["localhost"], "priority": 100}}`, `services.api.hosts="localhost": want a host name`},
		{`{"api": {"package": "./services/api", "hosts": ["` + strings.Repeat("a", 125) + `.com"], "priority": 100}}`, `at most 128 characters`},
		{`{"api": {"package": "./services/api", "paths": ["/a", "/b"], "priority": 100}}`, `services.api.paths="/a,/b": ALB allows 3 values per condition`},
		{`{"api": {"package": "./services/api", "paths": ["/a", "/b/*"], "hosts": ["x.example.com", "y.example.com"], "priority": 100}}`, `the test rule spends one on its header`},
		{`{"api": {"package": "./services/api", "paths": ["/api"]}}`, `services.api.priority="null"`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 1}}`, `services.api.priority="1": want a whole number from 2 to 49998`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 49999}}`, `services.api.priority="49999"`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 10.5}}`, `services.api.priority="10.5"`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "cpu": 300}}`, `services.api.cpu="300"`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "maxTask": 3}}`, `services.api.maxTask="3": unknown key of a service (see docs/services.md); did you mean maxTasks?`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "natGateways": 1}}`, `services.api.natGateways="1": a setting of the whole app`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "environment": {"API_TOKEN": "x"}}}`, `services.api.environment="API_TOKEN"`},
		{`{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "secrets": {"DB": "secret-value"}}}`, `services.api.secrets="DB"`},
		// Priorities: unique, the test rule's included.
		{`{` + api + `, "web": {"package": "./services/api", "paths": ["/web"], "priority": 100}}`, `services.web.priority="100": priority 100 is taken by services.api`},
		{`{` + api + `, "web": {"package": "./services/api", "paths": ["/web"], "priority": 101}}`, `services.web.priority="101": priority 100 is taken by services.api`},
		{`{` + api + `, "web": {"package": "./services/api", "paths": ["/web"], "priority": 99}}`, `services.web.priority="99": priority 99 is taken by services.api`},
		// Overlaps, naming both services.
		{`{` + api + `, "web": {"package": "./services/api", "paths": ["/api"], "priority": 300}}`, `services.web="host (any) path /api": services.api's rule (priority 100) takes every such request`},
		{`{` + api + `, "v2": {"package": "./services/api", "paths": ["/api/v2"], "priority": 300}}`, `services.v2="host (any) path /api/v2": services.api's rule`},
		{`{"all": {"package": "./services/api", "paths": ["/"], "priority": 100}}`, `the app's own service="host (any) path /*": services.all's rule (priority 100)`},
		{`{"x": {"package": "./services/api", "hosts": ["*.example.com"], "priority": 100}, "y": {"package": "./services/api", "hosts": ["Shop.Example.com"], "paths": ["/cart"], "priority": 300}}`, `services.y="host Shop.Example.com path /cart": services.x's rule`},
	}
	for _, tt := range tests {
		_, err := servicesConfig(t, tt.services, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("services=%s:\n got %v\nwant one line containing %s", tt.services, err, tt.want)
		}
	}
	// A host with HTTPS: refused until fargo makes the certificates.
	_, err := servicesConfig(t, `{"admin": {"package": "./services/admin", "hosts": ["admin.example.com"], "priority": 100}}`, map[string]any{
		"domainName": "app.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com",
	})
	if err == nil || !strings.Contains(err.Error(), `services.admin.hosts="admin.example.com": host routing over HTTPS`) {
		t.Errorf("hosts with domainName: %v", err)
	}
}

// TestServicesRoutingAccepts: what the checks must let through, the more
// specific rule first included.
func TestServicesRoutingAccepts(t *testing.T) {
	for _, services := range []string{
		`{"v2": {"package": "./services/api", "paths": ["/api/v2"], "priority": 100}, "api": {"package": "./services/api", "paths": ["/api"], "priority": 200}}`,
		`{"admin": {"package": "./services/admin", "hosts": ["admin.example.com"], "priority": 100}, "api": {"package": "./services/api", "paths": ["/api"], "priority": 102}}`,
		`{"a": {"package": "./services/api", "hosts": ["a.example.com"], "paths": ["/x"], "priority": 2}, "b": {"package": "./services/api", "hosts": ["b.example.com"], "paths": ["/x"], "priority": 49998}}`,
	} {
		cfg, err := servicesConfig(t, services, nil)
		if err != nil {
			t.Errorf("services=%s: %v", services, err)
			continue
		}
		if len(cfg.Services) != 2 {
			t.Errorf("services=%s: %d services", services, len(cfg.Services))
		}
	}
}

// TestServicesRulesFromTemplates reads the fixture's listener rules from
// its synthesized templates, as the end-to-end routing test does, and
// routes by host and path, the test header included, to each service.
func TestServicesRulesFromTemplates(t *testing.T) {
	s := shopApp(t)
	var rules []alb.Rule
	for id, tpl := range s.templates {
		r, err := alb.RulesFromTemplate(id, toJSON(t, tpl))
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r...)
	}
	// api and the app's own: production and test rules; admin is rolling.
	if len(rules) != 5 {
		t.Fatalf("%d rules, want 5: %+v", len(rules), rules)
	}
	tests := []struct {
		host, target string
		headers      map[string]string
		want         string
	}{
		{"shop.example.com", "/api/orders?page=2", nil, "Service-api 100"},
		{"shop.example.com", "/api/orders", map[string]string{"X-Fargo-Test": "1"}, "Service-api 99"},
		{"Admin.Example.com", "/users", nil, "Service-admin 200"},
		{"shop.example.com", "/", nil, "Service 50000"},
		{"shop.example.com", "/", map[string]string{"X-Fargo-Test": "1"}, "Service 49999"},
	}
	for _, tt := range tests {
		r := alb.Route(rules, tt.host, tt.target, tt.headers)
		if r == nil || fmt.Sprintf("%s %d", r.Stack, r.Priority) != tt.want {
			t.Errorf("%s%s %v: %+v, want %s", tt.host, tt.target, tt.headers, r, tt.want)
		}
	}
}

// TestShadowedRulesNeverMatch: for each overlap checkRouting refuses, the
// load balancer's own matching (Route) indeed sends the shadowed host and
// path of the later rule to the earlier one: the refusal is never a false
// alarm.
func TestShadowedRulesNeverMatch(t *testing.T) {
	cases := []struct{ earlier, later Routing }{
		{Routing{Priority: 100, PathPatterns: []string{"/api", "/api/*"}}, Routing{Priority: 300, PathPatterns: []string{"/api", "/api/*"}}},
		{Routing{Priority: 100, PathPatterns: []string{"/api", "/api/*"}}, Routing{Priority: 300, PathPatterns: []string{"/api/v2/*"}}},
		{Routing{Priority: 100, HostHeaders: []string{"*.example.com"}}, Routing{Priority: 300, HostHeaders: []string{"Shop.Example.com"}, PathPatterns: []string{"/cart"}}},
		{Routing{Priority: 100, PathPatterns: []string{"/*"}}, defaultRouting},
	}
	for _, c := range cases {
		host, p, ok := shadows(c.earlier, c.later)
		if !ok {
			t.Errorf("%+v after %+v: not refused", c.later, c.earlier)
			continue
		}
		// A request the later rule's values name: wildcards made concrete.
		target := strings.NewReplacer("*", "x/y", "?", "z").Replace(p)
		h := strings.NewReplacer("*", "www", "?", "z").Replace(host)
		if h == "" {
			h = "app.example.com"
		}
		rules := []alb.Rule{
			{Stack: "earlier", Priority: c.earlier.Priority, Hosts: c.earlier.HostHeaders, Paths: c.earlier.PathPatterns},
			{Stack: "later", Priority: c.later.Priority, Hosts: c.later.HostHeaders, Paths: c.later.PathPatterns},
		}
		if r := alb.Route(rules, h, target, nil); r == nil || r.Stack != "earlier" {
			t.Errorf("%s%s: routed to %+v, want earlier: the refusal is a false alarm", h, target, r)
		}
	}
}
