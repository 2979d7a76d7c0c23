package stacks

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/sebdah/goldie/v2"
)

// routingTypes are the resources that decide where a request goes: the
// listener and its default action, the rules, and the target groups with
// their health checks.
var routingTypes = []string{
	"AWS::ElasticLoadBalancingV2::Listener",
	"AWS::ElasticLoadBalancingV2::ListenerRule",
	"AWS::ElasticLoadBalancingV2::TargetGroup",
}

// TestServicesRoutingSnapshot keeps testdata/routing/ identical to the
// routing resources of the three-service fixture's templates (shopApp),
// as synthesized: the end-to-end routing test (e2e/routing_test.go)
// configures HAProxy from them, so it routes as the templates do, not as a
// hand-written copy. Only those resources are kept, so the snapshot
// changes when routing does.
func TestServicesRoutingSnapshot(t *testing.T) {
	s := shopApp(t)
	g := goldie.New(t, goldie.WithFixtureDir("testdata/routing"), goldie.WithNameSuffix(".template.json"))
	for _, id := range slices.Sorted(maps.Keys(s.templates)) {
		resources, _ := toJSON(t, s.templates[id])["Resources"].(map[string]any)
		kept := map[string]any{}
		for name, r := range resources {
			if typ, _ := r.(map[string]any)["Type"].(string); slices.Contains(routingTypes, typ) {
				kept[name] = r
			}
		}
		if len(kept) == 0 {
			continue
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"Resources": kept}); err != nil {
			t.Fatal(err)
		}
		g.Assert(t, id, buf.Bytes())
		if t.Failed() {
			t.Log("If the change is intended, read the diff above, then run: go test ./stacks -run TestServicesRoutingSnapshot -update")
			return
		}
	}
}
