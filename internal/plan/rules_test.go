package plan

import (
	"strings"
	"testing"
)

// TestNativeRuleChanges: a listener rule's conditions or priority may
// change in a stack whose service deploys rolling, never under ECS's
// traffic shifting, and an unchanged rule is no violation.
func TestNativeRuleChanges(t *testing.T) {
	stack := func(strategy string, priority float64, path string) *Stack {
		return &Stack{ID: "Service-api", Name: "fargo-Service-api", Template: Template{Resources: map[string]Resource{
			"Service": {Type: "AWS::ECS::Service", Properties: map[string]any{
				"DeploymentConfiguration": map[string]any{"Strategy": strategy}}},
			"ProductionRule": {Type: "AWS::ElasticLoadBalancingV2::ListenerRule", Properties: map[string]any{
				"Priority":   priority,
				"Conditions": []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{path}}}},
			}},
		}}}
	}
	tests := []struct {
		name          string
		before, after *Stack
		want          string // a word of the violation, or "" for none
	}{
		{"canary, paths change", stack("CANARY", 100, "/api/*"), stack("CANARY", 100, "/v1/*"), "changes its Conditions"},
		{"linear, priority changes", stack("LINEAR", 100, "/api/*"), stack("LINEAR", 102, "/api/*"), "changes its Priority"},
		{"rolling, paths change", stack("ROLLING", 100, "/api/*"), stack("ROLLING", 100, "/v1/*"), ""},
		{"canary, unchanged", stack("CANARY", 100, "/api/*"), stack("CANARY", 100, "/api/*"), ""},
		{"a new stack", nil, stack("CANARY", 100, "/api/*"), ""},
	}
	for _, tt := range tests {
		p := &Plan{Stacks: []*StackPlan{{ID: "Service-api", Before: tt.before, After: tt.after}}}
		v := p.nativeRuleChanges()
		switch {
		case tt.want == "" && len(v) > 0:
			t.Errorf("%s: %v, want no violation", tt.name, v)
		case tt.want != "" && (len(v) != 1 || !strings.Contains(v[0].Message, tt.want) || !strings.Contains(v[0].Message, "aws/aws-cdk#36649")):
			t.Errorf("%s: %v, want one violation saying %q", tt.name, v, tt.want)
		}
	}
}
