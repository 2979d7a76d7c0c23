package stacks

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fargo-cdk/fargo/fallback"
)

// decode parses a JSON object.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// logicalID is the id of the only resource of type typ in tpl's JSON.
func logicalID(t *testing.T, tpl map[string]any, typ string) string {
	t.Helper()
	var ids []string
	for id, r := range tpl["Resources"].(map[string]any) {
		if path(r, "Type") == typ {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one %s, found %v", typ, ids)
	}
	return ids[0]
}

// The sample event is AWS's (fallback/testdata/README.md), for service
// servicetest in cluster default.
const (
	sampleServiceArn = "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"
	sampleClusterArn = "arn:aws:ecs:us-west-2:111122223333:cluster/default"
)

func sampleEvent(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "fallback", "testdata", "placement-failure.json"))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(data))
}

// byID is the one resource of type typ whose logical id starts with
// prefix.
func byID(t *testing.T, tpl map[string]any, typ, prefix string) (string, map[string]any) {
	t.Helper()
	var ids []string
	for id, r := range tpl["Resources"].(map[string]any) {
		if path(r, "Type") == typ && strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one %s %s..., found %v", typ, prefix, ids)
	}
	return ids[0], path(tpl, "Resources", ids[0]).(map[string]any)
}

// TestSpotFallbackRule runs the rule's pattern, as synthesized, on AWS's
// sample placement failure and on events it must ignore. The pattern names
// this service and this cluster by CloudFormation references; the test
// checks what they refer to, then puts the sample's ARNs in their place.
func TestSpotFallbackRule(t *testing.T) {
	tpl := toJSON(t, variant(t, "").templates["Service"])
	ruleID, rule := byID(t, tpl, "AWS::Events::Rule", "SpotFallbackRule")
	pattern := path(rule, "Properties", "EventPattern").(map[string]any)

	service := logicalID(t, tpl, "AWS::ECS::Service")
	if got := jsonOf(pattern["resources"]); got != jsonOf([]any{map[string]any{"Ref": service}}) {
		t.Errorf("resources %s: want this service's ARN only", got)
	}
	// The cluster: its ARN, built from the name the service imports.
	clusterArn := jsonOf(path(pattern, "detail", "clusterArn"))
	if name := jsonOf(path(tpl, "Resources", service, "Properties", "Cluster")); !strings.Contains(clusterArn, name) || !strings.Contains(clusterArn, `":ecs:"`) || !strings.Contains(clusterArn, `":cluster/"`) {
		t.Errorf("detail.clusterArn %s: want the ARN of the service's cluster %s", clusterArn, name)
	}
	pattern["resources"] = []any{sampleServiceArn}
	path(pattern, "detail").(map[string]any)["clusterArn"] = []any{sampleClusterArn}

	if !matchEvent(t, pattern, sampleEvent(t)) {
		t.Fatalf("the pattern %s does not match AWS's sample placement failure", jsonOf(pattern))
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "fallback", "testdata", "ignored-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ignored []struct {
		Name  string
		Event map[string]any
	}
	if err := json.Unmarshal(data, &ignored); err != nil || len(ignored) == 0 {
		t.Fatalf("ignored-events.json: %v, %d events", err, len(ignored))
	}
	for _, e := range ignored {
		if matchEvent(t, pattern, e.Event) {
			t.Errorf("the pattern matches %s event", e.Name)
		}
	}

	// Its one target is the function, which accepts events from this rule
	// only.
	fn := logicalID(t, tpl, "AWS::Lambda::Function")
	targets := path(rule, "Properties", "Targets").([]any)
	if len(targets) != 1 || jsonOf(path(targets[0], "Arn")) != jsonOf(map[string]any{"Fn::GetAtt": []any{fn, "Arn"}}) {
		t.Errorf("targets %s: want the fallback function only", jsonOf(targets))
	}
	_, perm := byID(t, tpl, "AWS::Lambda::Permission", "SpotFallbackRule")
	if path(perm, "Properties", "Principal") != "events.amazonaws.com" || jsonOf(path(perm, "Properties", "SourceArn")) != jsonOf(map[string]any{"Fn::GetAtt": []any{ruleID, "Arn"}}) {
		t.Errorf("invoke permission %s: want EventBridge, from the fallback rule only", jsonOf(perm))
	}
}

