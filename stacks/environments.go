package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// environmentNamePattern: lower-case letters, digits and single hyphens,
// starting with a letter, as service names. The name is a CDK Stage id
// (the stacks' path, `<env>/Network`), the assembly directory
// (cdk.out/assembly-<env>) and part of every account-unique name.
var environmentNamePattern = regexp.MustCompile(`^[a-z]([a-z0-9]|-[a-z0-9])*$`)

// maxEnvironmentName bounds the name: it goes into the stack names and
// uniqueName between appName (30) and a service's name (32), and the
// longest stack name, <appName>-<env>-Service-<service>, stays far below
// CloudFormation's 128 characters.
const maxEnvironmentName = 16

// fixedKeys cannot differ between environments: appName names every
// environment's stacks and resources (a second appName is a second app,
// not an environment); cpuArchitecture is the platform of the one image
// the promotion ships from staging to production by digest (a
// single-architecture image runs on one CPU); containerPort and
// healthCheckPath are the contract that image was tested against (the e2e
// test reads one environment's snapshots for all).
var fixedKeys = map[string]string{
	"appName":         "the app's name is the same in every environment: the environment's name is added to every name already",
	"cpuArchitecture": "every environment runs the one image the promotion ships by digest, built for one architecture: set cpuArchitecture at the top level",
	"containerPort":   "every environment runs the one image the promotion ships, tested against one contract (docs/contract.md): set containerPort at the top level",
	"healthCheckPath": "every environment runs the one image the promotion ships, tested against one contract (docs/contract.md): set healthCheckPath at the top level",
	"environments":    "environments do not nest",
}

// environmentKeys are the keys an environment holds besides the
// overrides of Defaults keys.
var environmentKeys = []string{"adopt", "services"}

// readEnvironments reads the environments key of ctx, the user's context:
// each environment's whole Config (its services too), sorted by name.
// None without the key, or with an empty object.
func readEnvironments(ctx map[string]any, getenv func(string) string) ([]Config, error) {
	raw := ctx["environments"]
	if raw == nil {
		return nil, nil
	}
	const example = `{"staging": {"account": "111111111111", "region": "eu-west-1"}}`
	if s, isString := raw.(string); isString {
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, &ConfigError{Key: "environments", Value: s, Allowed: "want a JSON object such as " + example}
		}
	}
	entries, ok := raw.(map[string]any)
	if !ok {
		return nil, &ConfigError{Key: "environments", Value: compact(raw), Allowed: "want a JSON object such as " + example}
	}
	var out []Config
	adopted := ""
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		key := "environments." + name
		if !environmentNamePattern.MatchString(name) || len(name) > maxEnvironmentName {
			return nil, &ConfigError{Key: "environments", Value: name, Allowed: fmt.Sprintf("want an environment name of lower-case letters, digits and single hyphens, starting with a letter, at most %d characters: it names the environment's stacks, assembly and resources", maxEnvironmentName)}
		}
		env, ok := entries[name].(map[string]any)
		if !ok {
			return nil, &ConfigError{Key: key, Value: compact(entries[name]), Allowed: `want an object such as {"account": "111111111111", "region": "eu-west-1", "minTasks": 4}`}
		}
		if err := checkEnvironmentKeys(name, env, ctx); err != nil {
			return nil, err
		}
		for _, k := range []string{"account", "region"} {
			if s, _ := env[k].(string); strings.TrimSpace(s) == "" {
				return nil, &ConfigError{Key: key + "." + k, Value: compact(env[k]), Allowed: "an environment is deployed to one account and region: set both (the 12-digit account id and a region such as eu-west-1)"}
			}
		}
		adopt := false
		if v, set := env["adopt"]; set {
			b, isBool := v.(bool)
			if !isBool {
				return nil, &ConfigError{Key: key + ".adopt", Value: compact(v), Allowed: "want true or false"}
			}
			adopt = b
		}
		if adopt && adopted != "" {
			return nil, &ConfigError{Key: key + ".adopt", Value: true, Allowed: "environment " + adopted + " adopts the existing deployment already: one environment can keep today's names"}
		}
		if adopt {
			adopted = name
		}
		c, err := loadEnvironment(ctx, env, name, getenv)
		if err != nil {
			return nil, err
		}
		if adopt {
			c.Adopted = true
			for i := range c.Services {
				c.Services[i].Config.Adopted = true
			}
		}
		out = append(out, c)
	}
	if err := checkCollisions(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkEnvironmentKeys refuses a key an environment cannot hold: an
// unknown one (with the nearest known key), one of fixedKeys, and a
// service override that names no service or sets what is the same in
// every environment (its code and routing: the promoted image and the
// shared listener's rules).
func checkEnvironmentKeys(name string, env, ctx map[string]any) error {
	key := "environments." + name
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		switch {
		case fixedKeys[k] != "":
			return &ConfigError{Key: key + "." + k, Value: compact(v), Allowed: "cannot differ between environments: " + fixedKeys[k]}
		case slices.Contains(environmentKeys, k):
		case Defaults[k] == nil:
			known := append(slices.Collect(maps.Keys(Defaults)), environmentKeys...)
			hint := "unknown key of an environment (see docs/environments.md)"
			if near := nearest(k, known); near != "" {
				hint += "; did you mean " + near + "?"
			}
			return &ConfigError{Key: key + "." + k, Value: compact(v), Allowed: hint}
		}
	}
	raw, set := env["services"]
	if !set {
		return nil
	}
	overrides, ok := raw.(map[string]any)
	if !ok {
		return &ConfigError{Key: key + ".services", Value: compact(raw), Allowed: `want an object of service names and their overrides, such as {"api": {"minTasks": 4}}`}
	}
	services := topServices(ctx)
	for _, svc := range slices.Sorted(maps.Keys(overrides)) {
		skey := key + ".services." + svc
		if _, exists := services[svc]; !exists {
			hint := "not a service of the services key: an environment overrides the settings of the app's services, it does not add one"
			if near := nearest(svc, slices.Collect(maps.Keys(services))); near != "" {
				hint += "; did you mean " + near + "?"
			}
			return &ConfigError{Key: skey, Value: compact(overrides[svc]), Allowed: hint}
		}
		entry, ok := overrides[svc].(map[string]any)
		if !ok {
			return &ConfigError{Key: skey, Value: compact(overrides[svc]), Allowed: `want an object such as {"minTasks": 4}`}
		}
		for _, k := range slices.Sorted(maps.Keys(entry)) {
			switch {
			case fixedKeys[k] != "":
				return &ConfigError{Key: skey + "." + k, Value: compact(entry[k]), Allowed: "cannot differ between environments: " + fixedKeys[k]}
			case slices.Contains(serviceKeys, k):
				return &ConfigError{Key: skey + "." + k, Value: compact(entry[k]), Allowed: "a service's code and routing are the same in every environment (one image is promoted, one set of listener rules): set it in services." + svc}
			case slices.Contains(appKeys, k):
				return &ConfigError{Key: skey + "." + k, Value: compact(entry[k]), Allowed: "a setting of the whole app: set it in environments." + name + ", not in a service"}
			case Defaults[k] == nil:
				hint := "unknown key of a service (see docs/services.md)"
				if near := nearest(k, slices.Collect(maps.Keys(Defaults))); near != "" {
					hint += "; did you mean " + near + "?"
				}
				return &ConfigError{Key: skey + "." + k, Value: compact(entry[k]), Allowed: hint}
			}
		}
	}
	return nil
}

