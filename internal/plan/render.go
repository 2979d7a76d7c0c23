package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
)

// symbols are the actions as Terraform's plan and cdk diff print them.
var symbols = map[Action]string{Add: "+", Modify: "~", Replace: "-/+", Remove: "-", Delete: "-"}

// Format prints the plan: per stack the changes in the order
// CloudFormation makes them, a summary line, the access the change adds,
// the invariants, and what the deploy does to the running service.
func (p *Plan) Format() string {
	var b strings.Builder
	for _, sp := range p.Stacks {
		title := sp.ID
		if sp.After != nil {
			title += " (" + sp.After.Name + ")"
		}
		switch {
		case sp.Note != "" && (sp.After == nil || len(sp.Update) == 0):
			fmt.Fprintf(&b, "%s: %s\n", title, sp.Note)
			continue
		case len(sp.Update)+len(sp.Cleanup) == 0:
			fmt.Fprintf(&b, "%s: no change\n", title)
			continue
		case sp.separate():
			fmt.Fprintf(&b, "%s: %s; it adds %d resources\n", title, sp.Note, len(sp.Update))
			continue
		case sp.Note != "":
			fmt.Fprintf(&b, "%s: %s\n", title, sp.Note)
		default:
			fmt.Fprintf(&b, "%s\n", title)
		}
		for _, c := range sp.Update {
			fmt.Fprintf(&b, "  %-3s %s %s%s\n", symbols[c.Action], c.Type, c.ID, detail(c))
		}
		if len(sp.Cleanup) > 0 {
			fmt.Fprintf(&b, "  cleanup, after every update of the stack:\n")
		}
		for _, c := range sp.Cleanup {
			what := ""
			if c.Action == Delete {
				what = " (the old copy)"
			}
			fmt.Fprintf(&b, "  %-3s %s %s%s\n", symbols[c.Action], c.Type, c.ID, what)
		}
	}
	add, change, destroy := p.Counts()
	fmt.Fprintf(&b, "\nPlan: %d to add, %d to change, %d to destroy.\n", add, change, destroy)
	if access := p.AccessAdded(); len(access) > 0 {
		b.WriteString("\nAccess this adds (IAM statements and security-group rules):\n")
		for _, a := range access {
			fmt.Fprintf(&b, "  + %s\n", a)
		}
	}
	b.WriteString("\n")
	switch {
	case len(p.Violations) == 0:
		b.WriteString("Invariants: hold at every step.\n")
	default:
		b.WriteString("Invariants broken in one deploy:\n")
		for _, v := range p.Violations {
			fmt.Fprintf(&b, "  %s\n", v)
		}
		if len(p.Steps) > 0 {
			fmt.Fprintf(&b, "Safe order: %s; none breaks an invariant.\n", p.stepsText())
		} else {
			b.WriteString("No order of deploys keeps them (see by hand, below).\n")
		}
	}
	e := p.Effects()
	b.WriteString("\nFor the running service:\n")
	fmt.Fprintf(&b, "  tasks: %s\n", e.Tasks)
	fmt.Fprintf(&b, "  requests: %s\n", e.Requests)
	fmt.Fprintf(&b, "  if it fails: %s\n", e.Failure)
	if len(e.ByHand) == 0 {
		b.WriteString("  by hand: nothing\n")
	}
	for _, h := range e.ByHand {
		fmt.Fprintf(&b, "  by hand: %s\n", h)
	}
	return b.String()
}

// stepsText is the safe order as make commands.
func (p *Plan) stepsText() string {
	var out []string
	for i, g := range p.Steps {
		out = append(out, fmt.Sprintf("%d. make deploy STACKS=\"--exclusively %s\"", i+1, strings.Join(g, " ")))
	}
	return strings.Join(append(out, fmt.Sprintf("%d. make deploy", len(p.Steps)+1)), ", ")
}

func detail(c Change) string {
	var parts []string
	if len(c.Props) > 0 {
		parts = append(parts, strings.Join(c.Props, ", "))
	}
	if len(c.Via) > 0 {
		parts = append(parts, "via "+strings.Join(c.Via, ", "))
	}
	s := ""
	if len(parts) > 0 {
		s = " [" + strings.Join(parts, "; ") + "]"
	}
	if c.Action == Replace {
		s += " # forces replacement: " + strings.Join(c.CreateOnly, ", ")
	}
	return s
}

// Counts are the plan's summary as Terraform counts it: a replacement is
// one to add and one to destroy.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, sp := range p.Stacks {
		for _, c := range sp.Update {
			switch c.Action {
			case Add:
				add++
			case Modify:
				change++
			case Replace:
				add++
				destroy++
			}
		}
		for _, c := range sp.Cleanup {
			if c.Action == Remove {
				destroy++
			}
		}
	}
	return add, change, destroy
}

