package stacks

// The deployment tests are the user's: they read cdk.json as the user set
// it, unlike the project's own tests, which set their own configurations.
// They keep reviewed snapshots of the templates a deploy uses in
// testdata/deployment (make snapshots updates them), and check a contract
// that holds for any valid configuration.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sebdah/goldie/v2"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

// deploymentDir holds the user's snapshots: a template per stack and
// contract.json (package contract), what the e2e test, make smoke and make
// integ expect of the deployed app.
var deploymentDir = strings.TrimPrefix(filepath.Dir(contract.File), "stacks/")

// snapshotsHint is the one command that accepts changed snapshots.
var snapshotsHint = "the templates of your cdk.json differ from the reviewed snapshots in stacks/" + deploymentDir +
	": read the diff above, then run `make snapshots` to accept it"

// deploymentApp is the user's app, synthesized once.
var deploymentApp *synthesized

// userDeployment returns the app of cdk.json as the user set it, bound to the
// user's account and region, or to the test account in eu-west-1 when
// cdk.json sets none, as a deploy with credentials would be. The lookups
// come from testdata/cdk.context.json and from the cdk.context.json that
// the CLI writes beside cdk.json.
func userDeployment(t *testing.T) *synthesized {
	t.Helper()
	if deploymentApp == nil {
		dir, err := os.MkdirTemp("", "cdk.out-")
		if err != nil {
			t.Fatal(err)
		}
		lookups := map[string]any{}
		if data, err := os.ReadFile(filepath.Join(repoRoot, "cdk.context.json")); err == nil {
			if err := json.Unmarshal(data, &lookups); err != nil {
				t.Fatalf("cdk.context.json: %v", err)
			}
		}
		built["deployment"] = synthApp(t, appWith(t, dir, userContext(t), lookups), bound("eu-west-1"))
		deploymentApp = built["deployment"]
	}
	return deploymentApp
}

// contractOf is what the deployed app must answer under c.
func contractOf(c Config) contract.Contract {
	return contract.Contract{
		AppName: c.AppName, ContainerPort: c.ContainerPort, HealthCheckPath: c.HealthCheckPath,
		CorsAllowedOrigins: c.CorsAllowedOrigins, MinTasks: c.MinTasks, OnDemandBaseTasks: c.OnDemandBaseTasks,
		ProbePath: c.Probe.Path, ProbeStatus: c.Probe.Status, ProbeBody: c.Probe.Body,
		Secrets: append([]string{}, slices.Sorted(maps.Keys(c.Secrets))...),
	}
}

func indented(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDeploymentSnapshots compares the user's templates and contract with
// the reviewed snapshots: with environments, each environment's in a
// directory of its name.
func TestDeploymentSnapshots(t *testing.T) {
	checkSnapshots(t, userDeployment(t), deploymentDir, snapshotsHint)
}

// deploymentUnits returns s as the units that deploy on their own: s
// itself, or each of its environments, by name.
func deploymentUnits(t testing.TB, s *synthesized) map[string]*synthesized {
	t.Helper()
	if len(s.cfg.Environments) == 0 {
		return map[string]*synthesized{"": s}
	}
	units := map[string]*synthesized{}
	for _, c := range s.cfg.Environments {
		units[c.EnvName] = s.environment(t, c.EnvName)
	}
	return units
}

// checkSnapshots compares s's templates and contract with the snapshots in
// dir (dir/<env>/ for each environment); hint says how to accept a change.
func checkSnapshots(t *testing.T, s *synthesized, dir, hint string) {
	g := goldie.New(t, goldie.WithFixtureDir(dir), goldie.WithNameSuffix(""))
	var want []string
	units := deploymentUnits(t, s)
	for _, env := range slices.Sorted(maps.Keys(units)) {
		u := units[env]
		names := []string{"contract.json"}
		for id := range u.templates {
			names = append(names, id+".template.json")
		}
		slices.Sort(names)
		for _, name := range names {
			file := filepath.Join(env, name)
			want = append(want, file)
			t.Run(file, func(t *testing.T) {
				var got []byte
				if name == "contract.json" {
					got = indented(t, contractOf(u.cfg))
				} else {
					got = assetHash.ReplaceAll(indented(t, toJSON(t, u.templates[strings.TrimSuffix(name, ".template.json")])), []byte("<asset-hash>"))
				}
				g.Assert(t, file, got)
				if t.Failed() {
					t.Log(hint)
				}
			})
		}
	}
	// A stack that is gone (vpcId drops Network) or an environment that
	// is (or snapshots from before environments) leaves no stale snapshot.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	for _, f := range append(files, more...) {
		rel, _ := filepath.Rel(dir, f)
		if slices.Contains(want, rel) {
			continue
		}
		if flag.Lookup("update").Value.String() == "true" {
			os.Remove(f)
			continue
		}
		t.Errorf("stacks/%s: no such stack or file any more; %s", f, hint)
	}
}

