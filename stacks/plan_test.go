package stacks

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/sebdah/goldie/v2"

	"github.com/fargo-cdk/fargo/internal/plan"
	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// planBases are the deployed configurations the plans start from, all
// account-bound as a real deploy is: the defaults, and the two settings
// whose own change is planned from their non-default value.
var planBases = map[string]map[string]any{
	"default": {},
	"nat":     {"natGateways": "1"},
	"domain":  {"domainName": "app.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"},
	"rolling": {"deploymentStrategy": "rolling"},
	"linear":  {"deploymentStrategy": "linear"},
	// The fixture's app without and with one service of services: the
	// images come from the fixture.
	"shop":     {imageRootKey: "shop"},
	"services": {"services": planAPI, imageRootKey: "shop"},
}

// planAPI is the services key of the services plan base.
const planAPI = `{"api": {"package": "./services/api", "paths": ["/api"], "priority": 100}}`

// planCase is a realistic change of one setting on a running deployment.
type planCase struct {
	name string // the golden file: testdata/plans/<name>.plan
	key  string // the README Configuration key it plans
	base string
	set  map[string]any
	// change says what the case changes, for the table.
	change string
	// note is what the change does that no template shows (an e-mail SNS
	// sends, a second deployment left running), written by hand; the
	// table marks it as such. Everything else the table says comes from
	// the plan.
	note string
	// unsafe, when set, is why the change cannot be made safe by any order
	// of deploys and what to do instead, where the plan's own procedure
	// does not say it; the test fails if the plan then breaks no
	// invariant, so that the note cannot outlive its cause.
	unsafe string
	// want, when set, is what a broken invariant of the one deploy must
	// say: the finding the case pins, so that the test fails when the plan
	// goes back to calling the change safe.
	want string
	// steps, when set, is the safe order of deploys the plan must give.
	steps [][]string
	// env, when set, is the environment of set's environments key whose
	// stacks the plan reads (plan.LoadEnvironment).
	env string
}

