package plan

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Plan is the whole deploy: the stacks' plans in deploy order and what the
// invariants say about it.
type Plan struct {
	Stacks []*StackPlan
	// Violations are the invariants the deploy breaks, in one deploy.
	Violations []Violation
	// TwoSteps, when the one deploy breaks an invariant, are the stacks to
	// deploy alone first so that neither deploy breaks one; empty when no
	// such split exists.
	TwoSteps []string

	changedExports map[string]string
}

// Violation is an invariant that does not hold from one step of the
// deploy to another.
type Violation struct {
	From, To string // step labels; To is "" when it holds to the end
	Message  string
}

func (v Violation) String() string {
	if v.To == "" {
		return fmt.Sprintf("from %s on: %s", v.From, v.Message)
	}
	if v.From == v.To {
		return fmt.Sprintf("at %s: %s", v.From, v.Message)
	}
	return fmt.Sprintf("from %s to %s: %s", v.From, v.To, v.Message)
}

// statefulTypes hold data that a replacement loses.
var statefulTypes = []string{"AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::KMS::Key"}

// Check runs the invariants over every step of the deploy, and when the one
// deploy breaks one, looks for two deploys (some stacks alone first) that
// break none.
func (p *Plan) Check() {
	// A rule change under ECS's traffic shifting: no order makes it safe.
	defer func() {
		if v := p.nativeRuleChanges(); len(v) > 0 {
			p.Violations = append(p.Violations, v...)
			p.TwoSteps = nil
		}
	}()
	order := make([]int, len(p.Stacks))
	for i := range order {
		order[i] = i
	}
	p.Violations = p.simulate(order)
	if len(p.Violations) == 0 {
		return
	}
	var changed []int
	for i, sp := range p.Stacks {
		if sp.After != nil && (len(sp.Update)+len(sp.Cleanup) > 0) {
			changed = append(changed, i)
		}
	}
	// The smallest set of stacks that, deployed alone first, makes both
	// deploys safe; among sets of one size, the earliest in deploy order.
	for size := 1; size < len(changed); size++ {
		for _, first := range combinations(changed, size) {
			rest := slices.DeleteFunc(slices.Clone(order), func(i int) bool { return slices.Contains(first, i) })
			if len(p.simulate(append(slices.Clone(first), rest...))) == 0 {
				for _, i := range first {
					p.TwoSteps = append(p.TwoSteps, p.Stacks[i].ID)
				}
				return
			}
		}
	}
}

func combinations(items []int, k int) [][]int {
	if k == 0 {
		return [][]int{nil}
	}
	var out [][]int
	for i := range items {
		for _, c := range combinations(items[i+1:], k-1) {
			out = append(out, append([]int{items[i]}, c...))
		}
	}
	return out
}

// version is one physical copy of a resource.
type version struct {
	stack *worldStack
	id    string
	res   Resource
	old   bool // from the deployed template, not yet updated
}

// worldStack is one deployed CloudFormation stack during the deploy.
type worldStack struct {
	key      string
	cur      map[string]*version
	leftover map[string]*version // old copies of replaced or removed resources, until cleanup
	outputs  map[string]Output
}

type world struct {
	stacks []*worldStack
}

func newWorldStack(s *Stack, old bool) *worldStack {
	ws := &worldStack{key: s.Name + " " + s.Environment, cur: map[string]*version{}, leftover: map[string]*version{}, outputs: s.Template.Outputs}
	for id, r := range s.Template.Resources {
		ws.cur[id] = &version{stack: ws, id: id, res: r, old: old}
	}
	return ws
}

func (w *world) stack(key string) *worldStack {
	for _, ws := range w.stacks {
		if ws.key == key {
			return ws
		}
	}
	return nil
}

// export finds the output that exports name, and its stack.
func (w *world) export(name string) (*worldStack, *Output) {
	for _, ws := range w.stacks {
		for _, o := range ws.outputs {
			if o.exportName() == name {
				return ws, &o
			}
		}
	}
	return nil, nil
}

