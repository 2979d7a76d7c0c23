package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

// timeScale divides every duration read from the templates, so that a stop
// sequence of tens of seconds in production takes seconds here.
const timeScale = 10

func scaled(d time.Duration) time.Duration { return d / timeScale }

// deploymentDir holds the user's templates, the snapshots that
// TestDeploymentSnapshots in the stacks package keeps identical to what
// synth writes from cdk.json, and contract.json beside them. Resources are
// looked up by type across all the templates, so a resource may move
// between stacks.
var deploymentDir = contract.Dir("..")

// settings are the production numbers the test reproduces, unscaled.
type settings struct {
	// The target group's health check.
	healthPath         string
	healthCode         string
	healthInterval     time.Duration
	healthTimeout      time.Duration
	healthyThreshold   int
	unhealthyThreshold int
	deregistration     time.Duration
	// port is the port the ECS service registers its tasks with in the
	// target group (the target group's own port is only a default for
	// targets registered without one); the container's PORT and port
	// mapping must equal it.
	port int

	// env is the container's environment as the task definition sets it,
	// with a value for each secret (secretValues).
	env             map[string]string
	drainDelay      time.Duration
	shutdownTimeout time.Duration
	stopTimeout     time.Duration

	// albIdleTimeout is the load balancer's idle_timeout.timeout_seconds.
	albIdleTimeout time.Duration

	// contract holds the probe the load sends: what the app must answer.
	contract contract.Contract

	// native is set when the service deploys with an ECS strategy through
	// an alternate target group; strategy is its name (CANARY, ...), and
	// with a canary, canaryPercent of the traffic goes to the new tasks for
	// canaryBake before all of it does. bake is how long the old tasks stay
	// after the full shift.
	native        bool
	strategy      string
	canaryPercent float64
	canaryBake    time.Duration
	bake          time.Duration

	// The deployment alarm on the tasks' 5xx: it fires when more than
	// alarmPercent of a target group's requests fail in alarmPeriods
	// periods of alarmPeriod in a row.
	alarmPercent float64
	alarmPeriods int
	alarmPeriod  time.Duration

	// testHeader: testValue is the header condition of the test rule,
	// which forwards to the alternate target group.
	testHeader, testValue string

	// app is the binary that runs as each task: ./service, built as the
	// Dockerfile builds it, unless a test sets another.
	app string
}

// resource is one CloudFormation resource and the file it came from.
type resource struct {
	file, id, typ string
	properties    map[string]any
}