var planCases = []planCase{
	{name: "appName", key: "appName", set: map[string]any{"appName": "shop"}, change: "`fargo` → `shop`"},
	{name: "account", key: "account", set: map[string]any{"account": "210987654321", "region": "eu-west-1"}, change: "another account"},
	{name: "region", key: "region", set: map[string]any{"region": "us-east-1", "account": account}, change: "eu-west-1 → us-east-1"},
	{name: "vpcId", key: "vpcId", set: map[string]any{"vpcId": "vpc-0123456789abcdef0"}, change: "own VPC → an existing VPC",
		unsafe: "the load balancer's target group and security groups move to the other VPC, and the Service stack imports them: destroy and deploy again (see Existing VPC)"},
	{name: "maxAzs", key: "maxAzs", set: map[string]any{"maxAzs": "2"}, change: "3 → 2",
		// The load balancer leaves the third AZ only after the service's
		// deploy has moved the tasks out of it.
		steps: [][]string{{"Service"}, {"LoadBalancer"}}},
	{name: "natGateways-up", key: "natGateways", set: map[string]any{"natGateways": "1"}, change: "0 → 1"},
	{name: "natGateways-down", key: "natGateways", base: "nat", set: map[string]any{"natGateways": "0"}, change: "1 → 0"},
	{name: "containerPort", key: "containerPort", set: map[string]any{"containerPort": "8080"}, change: "5000 → 8080"},
	{name: "healthCheckPath", key: "healthCheckPath", set: map[string]any{"healthCheckPath": "/health/ready"}, change: "`/healthcheck` → `/health/ready`",
		want: "checks /health/ready, the tasks of service ServiceD69D759B answer /healthcheck: they turn unhealthy"},
	{name: "cpu", key: "cpu", set: map[string]any{"cpu": "512", "memoryMiB": "1024"}, change: "256 → 512 (with memoryMiB 1024)"},
	{name: "memoryMiB", key: "memoryMiB", set: map[string]any{"memoryMiB": "1024"}, change: "512 → 1024"},
	{name: "environment", key: "environment", set: map[string]any{"environment": `{"LOG_LEVEL": "debug"}`}, change: "a new variable"},
	{name: "secrets", key: "secrets", set: map[string]any{"secrets": `{"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"}`}, change: "a new secret"},
	{name: "minTasks", key: "minTasks", set: map[string]any{"minTasks": "3"}, change: "2 → 3"},
	{name: "maxTasks", key: "maxTasks", set: map[string]any{"maxTasks": "6"}, change: "3 → 6"},
	{name: "onDemandBaseTasks", key: "onDemandBaseTasks", set: map[string]any{"onDemandBaseTasks": "0"}, change: "1 → 0"},
	{name: "cpuTargetPercent", key: "cpuTargetPercent", set: map[string]any{"cpuTargetPercent": "50"}, change: "70 → 50"},
	{name: "scaleInCooldownSeconds", key: "scaleInCooldownSeconds", set: map[string]any{"scaleInCooldownSeconds": "600"}, change: "300 → 600"},
	{name: "scaleOutCooldownSeconds", key: "scaleOutCooldownSeconds", set: map[string]any{"scaleOutCooldownSeconds": "30"}, change: "60 → 30"},
	{name: "requestsPerTarget", key: "requestsPerTarget", base: "rolling", set: map[string]any{"requestsPerTarget": "500"}, change: "off → 500 (with deploymentStrategy rolling)"},
	{name: "deploymentStrategy-rolling", key: "deploymentStrategy", set: map[string]any{"deploymentStrategy": "rolling"}, change: "canary → rolling",
		want: "CloudFormation deletes target group AlternateTargetGroup66004475 while the live listener rule ProductionRuleD96592E2 may still forward to it"},
	{name: "deploymentStrategy-linear", key: "deploymentStrategy", set: map[string]any{"deploymentStrategy": "linear"}, change: "canary → linear"},
	{name: "deploymentStrategy-fromRolling", key: "deploymentStrategy", base: "rolling", set: map[string]any{"deploymentStrategy": "canary"}, change: "rolling → canary"},
	{name: "deploymentStrategy-blueGreen", key: "deploymentStrategy", set: map[string]any{"deploymentStrategy": "blueGreen"}, change: "canary → blueGreen"},
	{name: "canaryPercent", key: "canaryPercent", set: map[string]any{"canaryPercent": "10"}, change: "5 → 10"},
	{name: "linearStepPercent", key: "linearStepPercent", base: "linear", set: map[string]any{"linearStepPercent": "25"}, change: "20 → 25 (with deploymentStrategy linear)"},
	{name: "stepBakeMinutes", key: "stepBakeMinutes", set: map[string]any{"stepBakeMinutes": "10"}, change: "6 → 10"},
	{name: "bakeMinutes", key: "bakeMinutes", set: map[string]any{"bakeMinutes": "30"}, change: "5 → 30"},
	{name: "cpuArchitecture", key: "cpuArchitecture", set: map[string]any{"cpuArchitecture": "x86_64"}, change: "arm64 → x86_64"},
	{name: "spotFallback", key: "spotFallback", set: map[string]any{"spotFallback": "false"}, change: "on → off",
		note: "a Spot fallback in progress ends with the forced deployment (on-demand costs about three times Spot)"},
	{name: "spotFallbackQuietMinutes", key: "spotFallbackQuietMinutes", set: map[string]any{"spotFallbackQuietMinutes": "60"}, change: "30 → 60"},
	{name: "probePath", key: "probePath", set: map[string]any{"probePath": "/ready", "probeStatus": "204", "probeBody": ""}, change: "what make smoke, make integ and the e2e test request: no stack changes"},
	{name: "probePath", key: "probeStatus"},
	{name: "probePath", key: "probeBody"},
	{name: "logRetentionDays", key: "logRetentionDays", set: map[string]any{"logRetentionDays": "90"}, change: "30 → 90"},
	{name: "corsAllowedOrigins", key: "corsAllowedOrigins", set: map[string]any{"corsAllowedOrigins": "https://app.example.com"}, change: "`*` → one origin"},
	{name: "corsAllowCredentials", key: "corsAllowCredentials", set: map[string]any{"corsAllowedOrigins": "https://app.example.com", "corsAllowCredentials": "true"}, change: "false → true (with one origin)"},
	{name: "domainName", key: "domainName", set: map[string]any{"domainName": "app.example.com", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}, change: "on, with `certificateArn`",
		note: "clients that do not follow redirects stop working on http://"},
	{name: "domainName-off", key: "domainName", base: "domain", set: map[string]any{"domainName": "", "hostedZoneId": "", "hostedZoneName": ""}, change: "off (was on, with the zone)",
		want: "takes port 80 while listener LoadBalancerRedirectListener939DED4E still holds it"},
	{name: "hostedZone", key: "hostedZoneId", set: planBases["domain"], change: "domain on, with the zone (and `hostedZoneName`)",
		note: "the listener's move to HTTPS waits for ACM's DNS validation of the new certificate, serving HTTP on 80 until then"},
	{name: "hostedZone", key: "hostedZoneName"},
	{name: "certificateArn", key: "certificateArn", base: "domain", set: map[string]any{"hostedZoneId": "", "hostedZoneName": "", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"},
		change: "ACM-issued → your certificate"},
	{name: "alarmEmail", key: "alarmEmail", set: map[string]any{"alarmEmail": "ops@example.com"}, change: "on",
		note: "SNS e-mails a confirmation request; alarms reach the address once it is confirmed"},
	{name: "alarmErrorRatePercent", key: "alarmErrorRatePercent", set: map[string]any{"alarmErrorRatePercent": "2"}, change: "5 → 2"},
	{name: "alarmLatencyP99Ms", key: "alarmLatencyP99Ms", set: map[string]any{"alarmLatencyP99Ms": "500"}, change: "1000 → 500"},
	{name: "alarmCpuPercent", key: "alarmCpuPercent", set: map[string]any{"alarmCpuPercent": "80"}, change: "90 → 80"},
	{name: "alarmMemoryPercent", key: "alarmMemoryPercent", set: map[string]any{"alarmMemoryPercent": "80"}, change: "90 → 80"},
	// An environment beside it would be new stacks in an assembly of its
	// own, which this plan does not read: one environment keeps the synth
	// cheap.
	{name: "environments-adopt", key: "environments", set: map[string]any{"environments": `{"production": {"account": "123456789012", "region": "eu-west-1", "adopt": true}}`},
		env: "production", change: "the deployment becomes environment production (`adopt`)", note: "another environment is a new copy of every stack, in its own assembly (docs/environments.md)"},
	{name: "services-add", key: "services", base: "shop", set: map[string]any{"services": planAPI, imageRootKey: "shop"}, change: "a service added"},
	{name: "services-remove", key: "services", base: "services", set: map[string]any{"services": "{}"}, change: "a service removed"},
	{name: "services-routing", key: "services", base: "services", set: map[string]any{"services": `{"api": {"package": "./services/api", "paths": ["/v1"], "priority": 100}}`}, change: "a service's paths",
		want: "CloudFormation updates listener rule ProductionRuleD96592E2 for its [Conditions] change, but ECS owns its action"},
}

// planConfig is one synthesized configuration, by name.
func (c planCase) config() (string, map[string]any) {
	base := c.base
	if base == "" {
		base = "default"
	}
	set := maps.Clone(planBases[base])
	maps.Copy(set, c.set)
	return c.name, set
}

// synthPlanAssemblies synthesizes each configuration in an app of its own
// (a stage would put its name into resource names and logical ids),
// without the template validator and cdk-nag, which the other tests run on
// the configurations they check.
func synthPlanAssemblies(t *testing.T, configs map[string]map[string]any) map[string]string {
	t.Helper()
	ctx := cdkContext(t)
	maps.Copy(ctx, testContext(t))
	ctx["aws:cdk:disable-asset-staging"] = true
	dirs := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		c := maps.Clone(ctx)
		maps.Copy(c, configs[name])
		cfg, err := loadConfig(c, func(k string) string { return bound("eu-west-1")[k] })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		dirs[name] = t.TempDir()
		root := repoRoot
		if c[imageRootKey] == "shop" {
			root = shopRoot(t)
		}
		mustNotPanic(t, func() {
			app := awscdk.NewApp(&awscdk.AppProps{
				Context:                         &c,
				Outdir:                          jsii.String(dirs[name]),
				BuiltinCloudFormationValidation: jsii.Bool(false),
			})
			assemble(app, cfg, mustImages(t, root, cfg), false)
			app.Synth(nil)
		})
	}
	return dirs
}