// resolve returns the resource a reference in from's properties points
// to: an old copy refers to the old copies of what it refers to while they
// exist. external is true for a literal (an existing resource outside the
// stacks, such as a looked-up subnet).
func (w *world) resolve(from *version, ws *worldStack, v any) (target *version, external bool) {
	switch v := v.(type) {
	case string:
		return nil, true
	case map[string]any:
		var rs []ref
		refs(v, nil, &rs)
		if len(rs) != 1 {
			return nil, len(rs) == 0
		}
		r := rs[0]
		if r.export != "" {
			es, o := w.export(r.export)
			if o == nil {
				return nil, false
			}
			return w.resolve(nil, es, o.Value)
		}
		if from != nil && from.old {
			if l := ws.leftover[r.target]; l != nil {
				return l, false
			}
		}
		return ws.cur[r.target], false
	}
	return nil, true
}

// all returns the stack's resources of type typ that physically exist.
func (ws *worldStack) all(typ string) []*version {
	var out []*version
	for _, m := range []map[string]*version{ws.cur, ws.leftover} {
		for _, id := range slices.Sorted(maps.Keys(m)) {
			if m[id].res.Type == typ {
				out = append(out, m[id])
			}
		}
	}
	return out
}

func (w *world) all(typ string) []*version {
	var out []*version
	for _, ws := range w.stacks {
		out = append(out, ws.all(typ)...)
	}
	return out
}

