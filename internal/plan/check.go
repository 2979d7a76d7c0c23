package plan

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Plan is the whole deploy: the stacks' plans in deploy order and what the
// invariants say about it.
type Plan struct {
	Stacks []*StackPlan
	// Violations are the invariants the deploy breaks, in one deploy.
	Violations []Violation
	// Steps, when the one deploy breaks an invariant, are the groups of
	// stacks to deploy alone first, in order, before the deploy of
	// everything, so that no deploy breaks one; empty when no such order
	// exists.
	Steps [][]string

	changedExports map[string]string
}

// Violation is an invariant that does not hold from one step of the
// deploy to another.
type Violation struct {
	From, To string // step labels; To is "" when it holds to the end
	Message  string
	// Fix is what to do instead, when no order of deploys avoids it.
	Fix string
	// Loses is true when requests fail while it holds; otherwise the
	// deploy fails, or leaves something behind, before any does.
	Loses bool
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
	// The fewest deploys: groups of stacks deployed alone first, in order,
	// then everything; among orders of one length, the first found, groups
	// in deploy order. cdk deploy --exclusively deploys a group's stacks in
	// dependency order, as the group lists them.
	for n := 1; n < len(changed); n++ {
		for _, groups := range orderedGroups(changed, n) {
			var seq []int
			for _, g := range groups {
				seq = append(seq, g...)
			}
			rest := slices.DeleteFunc(slices.Clone(order), func(i int) bool { return slices.Contains(seq, i) })
			if len(p.simulate(append(seq, rest...))) == 0 {
				for _, g := range groups {
					var ids []string
					for _, i := range g {
						ids = append(ids, p.Stacks[i].ID)
					}
					p.Steps = append(p.Steps, ids)
				}
				return
			}
		}
	}
}

// orderedGroups returns the sequences of n disjoint, non-empty groups of
// items (each group in the items' order) that leave at least one item for
// the last deploy or not: every way to deploy some stacks alone, in n
// deploys, before the rest.
func orderedGroups(items []int, n int) [][][]int {
	if n == 0 {
		return [][][]int{nil}
	}
	var out [][][]int
	for size := 1; size <= len(items); size++ {
		for _, first := range combinations(items, size) {
			rest := slices.DeleteFunc(slices.Clone(items), func(i int) bool { return slices.Contains(first, i) })
			for _, more := range orderedGroups(rest, n-1) {
				out = append(out, append([][]int{first}, more...))
			}
		}
	}
	return out
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
	// live holds the listener rules whose action ECS owns, with the target
	// groups the live rule may forward to (see ecs.go).
	live map[*version][]*version
	// fixes say what to do instead of a broken invariant, by message.
	fixes map[string]string
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
						m := fmt.Sprintf("target group %s checks %v, the tasks of service %s answer %v: they turn unhealthy", name(tg), path, name(svc), get(e, "Value"))
						out = append(out, m)
						w.fixes[m] = fmt.Sprintf("no order of deploys avoids it: first deploy an app that answers both %v and %v (with the health path unchanged), then change the path (docs/deploy-strategies.md, Changing healthCheckPath)", get(e, "Value"), path)
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
	for _, l := range w.all("AWS::ElasticLoadBalancingV2::Listener") {
		if w.actionsForward(l, l.res.Properties["DefaultActions"], tg) {
			return true
		}
	}
	for _, r := range w.all("AWS::ElasticLoadBalancingV2::ListenerRule") {
		if l, external := w.resolve(r, r.stack, r.res.Properties["ListenerArn"]); (l != nil || external) && w.actionsForward(r, r.res.Properties["Actions"], tg) {
			return true
		}
	}
	return false
}

// actionsForward reports whether from's actions forward to tg.
func (w *world) actionsForward(from *version, actions any, tg *version) bool {
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
	w := &world{fixes: map[string]string{}}
	for _, sp := range p.Stacks {
		if sp.Before != nil {
			w.stacks = append(w.stacks, newWorldStack(sp.Before, true))
		}
	}
	w.own()
	var out []Violation
	fixes := map[string]string{}  // message -> what to do instead
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
				out = append(out, Violation{From: active[m], To: last, Message: m, Fix: fixes[m], Loses: true})
				delete(active, m)
			}
		}
		last = step
	}
	state := func() []string {
		msgs := slices.Concat(w.traffic(), w.routeOut(), w.zones())
		for m, fix := range w.liveTraffic() {
			msgs = append(msgs, m)
			fixes[m] = fix
		}
		maps.Copy(fixes, w.fixes)
		return msgs
	}
	// Whatever already fails before the deploy is not the deploy's doing.
	for _, m := range state() {
		active[m] = ""
	}
	once := func(step, msg string, fix ...string) {
		out = append(out, Violation{From: step, To: step, Message: msg, Fix: strings.Join(fix, "")})
	}
	losing := func(step, msg, fix string) {
		out = append(out, Violation{From: step, To: step, Message: msg, Fix: fix, Loses: true})
	}
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
						once(start, fmt.Sprintf("export %s, which %s imports (%s), is %s: CloudFormation refuses the update of %s", export, other.key, importer, why, sp.ID),
							fmt.Sprintf("no order of deploys avoids it: %s must stop importing %s before %s changes it, or be destroyed and deployed again after it", other.key, export, sp.ID))
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
					once(start, fmt.Sprintf("%s imports %s, which no deployed stack exports yet: CloudFormation refuses the update", sp.ID, x.export),
						fmt.Sprintf("deploy the stack that exports %s first", x.export))
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
			old := ws.cur[c.ID]
			if c.Action == Modify && old != nil {
				// The same physical resource, with the new properties.
				old.res, old.old = nr, false
			} else {
				if c.Action == Replace && old != nil {
					ws.leftover[c.ID] = old
				}
				ws.cur[c.ID] = &version{stack: ws, id: c.ID, res: nr}
			}
			if msg, fix := w.updatesOwnedRule(old, c); msg != "" {
				losing(label, msg, fix)
			}
			if msg, fix := w.portTaken(ws.cur[c.ID]); msg != "" {
				once(label, msg, fix)
			}
			if c.Action == Replace && slices.Contains(statefulTypes, c.Type) {
				once(label, fmt.Sprintf("%s %s is replaced: what it holds stays with the old one", c.Type, c.ID))
			}
			if c.Type == "AWS::ECS::Service" && c.Action == Modify && sp.Before != nil {
				or := sp.Before.Template.Resources[c.ID]
				// A template without the strategy sends none (the note on
				// CapacityProviderStrategy in the AWS::ECS::Service
				// reference): only a strategy that is sent and differs
				// needs the forced deployment.
				if nr.Properties["CapacityProviderStrategy"] != nil &&
					!reflect.DeepEqual(or.Properties["CapacityProviderStrategy"], nr.Properties["CapacityProviderStrategy"]) &&
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
			gone := ws.leftover[c.ID]
			if c.Action == Remove {
				gone = ws.cur[c.ID]
			}
			if msg, fix := w.deletesForwarded(gone); msg != "" {
				// The delete fails: the group stays, outside the stack.
				once(label, msg, fix)
				delete(ws.cur, c.ID)
				ws.leftover[c.ID] = gone
				observe(label, state())
				continue
			}
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
			out = append(out, Violation{From: active[m], Message: m, Fix: fixes[m], Loses: true})
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