// withoutDefaults drops the keys a configuration sets to their shipped
// value: it synthesizes as if they were not set.
func withoutDefaults(set map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range set {
		if fmt.Sprint(v) != fmt.Sprint(Defaults[k]) {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// plans holds each case's plan, computed once, and baseAssemblies the
// deployed configurations they start from, by base name.
var (
	plans          map[string]*plan.Plan
	baseAssemblies map[string]*plan.Assembly
)

func casePlans(t *testing.T) map[string]*plan.Plan {
	t.Helper()
	if plans != nil {
		return plans
	}
	requireTool(t, "cfn-lint")
	schemaDir, err := plan.CfnLintSchemas()
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]map[string]any{}
	for name, set := range planBases {
		configs["base-"+name] = set
	}
	// A case whose configuration is a base's reuses the base's assembly.
	same := map[string]string{}
	for _, c := range planCases {
		if c.set == nil {
			continue
		}
		name, set := c.config()
		for base, b := range planBases {
			if maps.Equal(withoutDefaults(b), withoutDefaults(set)) {
				same[name] = "base-" + base
			}
		}
		if same[name] == "" {
			configs[name] = set
		}
	}
	dirs := synthPlanAssemblies(t, configs)
	for name, base := range same {
		dirs[name] = dirs[base]
	}
	baseAssemblies = map[string]*plan.Assembly{}
	for base := range planBases {
		if baseAssemblies[base], err = plan.Load(dirs["base-"+base]); err != nil {
			t.Fatal(err)
		}
	}
	schemas := plan.SchemaCache(schemaDir)
	plans = map[string]*plan.Plan{}
	for _, c := range planCases {
		if c.set == nil {
			continue
		}
		base := c.base
		if base == "" {
			base = "default"
		}
		before, err := plan.Load(dirs["base-"+base])
		if err != nil {
			t.Fatal(err)
		}
		after, err := plan.LoadEnvironment(dirs[c.name], c.env)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Diff(before, after, schemas)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p.Check()
		plans[c.name] = p
	}
	return plans
}

// TestPlans pins the change plan of every setting (testdata/plans) and
// fails when a plan breaks an invariant that its case does not declare
// unsafe. Regenerate the plans and the README table after a change of
// the stacks with: go test ./stacks -run TestPlans -update
func TestPlans(t *testing.T) {
	all := casePlans(t)
	g := goldie.New(t, goldie.WithFixtureDir(filepath.Join("testdata", "plans")), goldie.WithNameSuffix(".plan"))
	for _, c := range planCases {
		if c.set == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			p := all[c.name]
			g.Assert(t, c.name, []byte(p.Format()))
			switch {
			case len(p.Violations) > 0 && len(p.Steps) == 0 && c.unsafe == "" && !hasFix(p):
				t.Errorf("the plan breaks an invariant, with no safe order and no procedure:\n%s", p.Format())
			case len(p.Violations) == 0 && c.unsafe != "":
				t.Errorf("declared unsafe (%s), but the plan breaks no invariant: drop the note", c.unsafe)
			}
			if c.want != "" && !slices.ContainsFunc(p.Violations, func(v plan.Violation) bool { return strings.Contains(v.Message, c.want) }) {
				t.Errorf("the plan no longer says %q; it says:\n%s", c.want, p.Format())
			}
			if c.want != "" && len(p.Steps) > 0 {
				t.Errorf("no order of deploys makes it safe, yet the plan gives one: %v", p.Steps)
			}
			if c.steps != nil && !reflect.DeepEqual(p.Steps, c.steps) {
				t.Errorf("safe order %v, want %v:\n%s", p.Steps, c.steps, p.Format())
			}
		})
	}
	checkPlanTable(t, all)
}

