package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// What ECS owns. A service deployed with one of ECS's own traffic-shifting
// strategies (canary, linear, blue/green: a load balancer entry with
// AdvancedConfiguration) has a production and a test listener rule whose
// actions ECS rewrites on every deployment into a weighted forward over
// the service's two target groups (go-to-k/cdk-real-drift#1730 shows one
// after a deploy: green=100, blue=0). Which group holds the weight after
// the last deployment cannot be known from the templates, and ECS does not
// check it before it starts the next one (aws/containers-roadmap#2853). So
// from the deployed state on, such a rule may send every request to either
// group, and:
//   - a CloudFormation update of the rule writes the template's action
//     back over ECS's (aws/aws-cdk#36649): whatever changes it (its
//     conditions, its priority, a new rendering of its action by a CDK
//     upgrade, or a target group it names being replaced);
//   - a group the live rule still names cannot be deleted (ResourceInUse);
//     in a stack's cleanup CloudFormation then skips the group, leaves it
//     behind and still completes the update (aws/aws-cdk-cli#1564);
//   - a group the live rule may send everything to must keep the tasks.
// A change that makes no API call on the rule (its DependsOn) is none of
// these.

// checkLiveRule is the procedure that makes the live rule the template's
// again: the weight on the group the template names, and no other group.
const checkLiveRule = "before the deploy, make live-rule reads the live rule (aws elbv2 describe-rules); " +
	"if the weight is on the alternate group, deploy one more release with the strategy unchanged (each native release moves the traffic to the other group; aws ecs update-service --force-new-deployment does it without a change) and read it again; " +
	"once the primary group (the one the template's action names) has all the weight, make live-rule FIX=1 writes the template's action back (aws elbv2 modify-rule), which moves no request; then deploy (docs/deploy-strategies.md, Leaving a native strategy)"

// nativeTargets are a service's ECS-owned rules and its two target groups,
// when it deploys with a native strategy.
func (w *world) nativeTargets(svc *version) (rules, groups []*version) {
	for _, lb := range list(svc.res.Properties["LoadBalancers"]) {
		adv := get(lb, "AdvancedConfiguration")
		if adv == nil {
			continue
		}
		for _, k := range []string{"ProductionListenerRule", "TestListenerRule"} {
			if r, _ := w.resolve(svc, svc.stack, get(adv, k)); r != nil {
				rules = append(rules, r)
			}
		}
		for _, g := range []any{get(lb, "TargetGroupArn"), get(adv, "AlternateTargetGroupArn")} {
			if tg, _ := w.resolve(svc, svc.stack, g); tg != nil {
				groups = append(groups, tg)
			}
		}
	}
	return rules, groups
}

// own marks the rules of the deployed native services as ECS's: the live
// rule may forward to either of the service's groups.
func (w *world) own() {
	w.live = map[*version][]*version{}
	for _, svc := range w.services() {
		rules, groups := w.nativeTargets(svc)
		for _, r := range rules {
			w.live[r] = groups
		}
	}
}

func (w *world) exists(v *version) bool {
	return v != nil && (v.stack.cur[v.id] == v || v.stack.leftover[v.id] == v)
}

// updatesOwnedRule says what updating old (the resource before change c)
// does when ECS owns it.
func (w *world) updatesOwnedRule(old *version, c Change) (msg, fix string) {
	groups, owned := w.live[old]
	if !owned || (c.Action != Modify && c.Action != Replace) {
		return "", ""
	}
	verb := map[Action]string{Modify: "updates", Replace: "replaces"}[c.Action]
	why := fmt.Sprintf("its %v change", c.Props)
	if len(c.Via) > 0 {
		why += fmt.Sprintf(" (through %v)", c.Via)
	}
	if c.Action == Modify {
		// CloudFormation has written the template's action: the live rule
		// is the template's now.
		delete(w.live, old)
	}
	return fmt.Sprintf("CloudFormation %s listener rule %s for %s, but ECS owns its action (a weighted forward over %s after any native deploy): the template's action replaces ECS's, and if the last deploy left the weight on the group the template does not name, every request goes to the group without tasks (aws/aws-cdk#36649)",
			verb, old.id, why, names(groups)),
		"no order of deploys avoids it: " + checkLiveRule
}

