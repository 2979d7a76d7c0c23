package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fargo-cdk/fargo/internal/plan"
)

// envFixture is the environments of the example: staging in one
// account in eu-west-1, production in another in us-east-1 with more tasks
// and a domain.
var envFixture = map[string]any{"environments": map[string]any{
	"staging": map[string]any{"account": "111111111111", "region": "eu-west-1"},
	"production": map[string]any{
		"account": "222222222222", "region": "us-east-1",
		"minTasks": 4, "maxTasks": 8,
		"domainName": "app.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com",
	},
}}

// envApp is the fixture, synthesized once and shared (make test's time).
var envApp *synthesized

func environments(t *testing.T) *synthesized {
	t.Helper()
	if envApp == nil {
		dir, err := os.MkdirTemp("", "cdk.out-")
		if err != nil {
			t.Fatal(err)
		}
		built["environments"] = synthIn(t, dir, envFixture, nil)
		envApp = built["environments"]
		mustNotPanic(t, func() { envApp.app.Synth(nil) })
	}
	return envApp
}

// TestEnvironmentGoldens pins each environment's templates and contract
// (testdata/environments/<env>/) with the machinery of the user's
// deployment snapshots. Regenerate after reading the diff with:
// go test ./stacks -run TestEnvironmentGoldens -update
func TestEnvironmentGoldens(t *testing.T) {
	checkSnapshots(t, environments(t), filepath.Join("testdata", "environments"), "run go test ./stacks -run TestEnvironmentGoldens -update after reading the diff")
}

// TestEnvironmentAssemblies: one cloud assembly per environment, its
// stacks named <appName>-<env>-<id>, in its account and region.
func TestEnvironmentAssemblies(t *testing.T) {
	s := environments(t)
	want := map[string]string{"staging": "aws://111111111111/eu-west-1", "production": "aws://222222222222/us-east-1"}
	for env, where := range want {
		a, err := plan.LoadEnvironment(s.outdir, env)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		var names []string
		for _, st := range a.Stacks {
			names = append(names, st.Name)
			if st.Environment != where {
				t.Errorf("%s: stack %s deploys to %s, want %s", env, st.Name, st.Environment, where)
			}
		}
		slices.Sort(names)
		wantNames := []string{"fargo-" + env + "-Cluster", "fargo-" + env + "-LoadBalancer", "fargo-" + env + "-Network", "fargo-" + env + "-Service"}
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s: stacks %q, want %q", env, names, wantNames)
		}
	}
	if _, err := plan.LoadEnvironment(s.outdir, "prod"); err == nil || !strings.Contains(err.Error(), `has no environment prod (it has ["production" "staging"])`) {
		t.Errorf("an unknown environment: %v", err)
	}
	// The top-level assembly holds no stack: every environment is in its
	// own (cdk deploy --all deploys nothing by mistake).
	top, err := plan.Load(s.outdir)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Stacks) != 0 {
		t.Errorf("the top-level assembly holds %d stacks, want none", len(top.Stacks))
	}
}

// TestEnvironmentOverrideReachesOnlyItsEnvironment: production's task
// counts and domain are production's, and staging keeps the top level's.
func TestEnvironmentOverrideReachesOnlyItsEnvironment(t *testing.T) {
	s := environments(t)
	for env, want := range map[string]struct {
		min, max  float64
		https     bool
		taskNames string
	}{
		"staging":    {2, 3, false, "fargo-staging"},
		"production": {4, 8, true, "fargo-production"},
	} {
		e := s.environment(t, env)
		target := only(t, e.templates["Service"], "AWS::ApplicationAutoScaling::ScalableTarget")
		if got := path(target, "Properties", "MinCapacity"); got != want.min {
			t.Errorf("%s: MinCapacity %v, want %v", env, got, want.min)
		}
		if got := path(target, "Properties", "MaxCapacity"); got != want.max {
			t.Errorf("%s: MaxCapacity %v, want %v", env, got, want.max)
		}
		https := len(resources(t, e.templates["LoadBalancer"], "AWS::CertificateManager::Certificate")) > 0
		if https != want.https {
			t.Errorf("%s: a certificate: %v, want %v", env, https, want.https)
		}
		family := path(only(t, e.templates["Service"], "AWS::ECS::TaskDefinition"), "Properties", "Family")
		if family != want.taskNames {
			t.Errorf("%s: task family %v, want %v", env, family, want.taskNames)
		}
	}
}