// TestPlansCoverEveryKey: every context key (the Defaults, which
// TestEveryKeyIsDocumented keeps equal to the README's Configuration
// table) has a plan.
func TestPlansCoverEveryKey(t *testing.T) {
	planned := map[string]bool{}
	for _, c := range planCases {
		planned[c.key] = true
	}
	for _, key := range userKeys(t) {
		if !planned[key] {
			t.Errorf("no change plan for %s: add a planCase", key)
		}
	}
}

const (
	tableBegin = "<!-- plan table: go test ./stacks -run TestPlans -update writes it -->"
	tableEnd   = "<!-- end of plan table -->"
	// planDoc holds the table, beside what make plan does.
	planDoc = "docs/plans.md"
)

// planTable renders the "What changing a setting does" table from the
// plans: every cell but the key, the change and the marked notes is the
// plan's own words.
func planTable(all map[string]*plan.Plan) string {
	var b strings.Builder
	b.WriteString("| key | change planned | what the deploy does | tasks | requests | by hand |\n|---|---|---|---|---|---|\n")
	byName := map[string]planCase{}
	for _, c := range planCases {
		if c.set != nil {
			byName[c.name] = c
		}
	}
	for _, k := range planCases {
		c := byName[k.name]
		p := all[c.name]
		e := p.Effects()
		hand := e.ByHand
		if c.unsafe != "" {
			hand = append(hand, "**unsafe**: "+c.unsafe+" (not in the templates)")
		}
		if c.note != "" {
			hand = append(hand, "also: "+c.note+" (not in the templates)")
		}
		if len(hand) == 0 {
			hand = []string{"nothing"}
		}
		fmt.Fprintf(&b, "| [`%s`](../stacks/testdata/plans/%s.plan) | %s | %s | %s | %s | %s |\n",
			k.key, c.name, c.change, p.Summary(), e.Tasks, e.Requests, strings.Join(hand, "; "))
	}
	return b.String()
}

