package stacks

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// The load balancer's quotas that routing spends (Quotas for your
// Application Load Balancers; rule condition types): each service has two
// rules (production and test) and two target groups, reserved even under
// the rolling strategy, which switching to a native one would add.
const (
	maxRulesPerALB        = 100
	maxTargetGroupsPerALB = 100
	perService            = 2
	// A rule holds at most 5 condition values, 5 wildcards, and 3 values
	// per condition; the test rule spends one value on its header, so the
	// production rule may hold 4.
	maxValuesPerRule      = 5 - 1
	maxValuesPerCondition = 3
	maxWildcardsPerRule   = 5
	maxPatternLength      = 128
	// The app's own service's rules: production at defaultRouting.Priority,
	// test one below. Other services' production rules take 2 to
	// maxServicePriority, their test rules one less.
	maxServicePriority = 49998
)

// maxServices is how many services the services key may hold besides the
// app's own: every service spends perService rules and target groups.
const maxServices = min(maxRulesPerALB, maxTargetGroupsPerALB)/perService - 1

var (
	// pathPattern and hostPattern are the characters ALB accepts in a
	// path-pattern and a host-header value (& left out: it is written
	// &amp; in the API).
	pathPattern = regexp.MustCompile(`^[/*][A-Za-z0-9_\-.$/~"'@:+*?]*$`)
	hostPattern = regexp.MustCompile(`^[A-Za-z0-9\-.*?]+$`)
)

// readRouting reads a service's hosts, paths and priority. A path without
// a wildcard is a prefix: /api becomes the two patterns /api and /api/*,
// since ALB's patterns match exactly or by wildcard, so /api alone would
// miss /api/users and /api/* would miss /api itself; a path with * or ?
// is used as written, and / is everything, /*.
func readRouting(entry map[string]any, key string) (Routing, error) {
	strs := func(k string) ([]string, error) {
		v, set := entry[k]
		if !set {
			return nil, nil
		}
		list, ok := v.([]any)
		if !ok {
			return nil, &ConfigError{Key: key + "." + k, Value: compact(v), Allowed: `want a list of strings such as ["/api"]`}
		}
		var out []string
		for _, e := range list {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, &ConfigError{Key: key + "." + k, Value: compact(e), Allowed: "want a non-empty string"}
			}
			out = append(out, s)
		}
		return out, nil
	}
	hosts, err := strs("hosts")
	if err != nil {
		return Routing{}, err
	}
	paths, err := strs("paths")
	if err != nil {
		return Routing{}, err
	}
	r := Routing{HostHeaders: hosts}
	if len(hosts) == 0 && len(paths) == 0 {
		return Routing{}, &ConfigError{Key: key, Value: "no hosts or paths", Allowed: `want hosts (["api.example.com"]), paths (["/api"]) or both: the app's own service takes every request no rule claims`}
	}
	for _, h := range hosts {
		switch {
		case len(h) > maxPatternLength || !hostPattern.MatchString(h) || !strings.Contains(h, "."):
			return Routing{}, &ConfigError{Key: key + ".hosts", Value: h, Allowed: fmt.Sprintf("want a host name such as api.example.com or *.example.com: letters, digits, - . * ?, at least one dot, at most %d characters", maxPatternLength)}
		}
	}
	for _, p := range paths {
		switch {
		case len(p)+2 > maxPatternLength || !pathPattern.MatchString(p):
			return Routing{}, &ConfigError{Key: key + ".paths", Value: p, Allowed: fmt.Sprintf("want a path such as /api or /api/*: starting with / or *; letters, digits and _ - . $ / ~ \" ' @ : + * ?; at most %d characters", maxPatternLength-2)}
		case p == "/":
			r.PathPatterns = append(r.PathPatterns, "/*")
		case strings.ContainsAny(p, "*?"):
			r.PathPatterns = append(r.PathPatterns, p)
		default:
			p = strings.TrimSuffix(p, "/")
			r.PathPatterns = append(r.PathPatterns, p, p+"/*")
		}
	}
	r.PathPatterns = dedupe(r.PathPatterns)
	r.HostHeaders = dedupe(r.HostHeaders)
	switch {
	case len(r.PathPatterns) > maxValuesPerCondition:
		return Routing{}, &ConfigError{Key: key + ".paths", Value: strings.Join(paths, ","), Allowed: fmt.Sprintf("ALB allows %d values per condition, and these make %d patterns (%s; a path without a wildcard costs two): use fewer paths, or a wildcard", maxValuesPerCondition, len(r.PathPatterns), strings.Join(r.PathPatterns, " "))}
	case len(r.HostHeaders) > maxValuesPerCondition:
		return Routing{}, &ConfigError{Key: key + ".hosts", Value: strings.Join(hosts, ","), Allowed: fmt.Sprintf("ALB allows %d values per condition: use fewer hosts, or a wildcard such as *.example.com", maxValuesPerCondition)}
	case len(r.PathPatterns)+len(r.HostHeaders) > maxValuesPerRule:
		return Routing{}, &ConfigError{Key: key, Value: strings.Join(append(slices.Clone(r.HostHeaders), r.PathPatterns...), " "), Allowed: fmt.Sprintf("ALB allows 5 condition values per rule and the test rule spends one on its header: want at most %d hosts and path patterns together (a path without a wildcard costs two)", maxValuesPerRule)}
	case wildcards(r) > maxWildcardsPerRule:
		return Routing{}, &ConfigError{Key: key, Value: strings.Join(append(slices.Clone(r.HostHeaders), r.PathPatterns...), " "), Allowed: fmt.Sprintf("ALB allows %d wildcards (* and ?) per rule, and these patterns have %d", maxWildcardsPerRule, wildcards(r))}
	}
	v, set := entry["priority"]
	f, isNumber := v.(float64)
	if n, isInt := v.(int); isInt {
		f, isNumber = float64(n), true
	}
	if !set || !isNumber || f != math.Trunc(f) || f < 2 || f > maxServicePriority {
		return Routing{}, &ConfigError{Key: key + ".priority", Value: compact(v), Allowed: fmt.Sprintf("want a whole number from 2 to %d, unique to the service and never changed once deployed: its production rule's priority (the test rule takes the number below it; lower numbers are evaluated first)", maxServicePriority)}
	}
	r.Priority = int(f)
	return r, nil
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func wildcards(r Routing) int {
	n := 0
	for _, v := range append(slices.Clone(r.HostHeaders), r.PathPatterns...) {
		n += strings.Count(v, "*") + strings.Count(v, "?")
	}
	return n
}