// deployed is every resource of the user's templates, by logical id; the
// contract checks find resources by type, whichever stack holds them.
func deployed(t *testing.T) map[string]map[string]any {
	t.Helper()
	return resourcesOf(t, userDeployment(t))
}

// resourcesOf is every resource of s's templates, by stack/logical id.
func resourcesOf(t *testing.T, s *synthesized) map[string]map[string]any {
	t.Helper()
	all := map[string]map[string]any{}
	for name, tpl := range s.templates {
		rs, _ := toJSON(t, tpl)["Resources"].(map[string]any)
		for id, r := range rs {
			all[name+"/"+id] = r.(map[string]any)
		}
	}
	return all
}

// serviceDeployment is one service of the user's app as the contract
// checks read it: its Config and the resources, by stack/logical id, of
// its own stack and of the shared ones (Network, LoadBalancer, Cluster).
type serviceDeployment struct {
	name string
	cfg  Config
	all  map[string]map[string]any
}

// serviceDeployments returns the app's own service ("Service") and each
// service of services ("Service-<name>"), so that every check holds for
// every service.
func serviceDeployments(t *testing.T, s *synthesized) []serviceDeployment {
	t.Helper()
	configs := map[string]Config{"Service": s.cfg}
	for _, svc := range s.cfg.Services {
		configs[svc.StackID()] = svc.Config
	}
	var out []serviceDeployment
	for _, id := range slices.Sorted(maps.Keys(configs)) {
		all := map[string]map[string]any{}
		for name, r := range resourcesOf(t, s) {
			stack, _, _ := strings.Cut(name, "/")
			if stack == id || !strings.HasPrefix(stack, "Service") {
				all[name] = r
			}
		}
		out = append(out, serviceDeployment{name: id, cfg: configs[id], all: all})
	}
	return out
}

// eachService runs check as a subtest for each service of the user's app,
// or of apps[0] when given.
//
// With environments, it runs for each service of each environment.
func eachService(t *testing.T, check func(t *testing.T, cfg Config, all map[string]map[string]any), apps ...*synthesized) {
	s := userDeployment(t)
	if len(apps) > 0 {
		s = apps[0]
	}
	units := deploymentUnits(t, s)
	for _, env := range slices.Sorted(maps.Keys(units)) {
		for _, d := range serviceDeployments(t, units[env]) {
			t.Run(filepath.Join(env, d.name), func(t *testing.T) { check(t, d.cfg, d.all) })
		}
	}
}

