package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// nativeRuleChanges finds the listener rules whose conditions or priority
// the deploy changes in a stack whose ECS service deploys with one of
// ECS's traffic-shifting strategies (canary, linear, blue/green). After
// such a deployment ECS has rewritten the production rule's action into a
// weighted forward to whichever target group holds the tasks, and
// CloudFormation's update of the rule writes the template's action back,
// which may send every request to the group without tasks
// (aws/aws-cdk#36649). No order of stacks makes that safe.
func (p *Plan) nativeRuleChanges() []Violation {
	var out []Violation
	for _, sp := range p.Stacks {
		if sp.Before == nil || sp.After == nil || sp.separate() || !native(sp.Before.Template) {
			continue
		}
		for _, id := range slices.Sorted(maps.Keys(sp.After.Template.Resources)) {
			after := sp.After.Template.Resources[id]
			before, ok := sp.Before.Template.Resources[id]
			if !ok || after.Type != "AWS::ElasticLoadBalancingV2::ListenerRule" || before.Type != after.Type {
				continue
			}
			for _, prop := range []string{"Conditions", "Priority"} {
				b, _ := json.Marshal(before.Properties[prop])
				a, _ := json.Marshal(after.Properties[prop])
				if string(a) != string(b) {
					out = append(out, Violation{From: sp.ID, To: sp.ID, Message: fmt.Sprintf(
						"listener rule %s changes its %s (%s -> %s) while ECS owns its weights (a native deployment strategy): CloudFormation writes the template's action back and may send every request to the target group without tasks (aws/aws-cdk#36649); route the new way through a new service entry, move the clients, then remove the old one (docs/services.md, Changing a service's routing)",
						id, prop, b, a)})
				}
			}
		}
	}
	return out
}

// native reports whether the template's ECS service deploys with a
// traffic-shifting strategy.
func native(t Template) bool {
	for _, r := range t.Resources {
		if r.Type != "AWS::ECS::Service" {
			continue
		}
		s, _ := get(r.Properties, "DeploymentConfiguration", "Strategy").(string)
		if s != "" && s != "ROLLING" {
			return true
		}
	}
	return false
}