// deletesForwarded says what deleting v does when a live rule that ECS
// owns may still forward to it.
func (w *world) deletesForwarded(v *version) (msg, fix string) {
	if v == nil || v.res.Type != "AWS::ElasticLoadBalancingV2::TargetGroup" {
		return "", ""
	}
	for _, r := range slices.SortedFunc(maps.Keys(w.live), byID) {
		if w.exists(r) && slices.Contains(w.live[r], v) {
			return fmt.Sprintf("CloudFormation deletes target group %s while the live listener rule %s may still forward to it (ECS wrote its action): the delete fails with ResourceInUse, and in the cleanup CloudFormation leaves the group behind and reports success", v.id, r.id),
				"no order of deploys avoids it: " + checkLiveRule
		}
	}
	return "", ""
}

// liveTraffic checks that every group a live ECS-owned rule may send all
// requests to keeps the tasks of a service: its own or its alternate group.
func (w *world) liveTraffic() map[string]string {
	covered := map[*version]bool{}
	for _, svc := range w.services() {
		for _, lb := range list(svc.res.Properties["LoadBalancers"]) {
			for _, g := range []any{get(lb, "TargetGroupArn"), get(lb, "AdvancedConfiguration", "AlternateTargetGroupArn")} {
				if tg, _ := w.resolve(svc, svc.stack, g); tg != nil {
					covered[tg] = true
				}
			}
		}
	}
	out := map[string]string{}
	for _, r := range slices.SortedFunc(maps.Keys(w.live), byID) {
		if !w.exists(r) {
			continue
		}
		for _, g := range w.live[r] {
			if w.exists(g) && !covered[g] {
				out[fmt.Sprintf("the live listener rule %s may send every request it matches to target group %s (ECS's last deploy may have left the weight there), where no service's tasks are registered: every request fails (503)", r.id, g.id)] = "no order of deploys avoids it: " + checkLiveRule
			}
		}
	}
	return out
}

func byID(a, b *version) int {
	if a.stack.key != b.stack.key {
		return cmpString(a.stack.key, b.stack.key)
	}
	return cmpString(a.id, b.id)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func names(vs []*version) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.id)
	}
	return fmt.Sprint(out)
}

// portTaken says what creating or updating listener v does when another
// listener of its load balancer holds its port: ELB refuses it
// (DuplicateListener) and CloudFormation rolls the stack back.
func (w *world) portTaken(v *version) (msg, fix string) {
	if v == nil || v.res.Type != "AWS::ElasticLoadBalancingV2::Listener" {
		return "", ""
	}
	lb, _ := w.resolve(v, v.stack, v.res.Properties["LoadBalancerArn"])
	if lb == nil {
		return "", ""
	}
	for _, l := range w.all("AWS::ElasticLoadBalancingV2::Listener") {
		if l == v || fmt.Sprint(l.res.Properties["Port"]) != fmt.Sprint(v.res.Properties["Port"]) {
			continue
		}
		if other, _ := w.resolve(l, l.stack, l.res.Properties["LoadBalancerArn"]); other == lb {
			return fmt.Sprintf("listener %s takes port %v while listener %s still holds it (CloudFormation deletes %s only in the cleanup): the load balancer refuses it (DuplicateListener) and CloudFormation rolls the stack back", v.id, v.res.Properties["Port"], l.id, l.id),
				fmt.Sprintf("no order of deploys avoids it within one stack: delete listener %s by hand first (aws elbv2 delete-listener --listener-arn <its ARN>; port %v refuses connections until the deploy moves %s there), then deploy; CloudFormation's own delete of it in the cleanup finds it gone, and a failed cleanup delete would not fail the update either (aws/aws-cdk-cli#1564)", l.id, v.res.Properties["Port"], v.id)
		}
	}
	return "", ""
}