// checkPlanTable compares the table in docs/plans.md with the plans, and
// with -update writes it.
func checkPlanTable(t *testing.T, all map[string]*plan.Plan) {
	want := planTable(all)
	update := false
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		update = true
	}
	_, differs, err := testhelp.GeneratedSection(filepath.Join(repoRoot, planDoc), tableBegin, tableEnd, want, update)
	if err != nil {
		t.Fatal(err)
	}
	if differs {
		t.Errorf("%s's plan table is not what the plans say; run go test ./stacks -run TestPlans -update, want:\n%s", planDoc, want)
	}
}

// hasFix reports whether the plan says what to do instead for every
// invariant it breaks.
func hasFix(p *plan.Plan) bool {
	for _, v := range p.Violations {
		if v.Fix == "" {
			return false
		}
	}
	return true
}

// TestDestroyDeletesRulesFirst: cdk destroy deletes each listener rule
// that ECS owns before either target group, which a live rule may still
// forward to, for every strategy's Service stack.
func TestDestroyDeletesRulesFirst(t *testing.T) {
	casePlans(t)
	for _, base := range []string{"default", "linear", "rolling"} {
		for _, v := range plan.Destroy(baseAssemblies[base]) {
			t.Errorf("%s: %s; %s", base, v.Message, v.Fix)
		}
	}
}

// TestRuleDependsOnIsSafe: adding the rules' DependsOn (which
// TestDestroyDeletesRulesFirst needs) to a deployed native service plans
// as no change: the deployed templates without them, the new ones with.
func TestRuleDependsOnIsSafe(t *testing.T) {
	casePlans(t)
	after := baseAssemblies["default"]
	before := &plan.Assembly{Dir: after.Dir}
	stripped := 0
	for _, as := range after.Stacks {
		s := *as
		data, err := json.Marshal(as.Template)
		if err != nil {
			t.Fatal(err)
		}
		s.Template = plan.Template{}
		if err := json.Unmarshal(data, &s.Template); err != nil {
			t.Fatal(err)
		}
		before.Stacks = append(before.Stacks, &s)
		for id, r := range s.Template.Resources {
			if r.Type == "AWS::ElasticLoadBalancingV2::ListenerRule" && r.DependsOn != nil {
				r.DependsOn = nil
				s.Template.Resources[id] = r
				stripped++
			}
		}
	}
	if stripped != 2 {
		t.Fatalf("%d listener rules with DependsOn, want the production and the test rule", stripped)
	}
	schemaDir, err := plan.CfnLintSchemas()
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Diff(before, after, plan.SchemaCache(schemaDir))
	if err != nil {
		t.Fatal(err)
	}
	p.Check()
	if add, change, destroy := p.Counts(); add+change+destroy > 0 || len(p.Violations) > 0 {
		t.Errorf("adding the rules' DependsOn is not a no-op:\n%s", p.Format())
	}
}

// TestPlanVerdictsDuringASpotFallback: a plan that calls a deploy safe
// must stay right while the Spot fallback has the service on on-demand
// Fargate. CloudFormation sends the template's capacity-provider strategy
// with every update of the service, and ECS refuses a strategy change
// without a forced deployment: had the template a strategy, every such
// "no task restarts" deploy would fail during a fallback (or, forced,
// undo it). So with the fallback on, no plan's Service template carries
// one; and turning the fallback off, which ends a fallback in progress,
// must restart the tasks.
func TestPlanVerdictsDuringASpotFallback(t *testing.T) {
	all := casePlans(t)
	for _, c := range planCases {
		if c.set == nil {
			continue
		}
		_, set := c.config()
		if set["spotFallback"] == "false" {
			continue
		}
		for _, sp := range all[c.name].Stacks {
			if sp.After == nil {
				continue
			}
			for id, r := range sp.After.Template.Resources {
				if r.Type != "AWS::ECS::Service" {
					continue
				}
				if v, ok := r.Properties["CapacityProviderStrategy"]; ok {
					t.Errorf("%s: service %s has the strategy %v with the Spot fallback on: the deploy would fail, or end the fallback, while one is in progress", c.name, id, v)
				}
			}
		}
	}
	if p := all["spotFallback"]; !p.RollsTasks() {
		t.Errorf("turning spotFallback off starts no new deployment: a fallback in progress would leave the service on on-demand, about three times the price:\n%s", p.Format())
	}
}