func get(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

// services returns the running ECS services: the current copies.
func (w *world) services() []*version {
	var out []*version
	for _, ws := range w.stacks {
		for _, id := range slices.Sorted(maps.Keys(ws.cur)) {
			if ws.cur[id].res.Type == "AWS::ECS::Service" {
				out = append(out, ws.cur[id])
			}
		}
	}
	return out
}

func name(v *version) string { return v.id }

// traffic checks that each service behind a load balancer is registered in
// a target group that a listener or listener rule forwards to, and that
// its tasks listen on the registered port and answer the health check's
// path there.
func (w *world) traffic() []string {
	var out []string
	for _, svc := range w.services() {
		td, _ := w.resolve(svc, svc.stack, svc.res.Properties["TaskDefinition"])
		for _, lb := range list(svc.res.Properties["LoadBalancers"]) {
			tg, external := w.resolve(svc, svc.stack, get(lb, "TargetGroupArn"))
			if external {
				continue
			}
			if tg == nil {
				out = append(out, fmt.Sprintf("service %s is registered in a target group that does not exist", name(svc)))
				continue
			}
			if !w.forwarded(tg) {
				out = append(out, fmt.Sprintf("no listener or listener rule forwards to target group %s, where service %s's tasks are registered", name(tg), name(svc)))
			}
			if td == nil {
				out = append(out, fmt.Sprintf("service %s has no task definition", name(svc)))
				continue
			}
			container, port := get(lb, "ContainerName"), fmt.Sprint(get(lb, "ContainerPort"))
			var def any
			for _, c := range list(td.res.Properties["ContainerDefinitions"]) {
				if get(c, "Name") == container {
					def = c
				}
			}
			if def == nil {
				out = append(out, fmt.Sprintf("service %s registers container %v, which task definition %s lacks", name(svc), container, name(td)))
				continue
			}
			listens := false
			for _, pm := range list(get(def, "PortMappings")) {
				listens = listens || fmt.Sprint(get(pm, "ContainerPort")) == port
			}
			if !listens {
				out = append(out, fmt.Sprintf("service %s registers port %s, on which task definition %s does not listen", name(svc), port, name(td)))
			}
			if hp, ok := tg.res.Properties["HealthCheckPort"]; ok && hp != "traffic-port" && fmt.Sprint(hp) != port {
				out = append(out, fmt.Sprintf("target group %s checks port %v, the tasks of %s listen on %s", name(tg), hp, name(svc), port))
			}
			for _, e := range list(get(def, "Environment")) {
				if get(e, "Name") == "HEALTH_CHECK_PATH" {
					if path := tg.res.Properties["HealthCheckPath"]; path != nil && path != get(e, "Value") {
						out = append(out, fmt.Sprintf("target group %s checks %v, the tasks of service %s answer %v: they turn unhealthy", name(tg), path, name(svc), get(e, "Value")))
					}
				}
			}
		}
	}
	return out
}

// forwarded reports whether a listener's default actions or a listener
// rule on an existing listener forward to tg.
func (w *world) forwarded(tg *version) bool {
	forwards := func(from *version, actions any) bool {
		for _, a := range list(actions) {
			if get(a, "Type") != "forward" {
				continue
			}
			groups := []any{get(a, "TargetGroupArn")}
			for _, g := range list(get(a, "ForwardConfig", "TargetGroups")) {
				groups = append(groups, get(g, "TargetGroupArn"))
			}
			for _, g := range groups {
				if g == nil {
					continue
				}
				if t, _ := w.resolve(from, from.stack, g); t == tg {
					return true
				}
			}
		}
		return false
	}
	for _, l := range w.all("AWS::ElasticLoadBalancingV2::Listener") {
		if forwards(l, l.res.Properties["DefaultActions"]) {
			return true
		}
	}
	for _, r := range w.all("AWS::ElasticLoadBalancingV2::ListenerRule") {
		if l, external := w.resolve(r, r.stack, r.res.Properties["ListenerArn"]); (l != nil || external) && forwards(r, r.res.Properties["Actions"]) {
			return true
		}
	}
	return false
}

// routeOut checks that each service's subnets route 0.0.0.0/0 to an
// internet gateway (with a public IP) or to a NAT gateway.
func (w *world) routeOut() []string {
	var out []string
	for _, svc := range w.services() {
		vpc := get(svc.res.Properties["NetworkConfiguration"], "AwsvpcConfiguration")
		public := get(vpc, "AssignPublicIp") == "ENABLED"
		for _, s := range list(get(vpc, "Subnets")) {
			subnet, external := w.resolve(svc, svc.stack, s)
			if external {
				continue
			}
			if subnet == nil {
				out = append(out, fmt.Sprintf("service %s runs in a subnet that does not exist", name(svc)))
				continue
			}
			if !w.hasRoute(subnet, public) {
				how := "no route to a NAT gateway"
				if public {
					how = "no route to an internet gateway or a NAT gateway"
				}
				out = append(out, fmt.Sprintf("service %s's tasks in subnet %s have %s: they cannot pull images, ship logs or call out", name(svc), name(subnet), how))
			}
		}
	}
	return out
}

func (w *world) hasRoute(subnet *version, public bool) bool {
	ws := subnet.stack
	for _, a := range ws.all("AWS::EC2::SubnetRouteTableAssociation") {
		if s, _ := w.resolve(a, ws, a.res.Properties["SubnetId"]); s != subnet {
			continue
		}
		table, _ := w.resolve(a, ws, a.res.Properties["RouteTableId"])
		if table == nil {
			continue
		}
		for _, r := range ws.all("AWS::EC2::Route") {
			if t, _ := w.resolve(r, ws, r.res.Properties["RouteTableId"]); t != table || r.res.Properties["DestinationCidrBlock"] != "0.0.0.0/0" {
				continue
			}
			if g := r.res.Properties["NatGatewayId"]; g != nil {
				if nat, _ := w.resolve(r, ws, g); nat != nil {
					return true
				}
			}
			if g := r.res.Properties["GatewayId"]; g != nil && public {
				if igw, _ := w.resolve(r, ws, g); igw != nil && igw.res.Type == "AWS::EC2::InternetGateway" {
					return true
				}
			}
		}
	}
	return false
}

// imports returns the export names the stack's resources import, with the
// first importing resource by logical id.
func (ws *worldStack) imports() map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]*version{ws.cur, ws.leftover} {
		for id, v := range m {
			var rs []ref
			refs(v.res.Properties, nil, &rs)
			for _, r := range rs {
				if r.export != "" && (out[r.export] == "" || id < out[r.export]) {
					out[r.export] = id
				}
			}
		}
	}
	return out
}