// Summary is one line for the table of settings: what the deploy does to
// the stacks.
func (p *Plan) Summary() string {
	var replaced []string
	stacks, separate, left := 0, 0, 0
	for _, sp := range p.Stacks {
		switch {
		case sp.After == nil:
			left++
		case sp.separate():
			separate++
			continue
		}
		if len(sp.Update)+len(sp.Cleanup) > 0 {
			stacks++
		}
		for _, c := range sp.Update {
			if c.Action == Replace {
				replaced = append(replaced, short(c.Type))
			}
		}
	}
	slices.Sort(replaced)
	replaced = slices.Compact(replaced)
	var s string
	switch {
	case separate > 0:
		s = "new stacks beside the deployed ones"
	case stacks == 0:
		s = "no change"
	case len(replaced) == 0:
		s = "in place"
	default:
		s = "replaces " + strings.Join(replaced, ", ")
	}
	if left > 0 {
		s += fmt.Sprintf("; leaves %d stack(s) deployed as they are", left)
	}
	switch {
	case len(p.Violations) == 0:
	case len(p.Steps) > 0:
		var groups []string
		for _, g := range p.Steps {
			groups = append(groups, strings.Join(g, " and "))
		}
		s += fmt.Sprintf("; %d deploys: %s, then the rest", len(p.Steps)+1, strings.Join(groups, ", then "))
	default:
		s += "; **unsafe** in any order of deploys"
	}
	return s
}

// short turns AWS::ECS::TaskDefinition into ECS TaskDefinition.
func short(typ string) string {
	parts := strings.Split(typ, "::")
	if len(parts) == 3 {
		return parts[1] + " " + parts[2]
	}
	return typ
}

// deploymentProps are the properties of an ECS service whose change starts
// a new deployment: ECS replaces every task.
var deploymentProps = []string{"TaskDefinition", "ForceNewDeployment", "NetworkConfiguration", "LoadBalancers", "CapacityProviderStrategy", "PlatformVersion"}

// RollsTasks reports whether the deploy starts a new deployment of an ECS
// service that stays in place (a new stack's service only starts).
func (p *Plan) RollsTasks() bool { return len(p.rolled()) > 0 }

// rolled returns the services (their after resources) whose update starts
// a new deployment.
func (p *Plan) rolled() []Resource {
	var out []Resource
	for _, sp := range p.Stacks {
		if sp.separate() || sp.After == nil {
			continue
		}
		for _, c := range sp.Update {
			if c.Type != "AWS::ECS::Service" || (c.Action != Modify && c.Action != Replace) {
				continue
			}
			for _, prop := range c.Props {
				if slices.Contains(deploymentProps, prop) || c.Action == Replace {
					out = append(out, sp.After.Template.Resources[c.ID])
					break
				}
			}
		}
	}
	return out
}

// spotStrategyChanges reports whether the strategy that a Spot fallback
// function applies when a stack operation ends (its SPOT_STRATEGY) changes:
// with the fallback on, the service's template carries no strategy, and
// that function's deployment replaces the tasks.
func (p *Plan) spotStrategyChanges() bool {
	for _, sp := range p.Stacks {
		if sp.Before == nil || sp.After == nil {
			continue
		}
		for _, c := range sp.Update {
			if c.Type != "AWS::Lambda::Function" || c.Action != Modify {
				continue
			}
			strategy := func(r Resource) any {
				env, _ := r.Properties["Environment"].(map[string]any)
				vars, _ := env["Variables"].(map[string]any)
				return vars["SPOT_STRATEGY"]
			}
			before, after := strategy(sp.Before.Template.Resources[c.ID]), strategy(sp.After.Template.Resources[c.ID])
			if before != nil && after != nil && !reflect.DeepEqual(before, after) {
				return true
			}
		}
	}
	return false
}

// Effects is what a deploy does to the running service, in words.
type Effects struct {
	// Tasks says whether tasks restart, and how.
	Tasks string
	// Requests says whether a request can be lost, and when.
	Requests string
	// Failure says how the deploy can fail, and how to recover.
	Failure string
	// ByHand is what must be done by hand.
	ByHand []string
}