func TestSpotFallbackFunction(t *testing.T) {
	for _, name := range []string{"", "Account"} {
		t.Run("variant "+name, func(t *testing.T) {
			tpl := toJSON(t, variant(t, name).templates["Service"])
			fn := path(tpl, "Resources", logicalID(t, tpl, "AWS::Lambda::Function"), "Properties")
			for key, want := range map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
			} {
				if got := path(fn, key); jsonOf(got) != jsonOf(want) {
					t.Errorf("%s = %s, want %s", key, jsonOf(got), jsonOf(want))
				}
			}
			logGroup := path(fn, "LoggingConfig", "LogGroup", "Ref").(string)
			if got := path(tpl, "Resources", logGroup, "Properties", "RetentionInDays"); got != 30.0 {
				t.Errorf("the function's log group keeps logs for %v days, want logRetentionDays (30)", got)
			}
			if got := path(tpl, "Outputs", "SpotFallbackLogGroupName", "Value", "Ref"); got != logGroup {
				t.Errorf("output SpotFallbackLogGroupName refers to %v, want the function's log group %s", got, logGroup)
			}

			// It restores the strategy the service is created with.
			env := path(fn, "Environment", "Variables").(map[string]any)
			spot, err := fallback.ParseStrategy(env["SPOT_STRATEGY"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var got []any
			for _, item := range spot {
				m := map[string]any{"CapacityProvider": aws.ToString(item.CapacityProvider), "Weight": float64(item.Weight)}
				if item.Base > 0 {
					m["Base"] = float64(item.Base)
				}
				got = append(got, m)
			}
			// The service is created with the cluster's default strategy
			// (its template carries none).
			cluster := only(t, variant(t, name).templates["Cluster"], "AWS::ECS::ClusterCapacityProviderAssociations")
			if jsonOf(got) != jsonOf(path(cluster, "Properties", "DefaultCapacityProviderStrategy")) {
				t.Errorf("SPOT_STRATEGY %s, the cluster's default %s", jsonOf(got), jsonOf(path(cluster, "Properties", "DefaultCapacityProviderStrategy")))
			}
			_, rule := byID(t, tpl, "AWS::Events::Rule", "SpotFallbackRule")
			if jsonOf(env["SERVICE_ARN"]) != jsonOf(map[string]any{"Ref": logicalID(t, tpl, "AWS::ECS::Service")}) ||
				jsonOf(env["CLUSTER_ARN"]) != jsonOf(path(rule, "Properties", "EventPattern", "detail", "clusterArn", 0)) {
				t.Errorf("SERVICE_ARN %s, CLUSTER_ARN %s: want the service's and the cluster's ARN", jsonOf(env["SERVICE_ARN"]), jsonOf(env["CLUSTER_ARN"]))
			}
			for key, want := range map[string]string{"QUIET_PERIOD": "30m0s", "MAX_QUIET_PERIOD": "4h0m0s", "BACKOFF_RESET_AFTER": "24h0m0s", "SCHEDULE_NAME": "restore-spot", "RETRY_AFTER": "5m0s"} {
				if env[key] != want {
					t.Errorf("%s = %v, want %s", key, env[key], want)
				}
			}
			if jsonOf(env["STACK_ID"]) != `{"Ref":"AWS::StackId"}` || jsonOf(env["SCHEDULE_GROUP"]) != jsonOf(map[string]any{"Ref": logicalID(t, tpl, "AWS::Scheduler::ScheduleGroup")}) {
				t.Errorf("STACK_ID %s, SCHEDULE_GROUP %s: want this stack and its schedule group", jsonOf(env["STACK_ID"]), jsonOf(env["SCHEDULE_GROUP"]))
			}
			if _, ok := env["TOPIC_ARN"]; ok {
				t.Errorf("TOPIC_ARN set without alarmEmail")
			}
		})
	}
}

// statements returns the statements of the inline policies attached to the
// role with logical id role.
func statements(t *testing.T, tpl map[string]any, role string) []any {
	t.Helper()
	var out []any
	for _, r := range tpl["Resources"].(map[string]any) {
		if path(r, "Type") != "AWS::IAM::Policy" {
			continue
		}
		if jsonOf(path(r, "Properties", "Roles")) == jsonOf([]any{map[string]any{"Ref": role}}) {
			out = append(out, path(r, "Properties", "PolicyDocument", "Statement").([]any)...)
		}
	}
	return out
}

// roleAssumedBy is the logical id of the one role that service assumes.
func roleAssumedBy(t *testing.T, tpl map[string]any, service string) string {
	t.Helper()
	var ids []string
	for id, r := range tpl["Resources"].(map[string]any) {
		if path(r, "Type") == "AWS::IAM::Role" && path(r, "Properties", "AssumeRolePolicyDocument", "Statement", 0, "Principal", "Service") == service {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one role for %s, found %v", service, ids)
	}
	return ids[0]
}

func TestSpotFallbackPermissions(t *testing.T) {
	tpl := toJSON(t, variant(t, "AlarmEmail").templates["Service"])
	service := logicalID(t, tpl, "AWS::ECS::Service")
	fnRole := roleAssumedBy(t, tpl, "lambda.amazonaws.com")
	schedulerRole := roleAssumedBy(t, tpl, "scheduler.amazonaws.com")
	fn := logicalID(t, tpl, "AWS::Lambda::Function")
	group := logicalID(t, tpl, "AWS::Scheduler::ScheduleGroup")
	// The three schedules of the fallback's group, and no other.
	schedules := func(r string) bool {
		for _, name := range []string{"restore-spot", fallback.LockScheduleName, fallback.RetryScheduleName} {
			if !strings.Contains(r, `[{"Ref":"`+group+`"},"`+name+`"]`) {
				return false
			}
		}
		return strings.Count(r, `":schedule/"`) == 3
	}

	// Each action of the function's role, and what it may act on.
	got := map[string]string{}
	for _, st := range statements(t, tpl, fnRole) {
		actions, ok := path(st, "Action").([]any)
		if !ok {
			actions = []any{path(st, "Action")}
		}
		if path(st, "Effect") != "Allow" {
			t.Errorf("statement %s", jsonOf(st))
		}
		for _, a := range actions {
			got[a.(string)] = jsonOf(path(st, "Resource")) + jsonOf(path(st, "Condition"))
		}
	}
	want := map[string]func(string) bool{
		"ecs:DescribeServices":          func(r string) bool { return r == jsonOf(map[string]any{"Ref": service})+"null" },
		"ecs:UpdateService":             func(r string) bool { return r == jsonOf(map[string]any{"Ref": service})+"null" },
		"scheduler:GetSchedule":         schedules,
		"scheduler:CreateSchedule":      schedules,
		"scheduler:UpdateSchedule":      schedules,
		"scheduler:DeleteSchedule":      schedules,
		"cloudformation:DescribeStacks": func(r string) bool { return r == `{"Ref":"AWS::StackId"}null` },
		"iam:PassRole": func(r string) bool {
			return strings.HasPrefix(r, jsonOf(map[string]any{"Fn::GetAtt": []any{schedulerRole, "Arn"}})) && strings.Contains(r, `"iam:PassedToService":"scheduler.amazonaws.com"`)
		},
		"logs:CreateLogStream": func(r string) bool { return strings.Contains(r, `"SpotFallbackLogGroup`) },
		"logs:PutLogEvents":    func(r string) bool { return strings.Contains(r, `"SpotFallbackLogGroup`) },
		"sns:Publish":          func(r string) bool { return strings.HasPrefix(r, `{"Ref":"AlarmTopic`) },
		"kms:Decrypt":          func(r string) bool { return strings.Contains(r, `"AlarmTopicKey`) },
		"kms:GenerateDataKey":  func(r string) bool { return strings.Contains(r, `"AlarmTopicKey`) },
	}
	for action, ok := range want {
		if r, granted := got[action]; !granted || !ok(r) {
			t.Errorf("%s on %s", action, r)
		}
	}
	for action, r := range got {
		if want[action] == nil {
			t.Errorf("the function may also %s on %s", action, r)
		}
		if strings.Contains(r, `"*"`) {
			t.Errorf("%s on %s: a wildcard", action, r)
		}
	}

	// The schedule invokes the function and nothing else, as this
	// account's fallback schedule only.
	sts := statements(t, tpl, schedulerRole)
	if len(sts) != 1 || path(sts[0], "Action") != "lambda:InvokeFunction" ||
		jsonOf(path(sts[0], "Resource")) != jsonOf(map[string]any{"Fn::GetAtt": []any{fn, "Arn"}}) {
		t.Errorf("the scheduler's role: %s, want lambda:InvokeFunction on the function only", jsonOf(sts))
	}
	trust := path(tpl, "Resources", schedulerRole, "Properties", "AssumeRolePolicyDocument", "Statement", 0, "Condition")
	if source := jsonOf(path(trust, "ArnLike", "aws:SourceArn")); jsonOf(path(trust, "StringEquals", "aws:SourceAccount")) != `{"Ref":"AWS::AccountId"}` ||
		!schedules(source) || !strings.Contains(source, jsonOf(map[string]any{"Fn::GetAtt": []any{group, "Arn"}})) {
		t.Errorf("the scheduler's role trusts %s: want this account's fallback schedules only", jsonOf(trust))
	}

	env := path(tpl, "Resources", fn, "Properties", "Environment", "Variables", "TOPIC_ARN")
	if !strings.HasPrefix(jsonOf(env), `{"Ref":"AlarmTopic`) {
		t.Errorf("TOPIC_ARN %s, want the alarm topic", jsonOf(env))
	}
}

func TestSpotFallbackScheduleGroup(t *testing.T) {
	tpl := toJSON(t, variant(t, "").templates["Service"])
	group := path(tpl, "Resources", logicalID(t, tpl, "AWS::Scheduler::ScheduleGroup"))
	// CloudFormation names it: a literal name would collide with another
	// service's group and, on a destroy and redeploy, with the old group,
	// which Scheduler deletes asynchronously.
	if path(group, "Properties", "Name") != nil || path(group, "DeletionPolicy") != "Delete" {
		t.Errorf("schedule group %s: want a name CloudFormation generates, deleted with the stack (and its schedules with it)", jsonOf(group))
	}
	// Its name, which nobody can guess now, is an output.
	if got := jsonOf(path(tpl, "Outputs", "SpotFallbackScheduleGroupName", "Value")); got != jsonOf(map[string]any{"Ref": logicalID(t, tpl, "AWS::Scheduler::ScheduleGroup")}) {
		t.Errorf("output SpotFallbackScheduleGroupName is %s, want the schedule group's name", got)
	}
	// CloudFormation creates no schedule: the function writes the one it
	// needs, so a deploy never resets a pending return to Spot.
	if ids := resources(t, variant(t, "").templates["Service"], "AWS::Scheduler::Schedule"); len(ids) != 0 {
		t.Errorf("the template holds schedules %v", ids)
	}
}

// noFallback is the defaults with spotFallback off, synthesized once for
// the tests that read it (and, in built, removed by TestMain).
func noFallback(t *testing.T) *synthesized {
	t.Helper()
	const key = "spotFallback=false"
	if built[key] == nil {
		dir, err := os.MkdirTemp("", "cdk.out-")
		if err != nil {
			t.Fatal(err)
		}
		built[key] = synthIn(t, dir, map[string]any{"spotFallback": "false"}, nil)
	}
	return built[key]
}

func TestSpotFallbackOff(t *testing.T) {
	s := noFallback(t)
	tpl := s.templates["Service"]
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::Events::Rule", "AWS::Scheduler::ScheduleGroup"} {
		count(t, tpl, typ, 0)
	}
	count(t, tpl, "AWS::ECS::Service", 1)
	// The switch changes the Service stack only: a Cluster stack export
	// that it added or removed would fail the update of one of the two.
	if on, off := jsonOf(toJSON(t, variant(t, "").templates["Cluster"])), jsonOf(toJSON(t, s.templates["Cluster"])); on != off {
		t.Errorf("spotFallback changes the Cluster stack:\n%s\n%s", on, off)
	}
}

func TestSpotFallbackQuietPeriod(t *testing.T) {
	tpl := toJSON(t, synth(t, map[string]any{"spotFallbackQuietMinutes": "10"}, nil).templates["Service"])
	env := path(tpl, "Resources", logicalID(t, tpl, "AWS::Lambda::Function"), "Properties", "Environment", "Variables").(map[string]any)
	if env["QUIET_PERIOD"] != "10m0s" || env["MAX_QUIET_PERIOD"] != "1h20m0s" {
		t.Errorf("QUIET_PERIOD %v, MAX_QUIET_PERIOD %v; want 10m0s and 8 times that", env["QUIET_PERIOD"], env["MAX_QUIET_PERIOD"])
	}
}

// TestSpotFallbackBinary checks what the synth built: a Linux ARM64
// executable named bootstrap, the same for every app of one checkout (its
// hash is the function's asset hash).
func TestSpotFallbackBinary(t *testing.T) {
	variant(t, "")
	dir := spotFallbackBinary()
	f, err := elf.Open(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %s %s, want an AArch64 executable", f.Machine, f.Type)
	}
	if info, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil || info.Mode().Perm()&0o111 == 0 {
		t.Errorf("bootstrap is not executable: %v %v", info.Mode(), err)
	}
	keys := func(name string) string {
		tpl := toJSON(t, variant(t, name).templates["Service"])
		return jsonOf(path(tpl, "Resources", logicalID(t, tpl, "AWS::Lambda::Function"), "Properties", "Code", "S3Key"))
	}
	if a, b := keys(""), keys("Account"); a != b || !regexp.MustCompile(`^"[a-f0-9]{64}\.zip"$`).MatchString(a) {
		t.Errorf("asset keys %s and %s: want one content hash", a, b)
	}
}

// TestDeployDuringAFallbackSendsNoStrategy: with the fallback on, the
// service's template carries no capacity-provider strategy, so no deploy
// can send one while the fallback has the service on on-demand (an update
// would otherwise fail, "you must force a new deployment", or, forced, end
// the fallback). The service is created with the cluster's default
// strategy, and the end of every operation on the stack hands the
// template's strategy to the function (fallback.Fallback.sync).
func TestDeployDuringAFallbackSendsNoStrategy(t *testing.T) {
	for _, name := range []string{"", "Account", "Linear", "BlueGreen"} {
		t.Run("variant "+name, func(t *testing.T) {
			s := variant(t, name)
			if !s.cfg.SpotFallback {
				t.Skip("spotFallback is off in this configuration")
			}
			tpl := toJSON(t, s.templates["Service"])
			svc := path(tpl, "Resources", logicalID(t, tpl, "AWS::ECS::Service"), "Properties").(map[string]any)
			for _, key := range []string{"CapacityProviderStrategy", "LaunchType", "ForceNewDeployment"} {
				if v, ok := svc[key]; ok {
					t.Errorf("the service's template has %s %s: every deploy during a fallback would send it", key, jsonOf(v))
				}
			}
			cluster := only(t, s.templates["Cluster"], "AWS::ECS::ClusterCapacityProviderAssociations")
			want := `[{"Base":1,"CapacityProvider":"FARGATE","Weight":0},{"CapacityProvider":"FARGATE_SPOT","Weight":1}]`
			if s.cfg.OnDemandBaseTasks == 1 && jsonOf(path(cluster, "Properties", "DefaultCapacityProviderStrategy")) != want {
				t.Errorf("the cluster's default strategy %s, want %s: ECS creates the service with it", jsonOf(path(cluster, "Properties", "DefaultCapacityProviderStrategy")), want)
			}

			id, rule := byID(t, tpl, "AWS::Events::Rule", "SpotFallbackStackRule")
			pattern := path(rule, "Properties", "EventPattern").(map[string]any)
			if got := jsonOf(path(pattern, "detail", "stack-id")); got != `[{"Ref":"AWS::StackId"}]` {
				t.Fatalf("rule %s listens to stack %s, want this one", id, got)
			}
			stack := "arn:aws:cloudformation:us-west-2:111122223333:stack/fargo-Service/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
			path(pattern, "detail").(map[string]any)["stack-id"] = []any{stack}
			event := func(stackID, status string) map[string]any {
				return decode(t, `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"CloudFormation Stack Status Change","source":"aws.cloudformation","account":"111122223333","time":"2026-12-02T09:00:00Z","region":"us-west-2","resources":["`+stackID+`"],"detail":{"stack-id":"`+stackID+`","status-details":{"status":"`+status+`","status-reason":""}}}`)
			}
			for _, status := range []string{"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"} {
				if !matchEvent(t, pattern, event(stack, status)) {
					t.Errorf("rule %s ignores %s: the template's strategy would not reach the service", id, status)
				}
			}
			for _, e := range []map[string]any{event(stack, "UPDATE_IN_PROGRESS"), event(strings.Replace(stack, "fargo-Service", "other", 1), "UPDATE_COMPLETE")} {
				if matchEvent(t, pattern, e) {
					t.Errorf("rule %s matches %s", id, jsonOf(e["detail"]))
				}
			}
			fn := logicalID(t, tpl, "AWS::Lambda::Function")
			if targets := jsonOf(path(rule, "Properties", "Targets")); !strings.Contains(targets, jsonOf(map[string]any{"Fn::GetAtt": []any{fn, "Arn"}})) {
				t.Errorf("rule %s targets %s, want the fallback function", id, targets)
			}
		})
	}
}

// TestTurningSpotFallbackOffRestoresSpot: without the fallback the template
// carries the strategy and a forced-deployment nonce, which the template
// with the fallback has not: turning the fallback off changes the nonce,
// so CloudFormation forces a deployment onto the Spot strategy even when a
// fallback had the service on on-demand (about three times the price).
func TestTurningSpotFallbackOffRestoresSpot(t *testing.T) {
	off := toJSON(t, noFallback(t).templates["Service"])
	svc := path(off, "Resources", logicalID(t, off, "AWS::ECS::Service"), "Properties")
	if got := jsonOf(path(svc, "CapacityProviderStrategy")); got != `[{"Base":1,"CapacityProvider":"FARGATE","Weight":0},{"CapacityProvider":"FARGATE_SPOT","Weight":1}]` {
		t.Errorf("without the fallback the service's strategy is %s", got)
	}
	if path(svc, "ForceNewDeployment", "EnableForceNewDeployment") != true || path(svc, "ForceNewDeployment", "ForceNewDeploymentNonce") == nil {
		t.Errorf("ForceNewDeployment %s: turning the fallback off must force the deployment that puts Spot back", jsonOf(path(svc, "ForceNewDeployment")))
	}
	on := toJSON(t, variant(t, "").templates["Service"])
	if nonce := path(on, "Resources", logicalID(t, on, "AWS::ECS::Service"), "Properties", "ForceNewDeployment", "ForceNewDeploymentNonce"); nonce != nil {
		t.Errorf("with the fallback the nonce is %v: turning it off would not change it, and would force no deployment", nonce)
	}
}