// simulate deploys the stacks in the given order (indexes into p.Stacks)
// and returns the invariants broken on the way.
func (p *Plan) simulate(order []int) []Violation {
	w := &world{}
	for _, sp := range p.Stacks {
		if sp.Before != nil {
			w.stacks = append(w.stacks, newWorldStack(sp.Before, true))
		}
	}
	var out []Violation
	active := map[string]string{} // message -> step it started at
	last := "the deployed state"
	observe := func(step string, msgs []string) {
		now := map[string]bool{}
		for _, m := range msgs {
			now[m] = true
			if _, ok := active[m]; !ok {
				active[m] = step
			}
		}
		for _, m := range slices.Sorted(maps.Keys(active)) {
			if !now[m] {
				out = append(out, Violation{From: active[m], To: last, Message: m})
				delete(active, m)
			}
		}
		last = step
	}
	state := func() []string { return append(w.traffic(), w.routeOut()...) }
	// Whatever already fails before the deploy is not the deploy's doing.
	for _, m := range state() {
		active[m] = ""
	}
	once := func(step, msg string) { out = append(out, Violation{From: step, To: step, Message: msg}) }
	step := 0
	for _, i := range order {
		sp := p.Stacks[i]
		if sp.After == nil {
			continue
		}
		key := sp.After.Name + " " + sp.After.Environment
		ws := w.stack(key)
		start := fmt.Sprintf("the start of %s", sp.ID)
		// CloudFormation refuses the whole stack update when an export that
		// another stack imports would go or change, or an import names an
		// export that does not exist.
		if ws != nil {
			for _, other := range w.stacks {
				if other == ws {
					continue
				}
				imports := other.imports()
				for _, export := range slices.Sorted(maps.Keys(imports)) {
					importer := imports[export]
					es, _ := w.export(export)
					if es != ws {
						continue
					}
					if why := p.changedExports[export]; why != "" {
						once(start, fmt.Sprintf("export %s, which %s imports (%s), is %s: CloudFormation refuses the update of %s", export, other.key, importer, why, sp.ID))
					}
				}
			}
		}
		for _, id := range slices.Sorted(maps.Keys(sp.After.Template.Resources)) {
			var rs []ref
			refs(sp.After.Template.Resources[id].Properties, nil, &rs)
			for _, x := range rs {
				if x.export == "" {
					continue
				}
				if es, _ := w.export(x.export); es == nil && !exportedBy(sp.After, x.export) {
					once(start, fmt.Sprintf("%s imports %s, which no deployed stack exports yet: CloudFormation refuses the update", sp.ID, x.export))
				}
			}
		}
		if ws == nil {
			ws = &worldStack{key: key, cur: map[string]*version{}, leftover: map[string]*version{}}
			w.stacks = append(w.stacks, ws)
		}
		ws.outputs = sp.After.Template.Outputs
		for _, c := range sp.Update {
			step++
			label := fmt.Sprintf("step %d (%s %s %s)", step, sp.ID, c.Action, c.ID)
			nr := sp.After.Template.Resources[c.ID]
			if c.Action == Replace || c.Action == Modify {
				if old := ws.cur[c.ID]; old != nil && c.Action == Replace {
					ws.leftover[c.ID] = old
				}
			}
			ws.cur[c.ID] = &version{stack: ws, id: c.ID, res: nr}
			if c.Action == Replace && slices.Contains(statefulTypes, c.Type) {
				once(label, fmt.Sprintf("%s %s is replaced: what it holds stays with the old one", c.Type, c.ID))
			}
			if c.Type == "AWS::ECS::Service" && c.Action == Modify && sp.Before != nil {
				or := sp.Before.Template.Resources[c.ID]
				if !reflect.DeepEqual(or.Properties["CapacityProviderStrategy"], nr.Properties["CapacityProviderStrategy"]) &&
					(get(nr.Properties["ForceNewDeployment"], "EnableForceNewDeployment") != true ||
						reflect.DeepEqual(get(or.Properties["ForceNewDeployment"], "ForceNewDeploymentNonce"), get(nr.Properties["ForceNewDeployment"], "ForceNewDeploymentNonce"))) {
					once(label, fmt.Sprintf("service %s changes its capacity-provider strategy without forcing a new deployment: ECS refuses the update (aws/aws-cdk#34631)", c.ID))
				}
			}
			observe(label, state())
		}
		for _, c := range sp.Cleanup {
			step++
			label := fmt.Sprintf("step %d (%s cleanup: %s %s)", step, sp.ID, c.Action, c.ID)
			if c.Action == Remove {
				delete(ws.cur, c.ID)
			}
			delete(ws.leftover, c.ID)
			observe(label, state())
		}
		for _, v := range ws.cur {
			v.old = false
		}
	}
	for _, m := range slices.Sorted(maps.Keys(active)) {
		if active[m] != "" {
			out = append(out, Violation{From: active[m], Message: m})
		}
	}
	return out
}