// Effects works out what the deploy does to the running service.
func (p *Plan) Effects() Effects {
	var e Effects
	rolled := p.rolled()
	newServices := 0
	for _, sp := range p.Stacks {
		if sp.After == nil {
			continue
		}
		for _, c := range sp.Update {
			if c.Type == "AWS::ECS::Service" && c.Action == Add {
				newServices++
			}
		}
	}
	switch {
	case len(rolled) > 0:
		var how []string
		for _, svc := range rolled {
			how = append(how, deployText(svc))
		}
		e.Tasks = "every task is replaced: " + strings.Join(how, "; ")
	case p.spotStrategyChanges():
		e.Tasks = "every task is replaced after the stack update: the Spot fallback's function applies the new capacity-provider strategy with a deployment (deploymentStrategy) that CloudFormation does not wait on; during a fallback the service stays on on-demand, with the new base, until its return to Spot"
	case newServices > 0:
		e.Tasks = "a new service starts its tasks; the deployed ones keep running as they are"
	default:
		e.Tasks = "none restarts"
	}

	moves := p.listenerMoves()
	loses := slices.ContainsFunc(p.Violations, func(v Violation) bool { return v.Loses })
	switch {
	case loses && len(p.Steps) > 0:
		e.Requests = "can be lost in one deploy (see the plan's broken invariants); none in the safe order"
	case loses:
		e.Requests = "can be lost (see the plan's broken invariants)"
	case len(p.Violations) > 0 && len(p.Steps) > 0:
		e.Requests = "none is lost: in one deploy CloudFormation refuses or rolls back first; in the safe order the deploy goes through"
	case len(p.Violations) > 0:
		e.Requests = "none is lost: the deploy fails or leaves something behind first (see the plan's broken invariants)"
	case len(moves) > 0:
		e.Requests = strings.Join(moves, "; ")
	case len(rolled) > 0, p.spotStrategyChanges():
		e.Requests = "none is lost: new tasks take requests only once healthy, and the old ones drain before they stop"
	default:
		e.Requests = "none is lost: nothing that serves them changes"
	}
	if len(moves) > 0 && len(p.Violations) == 0 && len(rolled) > 0 {
		e.Requests += "; the tasks' replacement loses none"
	}

	switch {
	case len(p.Violations) > 0 && len(p.Steps) == 0:
		e.Failure = "in one deploy, as the broken invariants say; CloudFormation rolls back a stack whose update fails, but not what the deploy already did to the live rule or to requests"
	case len(p.Violations) > 0:
		e.Failure = "in one deploy, as the broken invariants say (CloudFormation refuses or rolls back the stack); in the safe order, as any deploy"
	case len(rolled) > 0:
		e.Failure = "when the new tasks do not turn healthy or a deployment alarm fires, ECS rolls the service back to the running tasks and CloudFormation rolls the stack back: fix the cause and deploy again"
	default:
		e.Failure = "a failed stack update is rolled back by CloudFormation, and the service keeps running as it is"
		if p.spotStrategyChanges() {
			e.Failure += "; the function's deployment is not CloudFormation's: if its new tasks do not turn healthy, the circuit breaker rolls it back, and the fallback's log group says so"
		}
	}

	if len(p.Steps) > 0 {
		e.ByHand = append(e.ByHand, "deploy in this order: "+p.stepsText())
	} else {
		seen := map[string]bool{}
		for _, v := range p.Violations {
			if v.Fix != "" && !seen[v.Fix] {
				seen[v.Fix] = true
				e.ByHand = append(e.ByHand, v.Fix)
			}
		}
	}
	for _, id := range p.becomeNative() {
		e.ByHand = append(e.ByHand, fmt.Sprintf("service %s becomes native: ECS takes over its production rule, which must forward to the primary group only; if it ran a native strategy before and left it without the procedure in docs/deploy-strategies.md, read the live rule (aws elbv2 describe-rules) and write the template's action back first", id))
	}
	var left, beside []string
	for _, sp := range p.Stacks {
		switch {
		case sp.After == nil:
			left = append(left, sp.Before.Name)
		case sp.separate():
			beside = append(beside, sp.Before.Name)
		}
	}
	if len(left) > 0 {
		e.ByHand = append(e.ByHand, fmt.Sprintf("the deployed %s stay as they are, and cdk destroy can no longer select them: once nothing uses them, delete them with aws cloudformation delete-stack --stack-name <name>", strings.Join(left, ", ")))
	}
	if len(beside) > 0 {
		e.ByHand = append(e.ByHand, fmt.Sprintf("the deployed %s keep running beside the new stacks: destroy them with the old settings once the new ones serve", strings.Join(beside, ", ")))
	}
	return e
}

