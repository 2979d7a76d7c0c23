package stacks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestDeployStrategies(t *testing.T) {
	native := map[string]any{
		"Strategy":                 assertions.Match_AnyValue(),
		"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
		"BakeTimeInMinutes":        5,
		"Alarms":                   map[string]any{"Enable": true, "Rollback": true, "AlarmNames": assertions.Match_AnyValue()},
	}
	tests := []struct {
		variant string
		config  map[string]any
		// groups and rules the Service stack holds
		groups, rules int
	}{
		{"Account", merge(native, map[string]any{
			"Strategy":            "CANARY",
			"CanaryConfiguration": map[string]any{"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 6},
			"LinearConfiguration": assertions.Match_Absent(),
		}), 2, 2},
		{"Linear", merge(native, map[string]any{
			"Strategy":            "LINEAR",
			"LinearConfiguration": map[string]any{"StepPercent": 20, "StepBakeTimeInMinutes": 6},
			"CanaryConfiguration": assertions.Match_Absent(),
		}), 2, 2},
		{"BlueGreen", merge(native, map[string]any{
			"Strategy":            "BLUE_GREEN",
			"CanaryConfiguration": assertions.Match_Absent(),
			"LinearConfiguration": assertions.Match_Absent(),
		}), 2, 2},
		// Today's behaviour: the circuit breaker and the alarms, one group.
		{"App", map[string]any{
			"Strategy":                 "ROLLING",
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			"BakeTimeInMinutes":        assertions.Match_Absent(),
			"Alarms":                   map[string]any{"Enable": true, "Rollback": true, "AlarmNames": []any{"fargo-Target5xx", "fargo-LatencyP99"}},
		}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			tpl := variant(t, tt.variant).templates["Service"]
			has(t, tpl, "AWS::ECS::Service", map[string]any{"DeploymentConfiguration": tt.config})
			count(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup", tt.groups)
			count(t, tpl, "AWS::ElasticLoadBalancingV2::ListenerRule", tt.rules)
			svc := only(t, tpl, "AWS::ECS::Service")
			advanced := path(svc, "Properties", "LoadBalancers", 0, "AdvancedConfiguration")
			if (tt.groups == 2) != (advanced != nil) {
				t.Errorf("AdvancedConfiguration = %v with %d target groups", advanced, tt.groups)
			}
			roles := 0
			for _, r := range resources(t, tpl, "AWS::IAM::Role") {
				if strings.Contains(compact(r), "AmazonECSInfrastructureRolePolicyForLoadBalancers") {
					roles++
				}
			}
			if want := tt.groups - 1; roles != want {
				t.Errorf("%d roles with the load balancer infrastructure policy, want %d", roles, want)
			}
		})
	}
}

// referenced returns the logical ids a value refers to with Ref or
// Fn::GetAtt, and the export names it imports.
func referenced(v any) (ids, imports []string) {
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["Ref"].(string); ok && !strings.HasPrefix(r, "AWS::") {
			ids = append(ids, r)
		}
		if a, ok := v["Fn::GetAtt"].([]any); ok {
			ids = append(ids, a[0].(string))
		}
		if n, ok := v["Fn::ImportValue"].(string); ok {
			imports = append(imports, n)
		}
		for _, c := range v {
			i, m := referenced(c)
			ids, imports = append(ids, i...), append(imports, m...)
		}
	case []any:
		for _, c := range v {
			i, m := referenced(c)
			ids, imports = append(ids, i...), append(imports, m...)
		}
	}
	return ids, imports
}