// TestEnvironmentContracts runs the contract checks of the user's
// deployment on each environment of the fixture.
func TestEnvironmentContracts(t *testing.T) {
	s := environments(t)
	eachService(t, checkHealthCheckAndPort, s)
	eachService(t, func(t *testing.T, _ Config, all map[string]map[string]any) { checkDrainArithmetic(t, all) }, s)
	eachService(t, checkSpotStrategy, s)
	eachService(t, checkAlarms, s)
	units := deploymentUnits(t, s)
	for _, env := range slices.Sorted(map2keys(units)) {
		t.Run(env, func(t *testing.T) { checkContractIsTheConfig(t, units[env]) })
	}
}

func map2keys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestEnvironmentAdoptionReplacesNothing proves the migration of an
// existing single deployment: the plan tool's plan (TestPlans' case
// environments-adopt) from today's app, account-bound, to the same app
// become environment production (adopt), changes nothing and breaks no
// invariant.
func TestEnvironmentAdoptionReplacesNothing(t *testing.T) {
	p := casePlans(t)["environments-adopt"]
	if p == nil {
		t.Fatal("no plan case environments-adopt")
	}
	if add, change, destroy := p.Counts(); add+change+destroy > 0 || len(p.Violations) > 0 {
		t.Errorf("adopting the deployment as environment production changes it, want no change at all:\n%s", p.Format())
	}
	if len(p.Stacks) != 4 {
		t.Errorf("the plan compares %d stacks, want today's 4", len(p.Stacks))
	}
}