// topServices returns the services key's entries as the user wrote them,
// or none.
func topServices(ctx map[string]any) map[string]any {
	raw := ctx["services"]
	if s, isString := raw.(string); isString {
		json.Unmarshal([]byte(s), &raw)
	}
	m, _ := raw.(map[string]any)
	return m
}

// environmentOverrides returns an environment's overrides of one service,
// or none.
func environmentOverrides(env map[string]any, service string) map[string]any {
	all, _ := env["services"].(map[string]any)
	m, _ := all[service].(map[string]any)
	return m
}

// accountUniqueNames are the names of c's deployment that must be unique
// in its account and region: its stack names and uniqueName of the app's
// own service and of each service.
func accountUniqueNames(c Config) []string {
	var names []string
	for _, id := range stackIDs(c) {
		names = append(names, stackName(c, id))
	}
	names = append(names, uniqueName(c))
	for _, s := range c.Services {
		names = append(names, uniqueName(s.Config))
	}
	return names
}

// checkCollisions refuses two environments in one account and region that
// would both own a name that must be unique there: one would overwrite or
// fail to create the other's stack, alarm or task family.
func checkCollisions(envs []Config) error {
	for i, a := range envs {
		for _, b := range envs[i+1:] {
			if a.Account != b.Account || a.Region != b.Region {
				continue
			}
			for _, n := range accountUniqueNames(b) {
				if slices.Contains(accountUniqueNames(a), n) {
					return &ConfigError{Key: "environments." + b.EnvName, Value: n, Allowed: fmt.Sprintf("environments %s and %s are both in account %s, %s, and both would name a stack, alarm or task family %s: move one to another account or region, or rename the service or environment", a.EnvName, b.EnvName, a.Account, a.Region, n)}
				}
			}
		}
	}
	return nil
}
