package plan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sebdah/goldie/v2"
)

// nativeService is one stack as a native (canary) ECS deployment renders
// it, reduced to what the plan reads: a load balancer and its listener,
// two target groups, the production and test rules, and the service.
func nativeService() map[string]any {
	ref := func(id string) map[string]any { return map[string]any{"Ref": id} }
	forward := func(tg string) []any { return []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(tg)}} }
	group := func() map[string]any {
		return map[string]any{"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": map[string]any{
			"Port": 80, "Protocol": "HTTP", "TargetType": "ip", "VpcId": "vpc-0123456789abcdef0", "HealthCheckPath": "/healthcheck"}}
	}
	rule := func(priority int, tg string, conditions ...any) map[string]any {
		return map[string]any{"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": map[string]any{
			"ListenerArn": ref("Listener"), "Priority": priority, "Actions": forward(tg), "Conditions": conditions}}
	}
	path := map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{"/*"}}}
	header := map[string]any{"Field": "http-header", "HttpHeaderConfig": map[string]any{"HttpHeaderName": "X-Test", "Values": []any{"1"}}}
	return map[string]any{"Resources": map[string]any{
		"LoadBalancer": map[string]any{"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": map[string]any{"Subnets": []any{"subnet-1", "subnet-2"}}},
		"Listener": map[string]any{"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": map[string]any{
			"LoadBalancerArn": ref("LoadBalancer"), "Port": 80, "Protocol": "HTTP",
			"DefaultActions": []any{map[string]any{"Type": "fixed-response", "FixedResponseConfig": map[string]any{"StatusCode": "404"}}}}},
		"TargetGroup":          group(),
		"AlternateTargetGroup": group(),
		"ProductionRule":       rule(100, "TargetGroup", path),
		"TestRule":             rule(99, "AlternateTargetGroup", header, path),
		"TaskDefinition": map[string]any{"Type": "AWS::ECS::TaskDefinition", "Properties": map[string]any{
			"ContainerDefinitions": []any{map[string]any{"Name": "Web", "PortMappings": []any{map[string]any{"ContainerPort": 5000}}}}}},
		"Service": map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{
			"TaskDefinition": ref("TaskDefinition"),
			"DeploymentConfiguration": map[string]any{"Strategy": "CANARY", "BakeTimeInMinutes": 5,
				"CanaryConfiguration": map[string]any{"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 6}},
			"LoadBalancers": []any{map[string]any{"ContainerName": "Web", "ContainerPort": 5000, "TargetGroupArn": ref("TargetGroup"),
				"AdvancedConfiguration": map[string]any{"AlternateTargetGroupArn": ref("AlternateTargetGroup"),
					"ProductionListenerRule": ref("ProductionRule"), "TestListenerRule": ref("TestRule"), "RoleArn": "arn:aws:iam::123456789012:role/ecs"}}}}},
	}}
}

// edit returns a deep copy of tpl changed by f.
func edit(tpl map[string]any, f func(resources map[string]any)) map[string]any {
	data, _ := json.Marshal(tpl)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	f(out["Resources"].(map[string]any))
	return out
}

func props(resources map[string]any, id string) map[string]any {
	return resources[id].(map[string]any)["Properties"].(map[string]any)
}

