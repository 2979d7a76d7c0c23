// Package alb models how an Application Load Balancer's listener picks a
// rule for a request: the listener rules of synthesized templates
// (RulesFromTemplate) and the documented matching of their conditions
// (Route, Match). The stacks tests and the end-to-end routing test, which
// configures HAProxy from the same rules, share it; it imports no CDK, so
// the end-to-end tests link without it.
package alb

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Rule is one listener rule as a synthesized template declares it: what
// an end-to-end test needs to route requests as the load balancer would
// (see Route).
type Rule struct {
	// Stack is the construct id of the stack that declares the rule
	// (Service, Service-<name>), and LogicalID the rule's logical id in it.
	Stack     string
	LogicalID string
	Priority  int
	// Hosts and Paths are the host-header and path-pattern values; empty
	// is any. Headers are the http-header conditions, each a header name
	// and the values it may take.
	Hosts   []string
	Paths   []string
	Headers map[string][]string
	// TargetGroup is the logical id of the target group it forwards to, in
	// Stack.
	TargetGroup string
}

// RulesFromTemplate reads the listener rules of one synthesized template
// (its JSON, decoded), which stack names. It fails on a condition or an
// action it does not model, rather than route by half a rule.
func RulesFromTemplate(stack string, template map[string]any) ([]Rule, error) {
	resources, _ := template["Resources"].(map[string]any)
	var out []Rule
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		r, _ := resources[id].(map[string]any)
		if r["Type"] != "AWS::ElasticLoadBalancingV2::ListenerRule" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		priority, ok := props["Priority"].(float64)
		if !ok {
			return nil, fmt.Errorf("%s/%s: Priority %v is not a number", stack, id, props["Priority"])
		}
		rule := Rule{Stack: stack, LogicalID: id, Priority: int(priority), Headers: map[string][]string{}}
		conditions, _ := props["Conditions"].([]any)
		for _, c := range conditions {
			c, _ := c.(map[string]any)
			switch c["Field"] {
			case "path-pattern":
				rule.Paths = strs(c["PathPatternConfig"], "Values")
			case "host-header":
				rule.Hosts = strs(c["HostHeaderConfig"], "Values")
			case "http-header":
				cfg, _ := c["HttpHeaderConfig"].(map[string]any)
				name, _ := cfg["HttpHeaderName"].(string)
				rule.Headers[name] = strs(cfg, "Values")
			default:
				return nil, fmt.Errorf("%s/%s: condition %v is not modelled", stack, id, c["Field"])
			}
		}
		actions, _ := props["Actions"].([]any)
		if len(actions) != 1 {
			return nil, fmt.Errorf("%s/%s: want one forward action, found %d actions", stack, id, len(actions))
		}
		action, _ := actions[0].(map[string]any)
		ref, _ := action["TargetGroupArn"].(map[string]any)
		if rule.TargetGroup, _ = ref["Ref"].(string); action["Type"] != "forward" || rule.TargetGroup == "" {
			return nil, fmt.Errorf("%s/%s: want a forward to a target group of the stack, found %v", stack, id, action)
		}
		out = append(out, rule)
	}
	return out, nil
}

func strs(v any, key string) []string {
	m, _ := v.(map[string]any)
	list, _ := m[key].([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Route returns the rule that the load balancer applies to a request for
// host and target (the request line's path, with or without a query
// string) with the given headers: the matching rule with the lowest
// priority, or nil for the listener's default action. As the load
// balancer: path patterns compare case-sensitively with the path only, not
// the query string; host patterns and header values compare without case;
// * matches any characters (/ included) and ? exactly one.
func Route(rules []Rule, host, target string, headers map[string]string) *Rule {
	path, _, _ := strings.Cut(target, "?")
	sorted := slices.Clone(rules)
	slices.SortFunc(sorted, func(a, b Rule) int { return a.Priority - b.Priority })
	for i, r := range sorted {
		if matchAny(r.Paths, path, false) && matchAny(r.Hosts, host, true) && matchHeaders(r.Headers, headers) {
			return &sorted[i]
		}
	}
	return nil
}

func matchHeaders(want map[string][]string, got map[string]string) bool {
	for name, values := range want {
		v, ok := got[name]
		if !ok {
			for k, kv := range got {
				if strings.EqualFold(k, name) {
					v, ok = kv, true
				}
			}
		}
		if !ok || !matchAny(values, v, true) {
			return false
		}
	}
	return true
}

// matchAny reports whether s matches one of patterns; no pattern is any s.
func matchAny(patterns []string, s string, foldCase bool) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if Match(p, s, foldCase) {
			return true
		}
	}
	return false
}

// Match reports whether s matches the ALB condition pattern p: * is any
// run of characters, / included, ? one character, everything else itself
// (without case when foldCase).
func Match(p, s string, foldCase bool) bool {
	var re strings.Builder
	re.WriteString("^")
	if foldCase {
		re.WriteString("(?i)")
	}
	for _, c := range p {
		switch c {
		case '*':
			re.WriteString("(?s:.*)")
		case '?':
			re.WriteString("(?s:.)")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}