// createOnly returns, from the CloudFormation resource schemas that
// cfn-lint ships, each type's properties that only a replacement changes.
func createOnly(t *testing.T, types []string) map[string][]string {
	t.Helper()
	requireTool(t, "cfn-lint")
	script := `import json, sys
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER as m
print(json.dumps({t: [p.removeprefix("/properties/") for p in m.get_resource_schema("us-east-1", t).schema.get("createOnlyProperties", [])] for t in sys.argv[1:]}))`
	out, err := exec.Command("python3", append([]string{"-c", script}, types...)...).Output()
	if err != nil {
		t.Fatalf("reading cfn-lint's schemas: %v", err)
	}
	var m map[string][]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// ruleIdentity is what decides whether a deploy updates the production
// listener rule: its own properties, and the identity of every resource
// they refer to, in its stack or through an import, down to the
// create-only properties (a replaced resource changes whatever refers to
// it).
func ruleIdentity(t *testing.T, s *synthesized, schema map[string][]string) string {
	t.Helper()
	templates := map[string]map[string]any{}
	for _, st := range s.all() {
		templates[*st.Node().Id()] = toJSON(t, s.templates[*st.Node().Id()])
	}
	var parts []string
	seen := map[string]bool{}
	var visit func(stack, id string, whole bool)
	visit = func(stack, id string, whole bool) {
		key := stack + "/" + id
		if seen[key] {
			return
		}
		seen[key] = true
		r, _ := path(templates[stack], "Resources", id).(map[string]any)
		if r == nil {
			t.Fatalf("%s has no resource %s", stack, id)
		}
		typ := r["Type"].(string)
		props, _ := r["Properties"].(map[string]any)
		if whole {
			parts = append(parts, key+" "+compact(props))
		} else {
			kept := map[string]any{}
			for _, p := range schema[typ] {
				kept[p] = props[strings.Split(p, "/")[0]]
			}
			parts = append(parts, key+" "+typ+" "+compact(kept))
			props = kept
		}
		ids, imports := referenced(props)
		for _, ref := range ids {
			visit(stack, ref, false)
		}
		for _, imp := range imports {
			producer := strings.TrimPrefix(strings.Split(imp, ":")[0], "fargo-")
			out, ok := exports(t, s, producer)[imp]
			if !ok {
				t.Fatalf("%s imports %s, which %s does not export", stack, imp, producer)
			}
			parts = append(parts, "import "+imp)
			visit(producer, exportedResource(out), false)
		}
	}
	var rule string
	for id := range resources(t, s.templates["Service"], "AWS::ElasticLoadBalancingV2::ListenerRule") {
		if strings.HasPrefix(id, "ProductionRule") {
			rule = id
		}
	}
	if rule == "" {
		t.Fatal("no production rule in the Service stack")
	}
	visit("Service", rule, true)
	slices.Sort(parts)
	return strings.Join(parts, "\n")
}

// alternatives are a realistic change from the default of every key in the
// configuration reference (docs/configuration.md), all valid together.
var alternatives = map[string]any{
	"maxAzs": "2", "natGateways": "1", "containerPort": "8080", "healthCheckPath": "/health/ready",
	"cpu": "512", "memoryMiB": "1024", "environment": `{"LOG_LEVEL": "debug"}`,
	"secrets":  `{"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"}`,
	"minTasks": "3", "maxTasks": "6", "onDemandBaseTasks": "0", "cpuTargetPercent": "50",
	"scaleInCooldownSeconds": "600", "scaleOutCooldownSeconds": "30",
	"deploymentStrategy": "linear", "canaryPercent": "10", "linearStepPercent": "25", "stepBakeMinutes": "10", "bakeMinutes": "30",
	"logRetentionDays": "90", "corsAllowedOrigins": "https://app.example.com", "corsAllowCredentials": "true",
	"domainName": "app.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com",
	"spotFallback": "false", "spotFallbackQuietMinutes": "60",
	"cpuArchitecture": "x86_64", "probePath": "/ready", "probeStatus": "204", "probeBody": "ok",
	"alarmEmail": "ops@example.com", "alarmErrorRatePercent": "2", "alarmLatencyP99Ms": "500", "alarmCpuPercent": "80", "alarmMemoryPercent": "80",
}

// touchesTheRule are the keys whose change does reach the production rule,
// and what makes that safe.
var touchesTheRule = map[string]string{
	"services":     "another service is a stack of its own; the app's own rule stays byte-identical (TestServicesFixture, TestServicesAddRemoveReorder)",
	"appName":      "a new name is a new set of stacks, with a rule of its own",
	"environments": "an environment is a new set of stacks with a rule of its own, except the adopted one, whose templates stay byte-identical (TestEnvironmentAdoptionReplacesNothing)",
	"account":      "another account is another deployment", "region": "another region is another deployment",
	"vpcId": "another VPC replaces the target groups: a new deployment (README, Existing VPC)",
	// Above zero it needs deploymentStrategy=rolling: see rolling below.
	"requestsPerTarget": "needs deploymentStrategy=rolling",
	"certificateArn":    "an alternative to hostedZoneId/hostedZoneName, tested with them through domainName",
}

// TestProductionRuleOnlyChangesWithRouting is the guard against
// aws/aws-cdk#36649: after a native deployment ECS has rewritten the
// production rule's action into a weighted forward, and a CloudFormation
// update of the rule would write the template's action back, perhaps to the
// target group without tasks. Every key of the configuration reference is either
// listed in touchesTheRule, with why that is safe, or changed (all at
// once) without the rule's identity moving by one byte: its properties and
// the create-only properties of everything it refers to, across stacks.
func TestProductionRuleOnlyChangesWithRouting(t *testing.T) {
	// One read of the schemas, for every type the stacks use.
	base := variant(t, "Account")
	var types []string
	for _, st := range base.all() {
		for _, r := range toJSON(t, base.templates[*st.Node().Id()])["Resources"].(map[string]any) {
			types = append(types, path(r, "Type").(string))
		}
	}
	slices.Sort(types)
	schema := createOnly(t, slices.Compact(types))
	for _, key := range userKeys(t) {
		_, alt := alternatives[key]
		_, touches := touchesTheRule[key]
		if alt == touches {
			t.Errorf("key %s: give it an alternative value, or say in touchesTheRule why changing it may update the production rule", key)
		}
	}

	want := ruleIdentity(t, base, schema)
	t.Logf("the production rule's identity:\n%s", want)
	changed := synth(t, alternatives, bound("eu-west-1"))
	if got := ruleIdentity(t, changed, schema); got != want {
		t.Errorf("changing every key of alternatives changes the production rule or what it refers to:\n got %s\nwant %s", got, want)
	}
	// rolling keeps the rule, but leaves the native strategies: see
	// docs/deploy-strategies.md for the check that makes it safe.
	if got := ruleIdentity(t, variant(t, "App"), schema); !strings.Contains(got, "Priority\":50000") {
		t.Errorf("rolling: production rule %s", got)
	}
	// The check sees a change that does reach the rule: another VPC
	// replaces the target group it forwards to.
	if got := ruleIdentity(t, variant(t, "ExistingVpc"), schema); got == want {
		t.Error("vpcId leaves the production rule's identity as it was: the check is blind")
	}
}

// TestHealthPathChangeWarns shows that synth says so when healthCheckPath
// differs from the one in the last synthesized Service template, and only
// then.
func TestHealthPathChangeWarns(t *testing.T) {
	outdir := t.TempDir()
	b, err := json.Marshal(toJSON(t, defaults(t).templates["Service"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outdir, "Service.template.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	warnings := func(s *synthesized) []string {
		var out []string
		mustNotPanic(t, func() {
			for _, w := range *assertions.Annotations_FromStack(s.stacks.Service.Stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("healthCheckPath"))) {
				out = append(out, compact(w.Entry.Data))
			}
		})
		return out
	}
	// The warning stays in the app (quietProbe), where the test reads it:
	// on stderr it would read as a finding about the user's config.
	quiet := quietProbe(false)
	quiet["healthCheckPath"] = "/ready"
	changed := synthIn(t, outdir, quiet, nil)
	if w := warnings(changed); len(w) != 1 || !strings.Contains(w[0], "healthCheckPath /healthcheck -> /ready") {
		t.Errorf("healthCheckPath /healthcheck -> /ready: warnings %v, want one naming the change", w)
	}
	same := synthIn(t, t.TempDir(), nil, nil)
	if w := warnings(same); len(w) != 0 {
		t.Errorf("no change: warnings %v", w)
	}
}

// TestCrashLoopingReleaseIsBounded: a release whose tasks never turn
// healthy is stopped by the deployment circuit breaker, under every
// strategy: the traffic alarms never see it (its tasks get no traffic), so
// without the breaker ECS keeps replacing them and CloudFormation waits on
// the service for hours. With it ECS fails the deployment after a few
// failed tasks and rolls back to the last COMPLETED one, and the stack
// update fails with the breaker's message (deploy.go, deployment).
func TestCrashLoopingReleaseIsBounded(t *testing.T) {
	for _, name := range []string{"Account", "Linear", "BlueGreen", "App"} {
		t.Run(name, func(t *testing.T) {
			svc := only(t, variant(t, name).templates["Service"], "AWS::ECS::Service")
			got := path(svc, "Properties", "DeploymentConfiguration", "DeploymentCircuitBreaker")
			if jsonOf(got) != `{"Enable":true,"Rollback":true}` {
				t.Errorf("%s (%v): DeploymentCircuitBreaker = %s, want enabled with rollback: a release whose tasks never turn healthy would retry until CloudFormation times out",
					name, path(svc, "Properties", "DeploymentConfiguration", "Strategy"), jsonOf(got))
			}
		})
	}
}