// ofType returns the resources of type typ, by stack/logical id.
func ofType(all map[string]map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range all {
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// single returns the one resource of type typ, or fails the test.
func single(t *testing.T, all map[string]map[string]any, typ string) map[string]any {
	t.Helper()
	rs := ofType(all, typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s in the templates, found %d", typ, len(rs))
	}
	for _, r := range rs {
		return r
	}
	return nil
}

// serviceTargetGroups returns the target groups the service registers its
// tasks in: the one its LoadBalancers name and, with a native deployment
// strategy, the alternate one that each release starts in. Both must check
// the app the same way.
func serviceTargetGroups(t *testing.T, all map[string]map[string]any) map[string]map[string]any {
	t.Helper()
	var stack string
	for id := range ofType(all, "AWS::ECS::Service") {
		stack, _, _ = strings.Cut(id, "/")
	}
	lb := path(single(t, all, "AWS::ECS::Service"), "Properties", "LoadBalancers", 0)
	groups := map[string]map[string]any{}
	for _, ref := range []any{path(lb, "TargetGroupArn", "Ref"), path(lb, "AdvancedConfiguration", "AlternateTargetGroupArn", "Ref")} {
		if ref == nil {
			continue
		}
		id := stack + "/" + fmt.Sprint(ref)
		tg, ok := all[id]
		if !ok || tg["Type"] != "AWS::ElasticLoadBalancingV2::TargetGroup" {
			t.Fatalf("the service names target group %s, which its stack does not hold", id)
		}
		groups[id] = tg
	}
	if len(groups) == 0 {
		t.Fatal("the service registers its tasks in no target group of its stack")
	}
	return groups
}

// webContainer returns the container definition the load balancer sends
// traffic to.
func webContainer(t *testing.T, all map[string]map[string]any) map[string]any {
	t.Helper()
	name := path(single(t, all, "AWS::ECS::Service"), "Properties", "LoadBalancers", 0, "ContainerName")
	for _, c := range path(single(t, all, "AWS::ECS::TaskDefinition"), "Properties", "ContainerDefinitions").([]any) {
		if path(c, "Name") == name {
			return c.(map[string]any)
		}
	}
	t.Fatalf("no container named %v, the service's load balancer target", name)
	return nil
}

// containerEnv returns the container's plain environment.
func containerEnv(c map[string]any) map[string]string {
	env := map[string]string{}
	list, _ := c["Environment"].([]any)
	for _, e := range list {
		env[fmt.Sprint(path(e, "Name"))] = fmt.Sprint(path(e, "Value"))
	}
	return env
}

func TestDeploymentHealthCheckAndPort(t *testing.T) {
	// The target group checks the path the app answers, on the port it
	// listens on, and only the load balancer may reach that port.
	eachService(t, checkHealthCheckAndPort)
}

func checkHealthCheckAndPort(t *testing.T, cfg Config, all map[string]map[string]any) {
	for id, tg := range serviceTargetGroups(t, all) {
		if got := path(tg, "Properties", "HealthCheckPath"); got != cfg.HealthCheckPath {
			t.Errorf("%s: HealthCheckPath %v, want healthCheckPath %q", id, got, cfg.HealthCheckPath)
		}
		if port := path(tg, "Properties", "HealthCheckPort"); port != nil && port != "traffic-port" {
			t.Errorf("%s: HealthCheckPort %v, want the traffic port", id, port)
		}
		if got := path(tg, "Properties", "Matcher", "HttpCode"); got != "200" {
			t.Errorf("%s: Matcher.HttpCode %v, want 200", id, got)
		}
	}
	port := float64(cfg.ContainerPort)
	if got := path(single(t, all, "AWS::ECS::Service"), "Properties", "LoadBalancers", 0, "ContainerPort"); got != port {
		t.Errorf("service registers tasks on port %v, want containerPort %d", got, cfg.ContainerPort)
	}
	web := webContainer(t, all)
	if got := path(web, "PortMappings", 0, "ContainerPort"); got != port {
		t.Errorf("container maps port %v, want containerPort %d", got, cfg.ContainerPort)
	}
	env := containerEnv(web)
	if env["PORT"] != strconv.Itoa(cfg.ContainerPort) || env["HEALTH_CHECK_PATH"] != cfg.HealthCheckPath {
		t.Errorf("container PORT=%q HEALTH_CHECK_PATH=%q, want %d and %q", env["PORT"], env["HEALTH_CHECK_PATH"], cfg.ContainerPort, cfg.HealthCheckPath)
	}

	taskGroups := path(single(t, all, "AWS::ECS::Service"), "Properties", "NetworkConfiguration", "AwsvpcConfiguration", "SecurityGroups")
	var ingress int
	for id, r := range ofType(all, "AWS::EC2::SecurityGroupIngress") {
		p := r["Properties"].(map[string]any)
		if !strings.Contains(jsonOf(taskGroups), jsonOf(p["GroupId"])) {
			continue
		}
		ingress++
		if p["IpProtocol"] != "tcp" || p["FromPort"] != port || p["ToPort"] != port || p["SourceSecurityGroupId"] == nil || p["CidrIp"] != nil {
			t.Errorf("%s: tasks accept %s, want tcp %d from the load balancer's security group only", id, jsonOf(p), cfg.ContainerPort)
		}
	}
	for id, sg := range ofType(all, "AWS::EC2::SecurityGroup") {
		_, logical, _ := strings.Cut(id, "/")
		if in := path(sg, "Properties", "SecurityGroupIngress"); in != nil && strings.HasPrefix(id, "Service") && strings.Contains(jsonOf(taskGroups), logical) {
			t.Errorf("%s: inline ingress %s on the tasks' security group", id, jsonOf(in))
		}
	}
	if ingress == 0 {
		t.Errorf("no ingress rule lets the load balancer reach the tasks on %d", cfg.ContainerPort)
	}
}

func TestDeploymentDrainArithmetic(t *testing.T) {
	// The stop sequence of timings.go, read back from the templates: the
	// ALB stops routing to a draining task before it stops serving, and ECS
	// waits for the drain and the shutdown before SIGKILL.
	eachService(t, func(t *testing.T, _ Config, all map[string]map[string]any) { checkDrainArithmetic(t, all) })
}

func checkDrainArithmetic(t *testing.T, all map[string]map[string]any) {
	seconds := func(v any) time.Duration {
		n, _ := strconv.Atoi(fmt.Sprint(v))
		return time.Duration(n) * time.Second
	}
	web := webContainer(t, all)
	env := containerEnv(web)
	drain, err1 := time.ParseDuration(env["DRAIN_DELAY"])
	shutdown, err2 := time.ParseDuration(env["SHUTDOWN_TIMEOUT"])
	if err1 != nil || err2 != nil {
		t.Fatalf("container DRAIN_DELAY=%q SHUTDOWN_TIMEOUT=%q, want durations", env["DRAIN_DELAY"], env["SHUTDOWN_TIMEOUT"])
	}
	stop := seconds(web["StopTimeout"])
	if stop < drain+shutdown || stop > 120*time.Second {
		t.Errorf("StopTimeout %s, want DRAIN_DELAY+SHUTDOWN_TIMEOUT (%s) to 120s", stop, drain+shutdown)
	}
	for id, r := range serviceTargetGroups(t, all) {
		tg := r["Properties"].(map[string]any)
		interval, unhealthy := seconds(tg["HealthCheckIntervalSeconds"]), tg["UnhealthyThresholdCount"].(float64)
		var deregistration time.Duration
		for _, a := range tg["TargetGroupAttributes"].([]any) {
			if path(a, "Key") == "deregistration_delay.timeout_seconds" {
				deregistration = seconds(path(a, "Value"))
			}
		}
		if stopRouting := time.Duration(unhealthy) * interval; drain < stopRouting+5*time.Second {
			t.Errorf("%s: DRAIN_DELAY %s, want at least the %s the load balancer needs to stop routing, plus 5s", id, drain, stopRouting)
		}
		if deregistration <= 0 || deregistration+stop > 120*time.Second {
			t.Errorf("%s: deregistration delay %s plus StopTimeout %s, want them inside the 120s Spot warning", id, deregistration, stop)
		}
	}
}

func TestDeploymentSpotStrategy(t *testing.T) {
	// onDemandBaseTasks on FARGATE, every other task on FARGATE_SPOT.
	eachService(t, checkSpotStrategy)
}

func checkSpotStrategy(t *testing.T, cfg Config, all map[string]map[string]any) {
	want := jsonOf([]any{
		map[string]any{"Base": cfg.OnDemandBaseTasks, "CapacityProvider": "FARGATE", "Weight": 0},
		map[string]any{"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
	})
	got := jsonOf(path(single(t, all, "AWS::ECS::Service"), "Properties", "CapacityProviderStrategy"))
	if !cfg.SpotFallback && got != want {
		t.Errorf("capacity provider strategy %s, want %s", got, want)
	}
	if cfg.SpotFallback {
		// With the Spot fallback the template carries no strategy
		// (fallback.go): ECS creates the service with the cluster's
		// default, and the fallback's function applies the service's own
		// (SPOT_STRATEGY) when each stack operation ends.
		if got != "null" {
			t.Errorf("with spotFallback the service's template has the strategy %s: a deploy during a fallback would send it", got)
		}
		var applied []any
		for _, fn := range ofType(all, "AWS::Lambda::Function") {
			if v := path(fn, "Properties", "Environment", "Variables", "SPOT_STRATEGY"); v != nil {
				applied = append(applied, v)
			}
		}
		if len(applied) != 1 || applied[0] != spotStrategy(cfg) {
			t.Errorf("the Spot fallback applies %v, want exactly %q", applied, spotStrategy(cfg))
		}
		if cfg.Service == "" {
			if def := jsonOf(path(single(t, all, "AWS::ECS::ClusterCapacityProviderAssociations"), "Properties", "DefaultCapacityProviderStrategy")); def != want {
				t.Errorf("the cluster's default strategy %s, want the app's own service's %s", def, want)
			}
		}
	}
	scalable := path(single(t, all, "AWS::ApplicationAutoScaling::ScalableTarget"), "Properties")
	if path(scalable, "MinCapacity") != float64(cfg.MinTasks) || path(scalable, "MaxCapacity") != float64(cfg.MaxTasks) {
		t.Errorf("scaling between %v and %v tasks, want minTasks %d to maxTasks %d", path(scalable, "MinCapacity"), path(scalable, "MaxCapacity"), cfg.MinTasks, cfg.MaxTasks)
	}
}

func TestDeploymentAlarms(t *testing.T) {
	// Each failure an operator must hear of has an alarm, and with
	// alarmEmail every alarm notifies.
	eachService(t, checkAlarms)
}

func checkAlarms(t *testing.T, cfg Config, all map[string]map[string]any) {
	alarms := ofType(all, "AWS::CloudWatch::Alarm")
	metrics := map[string]bool{}
	for id, a := range alarms {
		j := jsonOf(a["Properties"])
		for _, m := range []string{"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "TargetResponseTime", "UnHealthyHostCount", "CPUUtilization", "MemoryUtilization", "RunningTaskCount"} {
			if strings.Contains(j, `"`+m+`"`) {
				metrics[m] = true
			}
		}
		if cfg.AlarmEmail != "" && path(a, "Properties", "AlarmActions") == nil {
			t.Errorf("%s: no AlarmActions, but alarmEmail is %s", id, cfg.AlarmEmail)
		}
	}
	for _, m := range []string{"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "TargetResponseTime", "UnHealthyHostCount", "CPUUtilization", "MemoryUtilization", "RunningTaskCount"} {
		if !metrics[m] {
			t.Errorf("no alarm on %s", m)
		}
	}
}

func TestDeploymentNoWildcardIAM(t *testing.T) {
	// Every IAM statement names its resources, except the one action that
	// IAM offers on * only.
	all := deployed(t)
	var statements []any
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for _, p := range ofType(all, typ) {
			statements = append(statements, path(p, "Properties", "PolicyDocument", "Statement").([]any)...)
		}
	}
	for _, r := range ofType(all, "AWS::IAM::Role") {
		policies, _ := path(r, "Properties", "Policies").([]any)
		for _, p := range policies {
			statements = append(statements, path(p, "PolicyDocument", "Statement").([]any)...)
		}
	}
	if len(statements) == 0 {
		t.Fatal("no IAM statement found: the check would see nothing")
	}
	for _, st := range statements {
		action, resource := jsonOf(path(st, "Action")), jsonOf(path(st, "Resource"))
		if path(st, "Effect") == "Allow" && strings.Contains(resource, `"*"`) && action != `"ecr:GetAuthorizationToken"` {
			t.Errorf("IAM allows %s on %s, want named resources", action, resource)
		}
		if strings.Contains(action, `"*"`) || strings.Contains(action, `:*"`) {
			t.Errorf("IAM statement with a wildcard action: %s", jsonOf(st))
		}
	}
}

func TestDeploymentContractIsTheConfig(t *testing.T) {
	units := deploymentUnits(t, userDeployment(t))
	for _, env := range slices.Sorted(maps.Keys(units)) {
		t.Run(env, func(t *testing.T) { checkContractIsTheConfig(t, units[env]) })
	}
}

func checkContractIsTheConfig(t *testing.T, s *synthesized) {
	// contract.json holds the values of cdk.json as LoadConfig reads them,
	// with every key a context key.
	c := contractOf(s.cfg)
	var fields map[string]any
	if err := json.Unmarshal(indented(t, c), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if _, ok := Defaults[k]; !ok {
			t.Errorf("contract.json key %q is no context key", k)
		}
	}
	// The secrets the e2e tests stand in for are those ECS sets.
	var names []string
	list, _ := webContainer(t, resourcesOf(t, s))["Secrets"].([]any)
	for _, s := range list {
		names = append(names, fmt.Sprint(path(s, "Name")))
	}
	slices.Sort(names)
	if !slices.Equal(names, c.Secrets) {
		t.Errorf("contract.json secrets %q, want the container's secret variables %q", c.Secrets, names)
	}
}

func TestDeploymentValidatorAndCdkNag(t *testing.T) {
	// What make synth would print for cdk.json: nothing.
	s := userDeployment(t)
	for _, f := range validationFindings(t, s.outdir) {
		t.Errorf("built-in validator: %s", f)
	}
	for _, st := range s.all() {
		for _, a := range annotations(t, st) {
			t.Errorf("%s", a)
		}
	}
}