// TestEnvironmentsValidation: each refusal is one line naming the
// environment and the key.
func TestEnvironmentsValidation(t *testing.T) {
	staging := map[string]any{"account": "111111111111", "region": "eu-west-1"}
	with := func(name string, env map[string]any, more ...map[string]any) map[string]any {
		e := map[string]any{"account": "222222222222", "region": "us-east-1"}
		for k, v := range env {
			e[k] = v
		}
		ctx := map[string]any{"environments": map[string]any{"staging": staging, name: e}}
		for _, m := range more {
			for k, v := range m {
				ctx[k] = v
			}
		}
		return ctx
	}
	api := map[string]any{"services": map[string]any{"api": map[string]any{"package": "./services/api", "paths": []any{"/api"}, "priority": 100}}}
	for _, c := range []struct {
		name string
		ctx  map[string]any
		want string
	}{
		{"unknown key", with("production", map[string]any{"minTask": 4}), `environments.production.minTask="4": unknown key of an environment (see docs/environments.md); did you mean minTasks?`},
		{"appName", with("production", map[string]any{"appName": "other"}), `environments.production.appName="other": cannot differ between environments`},
		{"cpuArchitecture", with("production", map[string]any{"cpuArchitecture": "x86_64"}), `environments.production.cpuArchitecture="x86_64": cannot differ between environments: every environment runs the one image`},
		{"containerPort", with("production", map[string]any{"containerPort": 8080}), `environments.production.containerPort="8080": cannot differ between environments: every environment runs the one image the promotion ships`},
		{"no account", with("production", map[string]any{"account": ""}), `environments.production.account="": an environment is deployed to one account and region`},
		{"no region", with("production", map[string]any{"region": nil}), `environments.production.region="null": an environment is deployed to one account and region`},
		{"bad name", with("Prod_1", nil), `environments="Prod_1": want an environment name of lower-case letters`},
		{"long name", with("production-eu-west-1", nil), `environments="production-eu-west-1": want an environment name`},
		{"bad value", with("production", map[string]any{"minTasks": 0}), `environments.production.minTasks="0"`},
		{"two adopt", with("production", map[string]any{"adopt": true}, map[string]any{"environments": map[string]any{
			"a": map[string]any{"account": "111111111111", "region": "eu-west-1", "adopt": true},
			"b": map[string]any{"account": "222222222222", "region": "eu-west-1", "adopt": true}}}), `environments.b.adopt="true": environment a adopts the existing deployment already`},
		{"unknown service", with("production", map[string]any{"services": map[string]any{"apj": map[string]any{"minTasks": 4}}}, api), `environments.production.services.apj="{\"minTasks\":4}": not a service of the services key`},
		{"service routing", with("production", map[string]any{"services": map[string]any{"api": map[string]any{"paths": []any{"/v2"}}}}, api), `environments.production.services.api.paths="[\"/v2\"]": a service's code and routing are the same in every environment`},
		{"service bad value", with("production", map[string]any{"services": map[string]any{"api": map[string]any{"maxTasks": 1, "minTasks": 2}}}, api), `environments.production.services.api.maxTasks="1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(c.ctx, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v\nwant one line containing %s", err, c.want)
			}
		})
	}
}

// TestEnvironmentsCollide: two environments in one account and region
// may not both own an account-unique name.
func TestEnvironmentsCollide(t *testing.T) {
	for _, c := range []struct {
		name string
		ctx  map[string]any
		want string
	}{
		{"adopted and a service", map[string]any{
			"services": map[string]any{"staging": map[string]any{"package": "./services/api", "paths": []any{"/s"}, "priority": 100}},
			"environments": map[string]any{
				"production": map[string]any{"account": account, "region": "eu-west-1", "adopt": true},
				"staging":    map[string]any{"account": account, "region": "eu-west-1"},
			}}, `environments.staging="fargo-staging": environments production and staging are both in account 123456789012, eu-west-1`},
		{"hyphens", map[string]any{
			"services": map[string]any{"b": map[string]any{"package": "./services/api", "paths": []any{"/s"}, "priority": 100}},
			"environments": map[string]any{
				"a":   map[string]any{"account": account, "region": "eu-west-1"},
				"a-b": map[string]any{"account": account, "region": "eu-west-1"},
			}}, `environments.a-b="fargo-a-b": environments a and a-b are both in account 123456789012, eu-west-1, and both would name a stack, alarm or task family fargo-a-b`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(c.ctx, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// The same environments in two regions, or two accounts, are fine.
	ok := map[string]any{"environments": map[string]any{
		"a":   map[string]any{"account": account, "region": "eu-west-1"},
		"a-b": map[string]any{"account": account, "region": "us-east-1"},
	}}
	if _, err := loadConfig(ok, func(string) string { return "" }); err != nil {
		t.Errorf("two regions: %v", err)
	}
}

// TestEnvironmentPrecedence sets minTasks in every pair of the five
// layers of resolve, for another service (all five) and for the app's own
// service (the first three), and wants the higher layer's value.
func TestEnvironmentPrecedence(t *testing.T) {
	layers := []string{"defaults", "top", "environment", "service", "environment's service"}
	ctxWith := func(set map[int]int) map[string]any {
		api := map[string]any{"package": "./services/api", "paths": []any{"/api"}, "priority": 100}
		prod := map[string]any{"account": "222222222222", "region": "us-east-1"}
		ctx := map[string]any{"services": map[string]any{"api": api}, "environments": map[string]any{"production": prod}}
		for layer, v := range set {
			switch layer {
			case 1:
				ctx["minTasks"] = v
			case 2:
				prod["minTasks"] = v
			case 3:
				api["minTasks"] = v
			case 4:
				prod["services"] = map[string]any{"api": map[string]any{"minTasks": v}}
			}
		}
		ctx["maxTasks"] = 100
		return ctx
	}
	for lo := 0; lo < len(layers); lo++ {
		for hi := lo + 1; hi < len(layers); hi++ {
			t.Run(layers[lo]+" < "+layers[hi], func(t *testing.T) {
				// Defaults' minTasks is 2: the other layers set 10+layer.
				set := map[int]int{hi: 10 + hi}
				if lo > 0 {
					set[lo] = 10 + lo
				}
				c, err := loadConfig(ctxWith(set), func(string) string { return "" })
				if err != nil {
					t.Fatal(err)
				}
				prod := c.Environments[0]
				if got := prod.Services[0].Config.MinTasks; got != 10+hi {
					t.Errorf("service api in production: minTasks %d, want %d (from %s)", got, 10+hi, layers[hi])
				}
				if hi <= 2 {
					if got := prod.MinTasks; got != 10+hi {
						t.Errorf("the app's own service in production: minTasks %d, want %d (from %s)", got, 10+hi, layers[hi])
					}
				}
				// The override of one environment reaches no other layer:
				// the top level stays the top level's.
				want := Defaults["minTasks"].(int)
				if v, ok := set[1]; ok {
					want = v
				}
				if c.MinTasks != want {
					t.Errorf("top level: minTasks %d, want %d", c.MinTasks, want)
				}
			})
		}
	}
}

// TestWithoutEnvironmentsNothingChanges: an app without the key, or with
// an empty one, is today's: the golden templates are compared by
// TestGoldenTemplates; here the config has no environment.
func TestWithoutEnvironmentsNothingChanges(t *testing.T) {
	for _, v := range []any{nil, map[string]any{}, "{}"} {
		ctx := map[string]any{}
		if v != nil {
			ctx["environments"] = v
		}
		c, err := loadConfig(ctx, func(string) string { return "" })
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if len(c.Environments) != 0 || uniqueName(c) != "fargo" || stackName(c, "Network") != "fargo-Network" {
			t.Errorf("environments=%s: %d environments, names %s, %s", fmt.Sprint(v), len(c.Environments), uniqueName(c), stackName(c, "Network"))
		}
	}
}