func exportedBy(s *Stack, export string) bool {
	for _, o := range s.Template.Outputs {
		if o.exportName() == export {
			return true
		}
	}
	return false
}

// Format prints the plan.
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
			fmt.Fprintf(&b, "  %-10s %s %s%s\n", c.Action, c.Type, c.ID, detail(c))
		}
		if len(sp.Cleanup) > 0 {
			fmt.Fprintf(&b, "  cleanup, after every update of the stack:\n")
		}
		for _, c := range sp.Cleanup {
			fmt.Fprintf(&b, "  %-10s %s %s\n", c.Action, c.Type, c.ID)
		}
	}
	switch {
	case len(p.Violations) == 0:
		b.WriteString("invariants: hold at every step\n")
	default:
		b.WriteString("invariants broken in one deploy:\n")
		for _, v := range p.Violations {
			fmt.Fprintf(&b, "  %s\n", v)
		}
		if len(p.TwoSteps) > 0 {
			fmt.Fprintf(&b, "two steps: deploy %s alone first (make deploy STACKS=\"--exclusively %s\"), then everything (make deploy); neither breaks an invariant\n",
				strings.Join(p.TwoSteps, " and "), strings.Join(p.TwoSteps, " "))
		} else {
			b.WriteString("no safe order in one or two deploys\n")
		}
	}
	return b.String()
}

func detail(c Change) string {
	var parts []string
	if len(c.Props) > 0 {
		parts = append(parts, strings.Join(c.Props, ", "))
	}
	if len(c.CreateOnly) > 0 && c.Action == Replace {
		parts = append(parts, "create-only: "+strings.Join(c.CreateOnly, ", "))
	}
	if len(c.Via) > 0 {
		parts = append(parts, "via "+strings.Join(c.Via, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, "; ") + "]"
}

// Summary is one line for the README's table: what the deploy does to the
// running service.
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
	case len(p.TwoSteps) > 0:
		s += "; two steps: " + strings.Join(p.TwoSteps, " and ") + " first, then the rest"
	default:
		s += "; breaks an invariant: " + strconv.Itoa(len(p.Violations)) + " (see the plan)"
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
func (p *Plan) RollsTasks() bool {
	for _, sp := range p.Stacks {
		if sp.separate() {
			continue
		}
		for _, c := range sp.Update {
			if c.Type != "AWS::ECS::Service" || (c.Action != Modify && c.Action != Replace) {
				continue
			}
			for _, prop := range c.Props {
				if slices.Contains(deploymentProps, prop) {
					return true
				}
			}
		}
	}
	return false
}
