package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Service is one more service of the app, from the services context key:
// its own Service stack, image, target groups and listener rules on the
// shared load balancer (docs/services.md).
type Service struct {
	// Name is the key in services: it names the stack
	// (<appName>-Service-<name>) and every account-unique name the
	// service owns (see uniqueName).
	Name string
	// Package is a main package of this module (./services/api) that the
	// one Dockerfile builds through its PACKAGE build argument; Directory a
	// directory with its own Dockerfile. Exactly one is set.
	Package   string
	Directory string
	// Routing is where its requests come from on the shared listener.
	Routing Routing
	// Config is the service's whole configuration, resolved by
	// resolveService.
	Config Config
}

// StackID is the construct id of the service's stack: the template file
// is <StackID>.template.json. It never changes for a given name.
func (s Service) StackID() string { return "Service-" + s.Name }

// serviceKeys are the keys a service's entry may hold besides the
// per-service keys of Defaults: where its code is and its routing.
var serviceKeys = []string{"package", "directory", "hosts", "paths", "priority"}

// appKeys are the Defaults keys that belong to the whole app, not to one
// service: a service's entry may not set them.
var appKeys = []string{
	"appName", "account", "region", "vpcId", "maxAzs", "natGateways",
	"domainName", "hostedZoneId", "hostedZoneName", "certificateArn", "services", "environments",
}

// ownOnly are the keys a service does not inherit from the top level: it
// gets its own or none, so that no task's execution role can read another
// service's secrets.
var ownOnly = []string{"environment", "secrets"}

// serviceNamePattern: lower-case letters, digits and single hyphens,
// starting with a letter. The name goes into the stack name, alarm and
// dashboard names, the log group and the task family; maxServiceName keeps
// the longest of them in bounds (see checkNameLength).
var serviceNamePattern = regexp.MustCompile(`^[a-z]([a-z0-9]|-[a-z0-9])*$`)

// maxServiceName is the longest service name. The names it goes into
// allow far more (stack names 128 characters, alarm names and task
// families 255, with a 30-character appName); the bound keeps them
// readable in the console and leaves room for an environment's name
// between the app's and the service's.
const maxServiceName = 32

// readServices reads the services key of ctx, the user's context, in the
// environment whose overrides env holds (nil for the top level): each
// entry resolved by resolve. base is the app's own, validated Config in
// that environment.
func readServices(ctx, env map[string]any, base Config, getenv func(string) string) ([]Service, error) {
	raw := ctx["services"]
	if raw == nil {
		return nil, nil
	}
	if s, isString := raw.(string); isString {
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, &ConfigError{Key: "services", Value: s, Allowed: `want a JSON object such as {"api": {"package": "./services/api", "paths": ["/api"], "priority": 100}}`}
		}
	}
	entries, ok := raw.(map[string]any)
	if !ok {
		return nil, &ConfigError{Key: "services", Value: compact(raw), Allowed: `want a JSON object such as {"api": {"package": "./services/api", "paths": ["/api"], "priority": 100}}`}
	}
	var out []Service
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		key := "services." + name
		if !serviceNamePattern.MatchString(name) || len(name) > maxServiceName {
			return nil, &ConfigError{Key: "services", Value: name, Allowed: fmt.Sprintf("want a service name of lower-case letters, digits and single hyphens, starting with a letter, at most %d characters: it names the service's stack, alarms, log group and task family", maxServiceName)}
		}
		entry, ok := entries[name].(map[string]any)
		if !ok {
			return nil, &ConfigError{Key: key, Value: compact(entries[name]), Allowed: `want an object such as {"package": "./services/api", "paths": ["/api"], "priority": 100}`}
		}
		s, err := resolveService(ctx, env, base.EnvName, name, entry, getenv)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := checkRouting(base, out); err != nil {
		return nil, err
	}
	return out, nil
}

// resolveService reads one service of services in one environment (envName
// and its overrides env, or none): its values come from resolve, its code
// and routing from its entry alone.
func resolveService(ctx, env map[string]any, envName, name string, entry map[string]any, getenv func(string) string) (Service, error) {
	key := "services." + name
	s := Service{Name: name}
	for _, k := range slices.Sorted(maps.Keys(entry)) {
		v := entry[k]
		switch {
		case slices.Contains(serviceKeys, k):
			continue
		case slices.Contains(appKeys, k):
			return Service{}, &ConfigError{Key: key + "." + k, Value: compact(v), Allowed: "a setting of the whole app: set it at the top level of the context, not in a service"}
		case Defaults[k] == nil:
			known := append(slices.Collect(maps.Keys(Defaults)), serviceKeys...)
			hint := "unknown key of a service (see docs/services.md)"
			if near := nearest(k, known); near != "" {
				hint += "; did you mean " + near + "?"
			}
			return Service{}, &ConfigError{Key: key + "." + k, Value: compact(v), Allowed: hint}
		}
	}
	merged, given := resolve(ctx, env, name, entry, environmentOverrides(env, name))
	prefix := key + "."
	if envName != "" {
		prefix = "environments." + envName + "." + prefix
	}
	cfg, err := readConfig(merged, given, getenv, prefix)
	if err != nil {
		return Service{}, err
	}
	cfg.Service = name
	cfg.EnvName = envName
	s.Config = cfg
	if err := s.readCode(entry, key); err != nil {
		return Service{}, err
	}
	r, err := readRouting(entry, key)
	if err != nil {
		return Service{}, err
	}
	s.Routing = r
	if len(r.HostHeaders) > 0 && cfg.HasDomain() {
		return Service{}, &ConfigError{Key: key + ".hosts", Value: strings.Join(r.HostHeaders, ","), Allowed: "host routing over HTTPS needs a certificate and a DNS record per host, which fargo does not create yet: with domainName set, route this service by paths (docs/services.md, Hosts)"}
	}
	return s, nil
}

// modulePackagePattern is a relative package path of this module.
var modulePackagePattern = regexp.MustCompile(`^\./[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$`)

// readCode reads where the service's code is: package or directory.
func (s *Service) readCode(entry map[string]any, key string) error {
	pkg, _ := entry["package"].(string)
	dir, _ := entry["directory"].(string)
	for _, k := range []string{"package", "directory"} {
		if v, set := entry[k]; set {
			if _, isString := v.(string); !isString {
				return &ConfigError{Key: key + "." + k, Value: compact(v), Allowed: "want a string"}
			}
		}
	}
	switch {
	case (pkg == "") == (dir == ""):
		return &ConfigError{Key: key, Value: compact(entry), Allowed: `want exactly one of package (a main package of this module, such as "./services/api") and directory (a directory with its own Dockerfile)`}
	case pkg != "" && (!modulePackagePattern.MatchString(pkg) || strings.Contains(pkg, "/../") || strings.HasSuffix(pkg, "/..")):
		return &ConfigError{Key: key + ".package", Value: pkg, Allowed: `want a package path inside this module starting with ./, such as ./services/api`}
	case dir != "" && (!modulePackagePattern.MatchString(dir) || strings.Contains(dir, "/../") || strings.HasSuffix(dir, "/..")):
		return &ConfigError{Key: key + ".directory", Value: dir, Allowed: `want a directory inside the repository starting with ./, such as ./services/web, holding a Dockerfile`}
	}
	s.Package, s.Directory = pkg, dir
	return nil
}