// becomeNative returns the services that gain a native strategy (a load
// balancer entry with AdvancedConfiguration) in place.
func (p *Plan) becomeNative() []string {
	native := func(r Resource) bool {
		for _, lb := range list(r.Properties["LoadBalancers"]) {
			if get(lb, "AdvancedConfiguration") != nil {
				return true
			}
		}
		return false
	}
	var out []string
	for _, sp := range p.Stacks {
		if sp.Before == nil || sp.After == nil || sp.separate() {
			continue
		}
		for _, c := range sp.Update {
			if c.Type == "AWS::ECS::Service" && c.Action == Modify && native(sp.After.Template.Resources[c.ID]) && !native(sp.Before.Template.Resources[c.ID]) {
				out = append(out, c.ID)
			}
		}
	}
	return out
}

// deployText says how ECS deploys svc, from its DeploymentConfiguration:
// the steps and bakes, and about how long (a minute to start new tasks
// and pass the health checks, and one to drain and stop the old ones, on
// top of the bakes).
func deployText(svc Resource) string {
	dc := svc.Properties["DeploymentConfiguration"]
	num := func(v any) float64 { f, _ := v.(float64); return f }
	bake := num(get(dc, "BakeTimeInMinutes"))
	switch get(dc, "Strategy") {
	case "CANARY":
		pct, step := num(get(dc, "CanaryConfiguration", "CanaryPercent")), num(get(dc, "CanaryConfiguration", "CanaryBakeTimeInMinutes"))
		return fmt.Sprintf("a canary of about %g minutes (a full new set beside the old one gets %g %% of requests for %g minutes, then all; the old set stops %g minutes later)", 2+step+bake, pct, step, bake)
	case "LINEAR":
		pct, step := num(get(dc, "LinearConfiguration", "StepPercent")), num(get(dc, "LinearConfiguration", "StepBakeTimeInMinutes"))
		shifts := 1.0
		if pct > 0 {
			shifts = math.Ceil(100 / pct)
		}
		return fmt.Sprintf("a linear deploy of about %g minutes (a full new set beside the old one gets %g %% more of the requests every %g minutes; the old set stops %g minutes after the last shift)", 2+step*(shifts-1)+bake, pct, step, bake)
	case "BLUE_GREEN":
		return fmt.Sprintf("a blue/green deploy of about %g minutes (a full new set beside the old one gets all requests at once; the old set stops %g minutes later)", 2+bake, bake)
	}
	return "a rolling deploy of a few minutes (new tasks start beside the old ones, each taking its share of requests once healthy, and the old ones drain and stop)"
}

// listenerMoves says which listeners move to another port in place:
// requests to the old port are refused from the move until another
// listener takes it, if one does.
func (p *Plan) listenerMoves() []string {
	var out []string
	for _, sp := range p.Stacks {
		if sp.Before == nil || sp.After == nil || sp.separate() {
			continue
		}
		for _, c := range sp.Update {
			if c.Type != "AWS::ElasticLoadBalancingV2::Listener" || c.Action != Modify || !slices.Contains(c.Props, "Port") {
				continue
			}
			from := sp.Before.Template.Resources[c.ID].Properties["Port"]
			taken := ""
			for _, d := range sp.Update {
				if d.Type == c.Type && d.Action == Add && fmt.Sprint(sp.After.Template.Resources[d.ID].Properties["Port"]) == fmt.Sprint(from) {
					taken = fmt.Sprintf(" until listener %s takes it, seconds later", d.ID)
				}
			}
			out = append(out, fmt.Sprintf("port %v refuses connections from listener %s's move to port %v%s", from, c.ID, sp.After.Template.Resources[c.ID].Properties["Port"], taken))
		}
	}
	return out
}

// AccessAdded lists the IAM statements (in policies, roles' trust and
// resource policies) and the security-group rules that the after
// assembly has and the before one does not, as cdk diff does: a deploy
// with --require-approval never shows them nowhere else.
func (p *Plan) AccessAdded() []string {
	var out []string
	for _, sp := range p.Stacks {
		if sp.After == nil {
			continue
		}
		had := map[string]bool{}
		if sp.Before != nil && !sp.separate() {
			for _, g := range grants(sp.Before.Template) {
				had[g] = true
			}
		}
		for _, g := range grants(sp.After.Template) {
			if !had[g] {
				out = append(out, sp.ID+" "+g)
			}
		}
	}
	return out
}