// zones checks that each service behind a load balancer runs its tasks
// only in availability zones the load balancer serves: a target in a zone
// the load balancer has left gets no requests (lost capacity; all of it if
// every task is there).
func (w *world) zones() []string {
	var out []string
	for _, svc := range w.services() {
		lbs := w.loadBalancersOf(svc)
		if len(lbs) == 0 {
			continue
		}
		for _, s := range list(get(svc.res.Properties["NetworkConfiguration"], "AwsvpcConfiguration", "Subnets")) {
			subnet, _ := w.resolve(svc, svc.stack, s)
			if subnet == nil || subnet.res.Properties["AvailabilityZone"] == nil {
				continue
			}
			az := key(subnet.res.Properties["AvailabilityZone"])
			for _, lb := range lbs {
				if served := w.lbZones(lb); served != nil && !served[az] {
					out = append(out, fmt.Sprintf("service %s runs tasks in subnet %s, in an availability zone load balancer %s no longer serves: they get no requests (lost capacity, all of it if every task is there)", name(svc), name(subnet), name(lb)))
				}
			}
		}
	}
	return out
}

// key is a value's JSON, to compare intrinsics such as an AZ's Fn::Select.
func key(v any) string { data, _ := json.Marshal(v); return string(data) }

// lbZones returns the AZs of a load balancer's subnets, or nil when one of
// them is unknown (an existing subnet named by id).
func (w *world) lbZones(lb *version) map[string]bool {
	out := map[string]bool{}
	for _, s := range list(lb.res.Properties["Subnets"]) {
		subnet, _ := w.resolve(lb, lb.stack, s)
		if subnet == nil || subnet.res.Properties["AvailabilityZone"] == nil {
			return nil
		}
		out[key(subnet.res.Properties["AvailabilityZone"])] = true
	}
	return out
}

// loadBalancersOf follows a service's target groups to the listeners and
// rules that forward to them, and those to their load balancers.
func (w *world) loadBalancersOf(svc *version) []*version {
	var out []*version
	add := func(l *version) {
		if l == nil {
			return
		}
		if lb, _ := w.resolve(l, l.stack, l.res.Properties["LoadBalancerArn"]); lb != nil && !slices.Contains(out, lb) {
			out = append(out, lb)
		}
	}
	for _, lbEntry := range list(svc.res.Properties["LoadBalancers"]) {
		tg, _ := w.resolve(svc, svc.stack, get(lbEntry, "TargetGroupArn"))
		if tg == nil {
			continue
		}
		for _, l := range w.all("AWS::ElasticLoadBalancingV2::Listener") {
			if w.actionsForward(l, l.res.Properties["DefaultActions"], tg) {
				add(l)
			}
		}
		for _, r := range w.all("AWS::ElasticLoadBalancingV2::ListenerRule") {
			if w.actionsForward(r, r.res.Properties["Actions"], tg) {
				l, _ := w.resolve(r, r.stack, r.res.Properties["ListenerArn"])
				add(l)
			}
		}
	}
	return out
}

// Destroy checks the order in which deleting the assembly's stacks
// deletes their resources: CloudFormation deletes a resource only after
// everything that refers to it or depends on it, and the rest in any
// order. A target group that a live rule ECS owns may forward to must
// therefore be something the rule depends on, or the group's delete can
// come first and fail (ResourceInUse), failing the stack's deletion.
func Destroy(a *Assembly) []Violation {
	w := &world{}
	for _, s := range a.Stacks {
		w.stacks = append(w.stacks, newWorldStack(s, false))
	}
	w.own()
	var out []Violation
	for _, r := range slices.SortedFunc(maps.Keys(w.live), byID) {
		for _, g := range w.live[r] {
			if g.stack == r.stack && !dependsOn(r.stack, r.id, g.id) {
				out = append(out, Violation{From: "cdk destroy", To: "cdk destroy",
					Message: fmt.Sprintf("listener rule %s does not depend on target group %s, to which the live rule may forward after a native deploy: CloudFormation may delete the group first, which fails (ResourceInUse) and fails the stack's deletion", r.id, g.id),
					Fix:     fmt.Sprintf("make %s depend on %s (a DependsOn makes no API call on the rule, so adding it is a safe change)", r.id, g.id)})
			}
		}
	}
	return out
}

// dependsOn reports whether resource from depends on to in ws's template,
// directly or through other resources.
func dependsOn(ws *worldStack, from, to string) bool {
	seen := map[string]bool{}
	var walk func(id string) bool
	walk = func(id string) bool {
		if seen[id] {
			return false
		}
		seen[id] = true
		v := ws.cur[id]
		if v == nil {
			return false
		}
		for _, d := range deps(v.res) {
			if d == to || walk(d) {
				return true
			}
		}
		return false
	}
	return walk(from)
}