// routed is a service's routing, with the name its errors use.
type routed struct {
	name    string
	routing Routing
}

// checkRouting refuses what the load balancer would refuse at deploy, or
// accept and then route wrongly: too many services for its quotas, two
// rules on one priority (each service's test rule included, even when
// rolling), and a rule that another, evaluated first, leaves some request
// it names to never reach.
func checkRouting(own Config, services []Service) error {
	if len(services) > maxServices {
		return &ConfigError{Key: "services", Value: len(services), Allowed: fmt.Sprintf("want at most %d services besides the app's own: each uses %d listener rules and %d target groups, and an ALB holds %d of each", maxServices, perService, perService, maxRulesPerALB)}
	}
	all := []routed{{name: "the app's own service", routing: defaultRouting}}
	for _, s := range services {
		all = append(all, routed{name: "services." + s.Name, routing: s.Routing})
	}
	taken := map[int]string{}
	for _, s := range all {
		for _, p := range []int{s.routing.Priority, s.routing.Priority - 1} {
			if other, ok := taken[p]; ok {
				return &ConfigError{Key: s.name + ".priority", Value: s.routing.Priority, Allowed: fmt.Sprintf("priority %d is taken by %s (each service's production rule takes its priority and its test rule the one below): choose a number at least 2 away from every other service's", p, other)}
			}
			taken[p] = s.name
		}
	}
	byPriority := slices.Clone(all)
	slices.SortFunc(byPriority, func(a, b routed) int { return a.routing.Priority - b.routing.Priority })
	for i, later := range byPriority {
		for _, earlier := range byPriority[:i] {
			if h, p, shadowed := shadows(earlier.routing, later.routing); shadowed {
				return &ConfigError{Key: later.name, Value: fmt.Sprintf("host %s path %s", orAny(h), p),
					Allowed: fmt.Sprintf("%s's rule (priority %d) takes every such request before this rule (priority %d) sees it: give the more specific rule the lower priority, or route the two apart", earlier.name, earlier.routing.Priority, later.routing.Priority)}
			}
		}
	}
	return nil
}

func orAny(host string) string {
	if host == "" {
		return "(any)"
	}
	return host
}

// shadows reports a host and path pattern of later's rule whose every
// request earlier's rule takes first: later can never serve it. It
// compares one condition value with one, so a value covered only by two of
// earlier's together is not caught.
func shadows(earlier, later Routing) (host, path string, ok bool) {
	hosts := later.HostHeaders
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	paths := later.PathPatterns
	if len(paths) == 0 {
		paths = []string{"*"}
	}
	for _, h := range hosts {
		for _, p := range paths {
			if covers(earlier.HostHeaders, h, hostCovers) && covers(earlier.PathPatterns, p, pathCovers) {
				return h, p, true
			}
		}
	}
	return "", "", false
}

// covers reports whether a condition with values (none: any value)
// matches every value that pattern v matches; "" is any value.
func covers(values []string, v string, one func(a, b string) bool) bool {
	if len(values) == 0 {
		return true
	}
	for _, a := range values {
		if one(a, v) {
			return true
		}
	}
	return false
}

// pathCovers reports whether path pattern a matches every path that
// pattern b matches: they are equal, or a is a prefix followed by a
// single *, and b starts with that prefix. Request paths start with /, so
// "*" and "/*" match them all. It may miss a cover (a*b covering ab), never
// invent one.
func pathCovers(a, b string) bool {
	if a == b || a == "*" || a == "/*" {
		return true
	}
	prefix, star := strings.CutSuffix(a, "*")
	return star && !strings.ContainsAny(prefix, "*?") && strings.HasPrefix(b, prefix)
}

// hostCovers is pathCovers for host patterns, which compare without case;
// "" (no host condition) is every host.
func hostCovers(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if b == "" {
		return a == "" || a == "*"
	}
	if a == b || a == "*" {
		return true
	}
	prefix, star := strings.CutPrefix(a, "*")
	return star && !strings.ContainsAny(prefix, "*?") && strings.HasSuffix(b, prefix)
}