// grants renders a template's IAM statements and security-group rules,
// one a line, each with the resource that holds it.
func grants(t Template) []string {
	var out []string
	statements := func(id, what string, doc any) {
		st := get(doc, "Statement")
		l, ok := st.([]any)
		if !ok && st != nil {
			l = []any{st}
		}
		for _, s := range l {
			out = append(out, fmt.Sprintf("%s %s: %s", id, what, statementText(s)))
		}
	}
	rule := func(id, dir string, r any) {
		var parts []string
		parts = append(parts, dir, fmt.Sprint(show(get(r, "IpProtocol"))))
		if from, to := get(r, "FromPort"), get(r, "ToPort"); from != nil {
			ports := show(from)
			if to != nil && show(to) != ports {
				ports += "-" + show(to)
			}
			parts = append(parts, ports)
		}
		peer := "from"
		if dir == "egress" {
			peer = "to"
		}
		for _, k := range []string{"CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId", "SourcePrefixListId", "DestinationPrefixListId"} {
			if v := get(r, k); v != nil {
				parts = append(parts, peer, show(v))
			}
		}
		if g := get(r, "GroupId"); g != nil {
			parts = append(parts, "on", show(g))
		}
		out = append(out, fmt.Sprintf("%s security group: %s", id, strings.Join(parts, " ")))
	}
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		pr := r.Properties
		switch r.Type {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			statements(id, "policy", pr["PolicyDocument"])
		case "AWS::KMS::Key":
			statements(id, "key policy", pr["KeyPolicy"])
		case "AWS::IAM::Role":
			statements(id, "trust", pr["AssumeRolePolicyDocument"])
			for _, pol := range list(pr["Policies"]) {
				statements(id, "inline policy", get(pol, "PolicyDocument"))
			}
			for _, m := range list(pr["ManagedPolicyArns"]) {
				out = append(out, fmt.Sprintf("%s managed policy: %s", id, show(m)))
			}
		case "AWS::Lambda::Permission":
			out = append(out, fmt.Sprintf("%s permission: %s may %s on %s", id, show(pr["Principal"]), show(pr["Action"]), show(pr["FunctionName"])))
		case "AWS::EC2::SecurityGroup":
			for _, in := range list(pr["SecurityGroupIngress"]) {
				rule(id, "ingress", in)
			}
			for _, eg := range list(pr["SecurityGroupEgress"]) {
				rule(id, "egress", eg)
			}
		case "AWS::EC2::SecurityGroupIngress":
			rule(id, "ingress", pr)
		case "AWS::EC2::SecurityGroupEgress":
			rule(id, "egress", pr)
		}
	}
	return out
}

// statementText renders one IAM statement: effect, principal, actions,
// resources and conditions.
func statementText(s any) string {
	parts := []string{fmt.Sprint(get(s, "Effect"))}
	if pr := get(s, "Principal"); pr != nil {
		parts = append(parts, "principal "+showJSON(pr))
	}
	for _, k := range []string{"Action", "NotAction"} {
		if a := get(s, k); a != nil {
			parts = append(parts, strings.ToLower(k[:1])+k[1:]+" "+show(a))
		}
	}
	for _, k := range []string{"Resource", "NotResource"} {
		if r := get(s, k); r != nil {
			parts = append(parts, "on "+show(r))
		}
	}
	if c := get(s, "Condition"); c != nil {
		parts = append(parts, "if "+showJSON(c))
	}
	return strings.Join(parts, " ")
}

// show renders a template value as cdk diff does: ${Logical.Attr} for
// references, the joined parts of Fn::Join.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		var parts []string
		for _, e := range v {
			parts = append(parts, show(e))
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				switch k {
				case "Ref":
					return "${" + fmt.Sprint(arg) + "}"
				case "Fn::GetAtt":
					if a, ok := arg.([]any); ok {
						var parts []string
						for _, e := range a {
							parts = append(parts, fmt.Sprint(e))
						}
						return "${" + strings.Join(parts, ".") + "}"
					}
					return "${" + fmt.Sprint(arg) + "}"
				case "Fn::ImportValue":
					return "${import " + show(arg) + "}"
				case "Fn::Join":
					if a, ok := arg.([]any); ok && len(a) == 2 {
						var parts []string
						for _, e := range list(a[1]) {
							parts = append(parts, show(e))
						}
						return strings.Join(parts, fmt.Sprint(a[0]))
					}
				case "Fn::Sub":
					if s, ok := arg.(string); ok {
						return s
					}
				}
			}
		}
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// showJSON renders a structure with its references as show does, as JSON.
func showJSON(v any) string {
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 1 {
				for k := range v {
					if k == "Ref" || strings.HasPrefix(k, "Fn::") {
						return show(v)
					}
				}
			}
			out := map[string]any{}
			for k, e := range v {
				out[k] = walk(e)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = walk(e)
			}
			return out
		}
		return v
	}
	if s, ok := v.(string); ok {
		return s
	}
	data, _ := json.Marshal(walk(v))
	return string(data)
}
