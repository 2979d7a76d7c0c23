package stacks

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// exportNames returns the names of the exports in a stack's template.
func exportNames(t *testing.T, s *synthesized, stack string) []string {
	t.Helper()
	var names []string
	for _, o := range toJSON(t, s.templates[stack])["Outputs"].(map[string]any) {
		if n, ok := path(o, "Export", "Name").(string); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// exports returns a stack's exports by name, with the output that holds
// each.
func exports(t *testing.T, s *synthesized, stack string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, o := range toJSON(t, s.templates[stack])["Outputs"].(map[string]any) {
		if n, ok := path(o, "Export", "Name").(string); ok {
			out[n] = o.(map[string]any)
		}
	}
	return out
}

// importNames returns the export names a stack's template imports.
func importNames(t *testing.T, s *synthesized, stack string) []string {
	t.Helper()
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if n, ok := v["Fn::ImportValue"].(string); ok {
				names = append(names, n)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(toJSON(t, s.templates[stack]))
	slices.Sort(names)
	return slices.Compact(names)
}

// exportedResource returns the logical id of the producer resource whose
// Ref or Fn::GetAtt an export's value is, or "" if it is anything else.
func exportedResource(output map[string]any) string {
	switch v := output["Value"].(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			return ref
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			id, _ := att[0].(string)
			return id
		}
	}
	return ""
}

func TestWiring(t *testing.T) {
	s := defaults(t)

	// Which stack depends on which: this is also the deploy order.
	want := map[string][]string{
		"Network":      nil,
		"LoadBalancer": {"Network"},
		"Cluster":      nil,
		"Service":      {"Cluster", "LoadBalancer", "Network"},
	}
	for _, st := range s.all() {
		var got []string
		for _, d := range *st.Dependencies() {
			got = append(got, *d.Node().Id())
		}
		slices.Sort(got)
		if name := *st.Node().Id(); !slices.Equal(got, want[name]) {
			t.Errorf("%s depends on %v, want %v", name, got, want[name])
		}
	}

	// Every reference is an export of a producer resource's identity (its
	// Ref or an attribute), imported whole: never a weak Fn::GetStackOutput
	// and never a value derived from one, such as a name split out of an
	// ARN.
	for _, name := range stackNames {
		data := compact(toJSON(t, s.templates[name]))
		if strings.Contains(data, "Fn::GetStackOutput") {
			t.Errorf("%s uses Fn::GetStackOutput; want exports", name)
		}
		for _, imp := range importNames(t, s, name) {
			producer := strings.TrimPrefix(strings.Split(imp, ":")[0], "fargo-")
			out, ok := exports(t, s, producer)[imp]
			if !ok {
				t.Errorf("%s imports %s, which %s does not export", name, imp, producer)
				continue
			}
			if exportedResource(out) == "" {
				t.Errorf("%s exports %s as %v: want a resource's Ref or Fn::GetAtt", producer, imp, out["Value"])
			}
		}
	}
	for _, consumer := range []string{"LoadBalancer", "Service"} {
		if len(importNames(t, s, consumer)) == 0 {
			t.Errorf("%s imports nothing", consumer)
		}
	}
	// The cluster stack is independent of the network's outputs.
	if imports := importNames(t, s, "Cluster"); len(imports) != 0 {
		t.Errorf("Cluster imports %v, want nothing", imports)
	}
}

// TestTogglesKeepTheExports proves that toggling a setting deploys in one
// run. CloudFormation refuses to delete an export that another stack still
// imports, and a producer deploys before its consumers, so each producer
// must export the same values whatever the custom domain, NAT or alarm
// settings, and every consumer may import only what every configuration
// exports.
func TestTogglesKeepTheExports(t *testing.T) {
	toggles := []string{"", "Domain", "AlarmEmail", "Nat"}
	for _, producer := range []string{"Network", "LoadBalancer", "Cluster"} {
		base := exportNames(t, defaults(t), producer)
		for _, v := range toggles[1:] {
			if got := exportNames(t, variant(t, v), producer); !slices.Equal(got, base) {
				t.Errorf("%s exports differ with variant %s:\n got %v\nwant %v", producer, v, got, base)
			}
		}
	}
	for _, v := range toggles {
		for _, consumer := range []string{"LoadBalancer", "Service"} {
			for _, imp := range importNames(t, variant(t, v), consumer) {
				producer := strings.TrimPrefix(strings.Split(imp, ":")[0], "fargo-")
				for _, other := range toggles {
					if !slices.Contains(exportNames(t, variant(t, other), producer), imp) {
						t.Errorf("%s (variant %q) imports %s, which %s does not export in variant %q", consumer, v, imp, producer, other)
					}
				}
			}
		}
	}
}

// replacements change, for each type of resource another stack imports, a
// property that CloudFormation cannot update in place: the change replaces
// the resource, and so the value of its export.
var replacements = map[string]struct {
	property string
	value    any
}{
	"AWS::EC2::VPC":                             {"CidrBlock", "10.0.0.0/17"},
	"AWS::EC2::Subnet":                          {"AvailabilityZone", "eu-west-1c"},
	"AWS::EC2::SecurityGroup":                   {"GroupDescription", "Replaced description"},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"Scheme", "internal"},
	"AWS::ElasticLoadBalancingV2::Listener":     {"LoadBalancerArn", "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/replaced/0123456789abcdef"},
	"AWS::ECS::Cluster":                         {"ClusterName", "replaced-cluster"},
}

// TestReplacingAnImportedResourceFailsLoudly replaces every producer
// resource that another stack imports, all at once, and shows what a
// deploy then does. The consumers' templates do not change, so `cdk
// deploy --all` deploys the producers only; each replaced resource's
// export keeps its name while its value must change; and CloudFormation
// refuses to change an export that another stack imports ("Export ...
// cannot be updated as it is in use by ..."), so the producer's update
// fails and rolls back with the service untouched, instead of leaving a
// consumer pointing at a deleted resource.
func TestReplacingAnImportedResourceFailsLoudly(t *testing.T) {
	base := variant(t, "Account")
	imported := map[string]map[string]bool{} // producer -> logical ids
	for _, consumer := range []string{"LoadBalancer", "Service"} {
		for _, imp := range importNames(t, base, consumer) {
			producer := strings.TrimPrefix(strings.Split(imp, ":")[0], "fargo-")
			if imported[producer] == nil {
				imported[producer] = map[string]bool{}
			}
			imported[producer][exportedResource(exports(t, base, producer)[imp])] = true
		}
	}

	// The same app, each imported resource changed by an escape hatch.
	var changed []string
	replaced := synth(t, nil, bound("eu-west-1"), func(s *Stacks) {
		for _, st := range (&synthesized{stacks: s}).all() {
			for _, c := range *st.Node().FindAll(constructs.ConstructOrder_PREORDER) {
				if !*awscdk.CfnResource_IsCfnResource(c) {
					continue
				}
				r := c.(awscdk.CfnResource)
				id, _ := st.Resolve(r.LogicalId()).(string)
				if !imported[*st.Node().Id()][id] {
					continue
				}
				change, ok := replacements[*r.CfnResourceType()]
				if !ok {
					t.Errorf("%s imports %s (%s): add a change to replacements that replaces it", "a consumer", id, *r.CfnResourceType())
					continue
				}
				r.AddPropertyOverride(jsii.String(change.property), change.value)
				changed = append(changed, *st.Node().Id()+"/"+id)
			}
		}
	})
	if len(changed) < 8 {
		t.Fatalf("changed %v: fewer resources than the stacks import", changed)
	}
	t.Logf("replaced %d imported resources: %v", len(changed), changed)

	// The producers change ...
	for producer := range imported {
		if compact(toJSON(t, base.templates[producer])) == compact(toJSON(t, replaced.templates[producer])) {
			t.Errorf("%s did not change", producer)
		}
		// ... but keep every export, under the same name, with a value that
		// is still the replaced resource's identity.
		for name, out := range exports(t, base, producer) {
			if got := exports(t, replaced, producer)[name]; compact(got) != compact(out) {
				t.Errorf("%s export %s: %v, then %v", producer, name, out, got)
			}
		}
	}
	// ... and the consumers import exactly what they imported, the Service
	// stack with a template identical to the one deployed before.
	for _, consumer := range []string{"LoadBalancer", "Service"} {
		if a, b := importNames(t, base, consumer), importNames(t, replaced, consumer); !slices.Equal(a, b) {
			t.Errorf("%s imports %v, then %v", consumer, a, b)
		}
	}
	if compact(toJSON(t, base.templates["Service"])) != compact(toJSON(t, replaced.templates["Service"])) {
		t.Error("the Service stack changed: the test no longer shows that only the producers would deploy")
	}
}

// TestReplacementsReplace checks, against the CloudFormation resource
// schemas that cfn-lint ships, that each change in replacements is to a
// create-only property: one that CloudFormation can only change by
// replacing the resource.
func TestReplacementsReplace(t *testing.T) {
	types := slices.Sorted(maps.Keys(replacements))
	schema := createOnly(t, types)
	for _, typ := range types {
		if p := replacements[typ].property; !slices.Contains(schema[typ], p) {
			t.Errorf("%s: %s is not create-only (the schema lists %v), so changing it does not replace the resource", typ, p, schema[typ])
		}
	}
}