// readSettings reads settings from the templates and fails the test with
// one line naming the file and property when one is missing or malformed.
func readSettings(t *testing.T) settings {
	t.Helper()
	var all []resource
	templates, _ := filepath.Glob(filepath.Join(deploymentDir, "*.template.json"))
	if len(templates) == 0 {
		t.Fatalf("no templates in %s: run make snapshots", deploymentDir)
	}
	for _, path := range templates {
		name := filepath.Base(path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var tpl struct {
			Resources map[string]struct {
				Type       string
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for id, r := range tpl.Resources {
			all = append(all, resource{file: name, id: id, typ: r.Type, properties: r.Properties})
		}
	}
	only := func(typ string) resource {
		t.Helper()
		var found []resource
		for _, r := range all {
			if r.typ == typ {
				found = append(found, r)
			}
		}
		if len(found) != 1 {
			t.Fatalf("found %d resources of type %s in %s, want exactly 1", len(found), typ, deploymentDir)
		}
		return found[0]
	}

	var s settings
	// The service registers its tasks in the target group that its
	// LoadBalancers name; with a native strategy each release starts in
	// the alternate one, which must be checked the same way.
	svc := props{t: t, r: only("AWS::ECS::Service")}
	balancers, _ := svc.r.properties["LoadBalancers"].([]any)
	if len(balancers) != 1 {
		t.Fatalf("%s: %d LoadBalancers, want 1", svc.where(), len(balancers))
	}
	balancer := props{t: t, r: resource{file: svc.r.file, id: svc.r.id + " LoadBalancers", properties: balancers[0].(map[string]any)}}
	group := func(key string, in map[string]any) resource {
		t.Helper()
		ref, _ := in[key].(map[string]any)
		for _, r := range all {
			if r.typ == "AWS::ElasticLoadBalancingV2::TargetGroup" && r.file == svc.r.file && r.id == ref["Ref"] {
				return r
			}
		}
		t.Fatalf("%s: %s %v names no target group of %s", balancer.where(), key, in[key], svc.r.file)
		return resource{}
	}
	primary := group("TargetGroupArn", balancer.r.properties)
	if advanced, ok := balancer.r.properties["AdvancedConfiguration"].(map[string]any); ok {
		s.native = true
		alternate := group("AlternateTargetGroupArn", advanced)
		s.testHeader, s.testValue = testRule(t, all, svc.r.file, alternate.id)
		if a, b := fmt.Sprint(alternate.properties), fmt.Sprint(primary.properties); a != b {
			t.Fatalf("%s: alternate target group %s differs from %s: a release would be checked otherwise than the one before", svc.where(), alternate.id, primary.id)
		}
		d, _ := svc.r.properties["DeploymentConfiguration"].(map[string]any)
		s.strategy, _ = d["Strategy"].(string)
		bake, _ := d["BakeTimeInMinutes"].(float64)
		s.bake = time.Duration(bake) * time.Minute
		if c, ok := d["CanaryConfiguration"].(map[string]any); ok {
			percent, _ := c["CanaryPercent"].(float64)
			step, _ := c["CanaryBakeTimeInMinutes"].(float64)
			s.canaryPercent, s.canaryBake = percent, time.Duration(step)*time.Minute
		}
	}
	s.alarmPercent, s.alarmPeriods, s.alarmPeriod = deploymentAlarm(t, all, svc)
	p := props{t: t, r: primary}
	if proto := p.str("Protocol"); proto != "HTTP" {
		t.Fatalf("%s: target group Protocol %q: the e2e test knows HTTP only", p.where(), proto)
	}
	if proto, ok := p.r.properties["HealthCheckProtocol"]; ok && proto != "HTTP" {
		t.Fatalf("%s: target group HealthCheckProtocol %v: the e2e test knows HTTP only", p.where(), proto)
	}
	s.healthPath = p.str("HealthCheckPath")
	s.healthInterval = time.Duration(p.int("HealthCheckIntervalSeconds")) * time.Second
	s.healthTimeout = time.Duration(p.int("HealthCheckTimeoutSeconds")) * time.Second
	s.healthyThreshold = p.int("HealthyThresholdCount")
	s.unhealthyThreshold = p.int("UnhealthyThresholdCount")
	matcher, _ := p.r.properties["Matcher"].(map[string]any)
	s.healthCode, _ = matcher["HttpCode"].(string)
	if !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(s.healthCode) {
		t.Fatalf("%s: target group Matcher.HttpCode %q: the e2e test knows a single status code only", p.where(), s.healthCode)
	}
	s.deregistration = time.Duration(p.attribute("TargetGroupAttributes", "deregistration_delay.timeout_seconds")) * time.Second

	p = props{t: t, r: only("AWS::ElasticLoadBalancingV2::LoadBalancer")}
	s.albIdleTimeout = time.Duration(p.attribute("LoadBalancerAttributes", "idle_timeout.timeout_seconds")) * time.Second

	s.port = balancer.int("ContainerPort")

	p = props{t: t, r: only("AWS::ECS::TaskDefinition")}
	container := p.container(s.port)
	s.stopTimeout = time.Duration(container.int("StopTimeout")) * time.Second
	s.env = container.env()
	if got := s.env["PORT"]; got != strconv.Itoa(s.port) {
		t.Fatalf("%s: container PORT %q, want the port the service registers, %d", p.where(), got, s.port)
	}
	s.drainDelay = container.duration("DRAIN_DELAY")
	s.shutdownTimeout = container.duration("SHUTDOWN_TIMEOUT")
	if want := healthPath(s.env); s.healthPath != want {
		t.Fatalf("target group HealthCheckPath %q, but the service answers health checks on %q", s.healthPath, want)
	}
	var err error
	if s.contract, err = contract.Read(".."); err != nil {
		t.Fatal(err)
	}
	secrets, err := secretValues(s.contract.Secrets, os.LookupEnv, secretsFile)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(s.env, secrets)
	return s
}

// testRule returns the header and value of the listener rule in file that
// forwards to the target group alternate on a header condition.
func testRule(t *testing.T, all []resource, file, alternate string) (string, string) {
	t.Helper()
	for _, r := range all {
		if r.typ != "AWS::ElasticLoadBalancingV2::ListenerRule" || r.file != file {
			continue
		}
		b, _ := json.Marshal(r.properties)
		var rule struct {
			Actions []struct {
				TargetGroupArn struct{ Ref string }
			}
			Conditions []struct {
				Field            string
				HttpHeaderConfig struct {
					HttpHeaderName string
					Values         []string
				}
			}
		}
		json.Unmarshal(b, &rule)
		if len(rule.Actions) != 1 || rule.Actions[0].TargetGroupArn.Ref != alternate {
			continue
		}
		for _, c := range rule.Conditions {
			if h := c.HttpHeaderConfig; c.Field == "http-header" && len(h.Values) == 1 {
				return h.HttpHeaderName, h.Values[0]
			}
		}
	}
	t.Fatalf("%s: no listener rule forwards to %s on one header value", file, alternate)
	return "", ""
}

// deploymentAlarm reads the first of the service's deployment alarms that
// watches the tasks' 5xx: its threshold in percent, its evaluation periods
// and their length.
func deploymentAlarm(t *testing.T, all []resource, svc props) (float64, int, time.Duration) {
	t.Helper()
	d, _ := svc.r.properties["DeploymentConfiguration"].(map[string]any)
	alarms, _ := d["Alarms"].(map[string]any)
	names, _ := alarms["AlarmNames"].([]any)
	for _, name := range names {
		for _, r := range all {
			if r.typ != "AWS::CloudWatch::Alarm" || r.properties["AlarmName"] != name {
				continue
			}
			b, _ := json.Marshal(r.properties["Metrics"])
			if !strings.Contains(string(b), "HTTPCode_Target_5XX_Count") {
				continue
			}
			var metrics []struct{ MetricStat struct{ Period float64 } }
			json.Unmarshal(b, &metrics)
			var period float64
			for _, m := range metrics {
				period = max(period, m.MetricStat.Period)
			}
			p := props{t: t, r: r}
			threshold, _ := r.properties["Threshold"].(float64)
			if period == 0 || threshold == 0 || r.properties["ComparisonOperator"] != "GreaterThanThreshold" {
				t.Fatalf("%s: want a GreaterThanThreshold alarm with a threshold and a metric period", p.where())
			}
			return threshold, p.int("EvaluationPeriods"), time.Duration(period) * time.Second
		}
	}
	t.Fatalf("%s: no deployment alarm on HTTPCode_Target_5XX_Count among %v", svc.where(), names)
	return 0, 0, 0
}

// props reads typed properties of one resource.
type props struct {
	t *testing.T
	r resource
}

func (p props) where() string { return p.r.file + " " + p.r.id }

func (p props) str(key string) string {
	p.t.Helper()
	v, ok := p.r.properties[key].(string)
	if !ok {
		p.t.Fatalf("%s: property %s = %v, want a string", p.where(), key, p.r.properties[key])
	}
	return v
}

func (p props) int(key string) int {
	p.t.Helper()
	v, ok := p.r.properties[key].(float64)
	if !ok || v != float64(int(v)) {
		p.t.Fatalf("%s: property %s = %v, want a whole number", p.where(), key, p.r.properties[key])
	}
	return int(v)
}

// attribute reads a whole number from a list of {Key, Value} attributes,
// where CloudFormation keeps values as strings.
func (p props) attribute(list, key string) int {
	p.t.Helper()
	attrs, _ := p.r.properties[list].([]any)
	for _, a := range attrs {
		a, _ := a.(map[string]any)
		if a["Key"] == key {
			n, err := strconv.Atoi(fmt.Sprint(a["Value"]))
			if err != nil {
				p.t.Fatalf("%s: %s %s = %v, want a whole number", p.where(), list, key, a["Value"])
			}
			return n
		}
	}
	p.t.Fatalf("%s: %s has no %s", p.where(), list, key)
	return 0
}

// container returns the container definition that maps port, the one the
// load balancer sends traffic to.
func (p props) container(port int) props {
	p.t.Helper()
	defs, _ := p.r.properties["ContainerDefinitions"].([]any)
	for _, d := range defs {
		d, _ := d.(map[string]any)
		mappings, _ := d["PortMappings"].([]any)
		for _, m := range mappings {
			m, _ := m.(map[string]any)
			if m["ContainerPort"] == float64(port) {
				return props{t: p.t, r: resource{file: p.r.file, id: fmt.Sprintf("%s container %v", p.r.id, d["Name"]), properties: d}}
			}
		}
	}
	p.t.Fatalf("%s: no container maps port %d, where the service registers its tasks", p.where(), port)
	return props{}
}

// env returns a container definition's Environment as a map.
func (p props) env() map[string]string {
	p.t.Helper()
	env := map[string]string{}
	list, _ := p.r.properties["Environment"].([]any)
	for _, e := range list {
		e, _ := e.(map[string]any)
		name, ok1 := e["Name"].(string)
		value, ok2 := e["Value"].(string)
		if !ok1 || !ok2 {
			p.t.Fatalf("%s: environment entry %v, want a literal Name and Value", p.where(), e)
		}
		env[name] = value
	}
	return env
}

// duration parses a duration variable of the container's environment.
func (p props) duration(name string) time.Duration {
	p.t.Helper()
	v, ok := p.env()[name]
	if !ok {
		p.t.Fatalf("%s: environment has no %s", p.where(), name)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.t.Fatalf("%s: %s=%q: %v", p.where(), name, v, err)
	}
	return d
}