// TestWhatECSOwns plans template pairs that no setting produces, so that
// the verdicts cannot come from the names of keys: each changes the
// production rule, a target group or the service's native strategy of a
// deployed native service, or only adds a DependsOn, which must stay safe.
// The plans are in testdata/ (go test ./internal/plan -update).
func TestWhatECSOwns(t *testing.T) {
	cases := []struct {
		name string
		edit func(r map[string]any)
		// want is in a broken invariant, or "" for a safe plan.
		want string
	}{
		{"conditions", func(r map[string]any) {
			props(r, "ProductionRule")["Conditions"] = []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{"/api/*"}}}}
		}, "listener rule ProductionRule for its [Conditions] change, but ECS owns its action"},
		{"forward-config", func(r map[string]any) {
			// A CDK upgrade renders the same forward the other way.
			props(r, "ProductionRule")["Actions"] = []any{map[string]any{"Type": "forward", "ForwardConfig": map[string]any{
				"TargetGroups": []any{map[string]any{"TargetGroupArn": map[string]any{"Ref": "TargetGroup"}, "Weight": 1}}}}}
		}, "listener rule ProductionRule for its [Actions] change, but ECS owns its action"},
		{"replaced-group", func(r map[string]any) {
			props(r, "AlternateTargetGroup")["Port"] = 8080 // create-only
		}, "CloudFormation deletes target group AlternateTargetGroup while the live listener rule ProductionRule may still forward to it"},
		{"to-rolling", func(r map[string]any) {
			delete(r, "AlternateTargetGroup")
			delete(r, "TestRule")
			svc := props(r, "Service")
			svc["DeploymentConfiguration"] = map[string]any{"Strategy": "ROLLING"}
			delete(svc["LoadBalancers"].([]any)[0].(map[string]any), "AdvancedConfiguration")
		}, "the live listener rule ProductionRule may send every request it matches to target group AlternateTargetGroup"},
		{"depends-on", func(r map[string]any) {
			r["ProductionRule"].(map[string]any)["DependsOn"] = []any{"AlternateTargetGroup"}
			r["TestRule"].(map[string]any)["DependsOn"] = "TargetGroup"
		}, ""},
	}
	g := goldie.New(t, goldie.WithFixtureDir("testdata"), goldie.WithNameSuffix(".plan"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := writeAssembly(t, map[string]map[string]any{"App": nativeService()}, nil)
			after := writeAssembly(t, map[string]map[string]any{"App": edit(nativeService(), c.edit)}, nil)
			p, err := Diff(before, after, schemas(t))
			if err != nil {
				t.Fatal(err)
			}
			p.Check()
			g.Assert(t, c.name, []byte(p.Format()))
			var found bool
			for _, v := range p.Violations {
				found = found || strings.Contains(v.Message, c.want)
				if v.Fix == "" {
					t.Errorf("no procedure for %s", v)
				}
			}
			switch {
			case c.want == "" && len(p.Violations) > 0:
				t.Errorf("a change that makes no API call on the rule is called unsafe:\n%s", p.Format())
			case c.want != "" && !found:
				t.Errorf("the plan does not say %q:\n%s", c.want, p.Format())
			case c.want != "" && len(p.Steps) > 0:
				t.Errorf("no order of deploys avoids it, yet the plan gives one: %v", p.Steps)
			}
		})
	}
}

// TestDestroyDeletesRulesFirst: each rule ECS owns must depend on both
// groups, or cdk destroy may delete a group a live rule still forwards to.
func TestDestroyDeletesRulesFirst(t *testing.T) {
	without := writeAssembly(t, map[string]map[string]any{"App": nativeService()}, nil)
	var got []string
	for _, v := range Destroy(without) {
		got = append(got, v.Message[:strings.Index(v.Message, ",")])
	}
	want := []string{
		"listener rule ProductionRule does not depend on target group AlternateTargetGroup",
		"listener rule TestRule does not depend on target group TargetGroup",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("destroy of rules without DependsOn: %q, want %q", got, want)
	}
	with := writeAssembly(t, map[string]map[string]any{"App": edit(nativeService(), func(r map[string]any) {
		r["ProductionRule"].(map[string]any)["DependsOn"] = []any{"AlternateTargetGroup"}
		r["TestRule"].(map[string]any)["DependsOn"] = "TargetGroup"
	})}, nil)
	if v := Destroy(with); len(v) > 0 {
		t.Errorf("destroy with DependsOn: %v", v)
	}
}

// TestListenerPorts: a listener cannot take a port that another listener
// of its load balancer holds until the cleanup deletes that one.
func TestListenerPorts(t *testing.T) {
	https := edit(nativeService(), func(r map[string]any) {
		props(r, "Listener")["Port"] = 443
		props(r, "Listener")["Protocol"] = "HTTPS"
		r["Redirect"] = map[string]any{"Type": "AWS::ElasticLoadBalancingV2::Listener", "DependsOn": "Listener", "Properties": map[string]any{
			"LoadBalancerArn": map[string]any{"Ref": "LoadBalancer"}, "Port": 80, "Protocol": "HTTP",
			"DefaultActions": []any{map[string]any{"Type": "redirect", "RedirectConfig": map[string]any{"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}}}}}
	})
	for _, c := range []struct {
		name          string
		before, after map[string]any
		want          string
	}{
		{"on", nativeService(), https, ""},
		{"off", https, nativeService(), "listener Listener takes port 80 while listener Redirect still holds it"},
	} {
		p, err := Diff(writeAssembly(t, map[string]map[string]any{"App": c.before}, nil), writeAssembly(t, map[string]map[string]any{"App": c.after}, nil), schemas(t))
		if err != nil {
			t.Fatal(err)
		}
		p.Check()
		got := ""
		for _, v := range p.Violations {
			got += v.Message
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: violations %q, want %q", c.name, got, c.want)
		}
	}
}
