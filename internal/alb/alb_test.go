package alb

import (
	"fmt"
	"testing"
)

// TestALBMatching pins Route and Match to the load balancer's documented
// matching (rule condition types; PathPatternConfig, HostHeaderConfig):
// paths compare case-sensitively and without the query string, * matches
// across /, ? one character, hosts compare without case, the lowest
// priority that matches wins, and no match is the default action.
func TestALBMatching(t *testing.T) {
	rules := []Rule{
		{Stack: "Service", Priority: 50000, Paths: []string{"/*"}},
		{Stack: "Service", Priority: 49999, Paths: []string{"/*"}, Headers: map[string][]string{"X-Fargo-Test": {"1"}}},
		{Stack: "Service-api", Priority: 100, Paths: []string{"/api", "/api/*"}},
		{Stack: "Service-admin", Priority: 200, Hosts: []string{"admin.example.com"}},
		{Stack: "Service-files", Priority: 300, Paths: []string{"/f?les/*.png"}},
	}
	tests := []struct {
		host, target string
		headers      map[string]string
		want         string // the rule's stack and priority, or "" for the default action
	}{
		{"app.example.com", "/", nil, "Service 50000"},
		{"app.example.com", "/api", nil, "Service-api 100"},
		{"app.example.com", "/api/users/1", nil, "Service-api 100"}, // * across /
		{"app.example.com", "/api?x=/y", nil, "Service-api 100"},    // query ignored
		{"app.example.com", "/apix", nil, "Service 50000"},
		{"app.example.com", "/API/users", nil, "Service 50000"}, // paths are case-sensitive
		{"ADMIN.Example.COM", "/api", nil, "Service-api 100"},   // lower priority first
		{"ADMIN.Example.COM", "/", nil, "Service-admin 200"},    // hosts are not
		{"app.example.com", "/files/a/b.png", nil, "Service-files 300"},
		{"app.example.com", "/fiiles/a.png", nil, "Service 50000"}, // ? is one character
		{"app.example.com", "/x", map[string]string{"x-fargo-test": "1"}, "Service 49999"},
	}
	for _, tt := range tests {
		got := ""
		if r := Route(rules, tt.host, tt.target, tt.headers); r != nil {
			got = fmt.Sprintf("%s %d", r.Stack, r.Priority)
		}
		if got != tt.want {
			t.Errorf("%s%s %v: %q, want %q", tt.host, tt.target, tt.headers, got, tt.want)
		}
	}
	if Route(rules[2:4], "app.example.com", "/", nil) != nil {
		t.Error("no rule matches: want the default action (nil)")
	}
}
