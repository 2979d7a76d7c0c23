// Package snapshot summarizes how the reviewed snapshots of a deployment
// (stacks/testdata/deployment: a template per stack and contract.json)
// changed, per stack, as cdk diff or Terraform's plan do: the resources
// added, removed, replaced and changed, each changed value with its old and
// new value, and, counted on one line, the changes that only rename
// (appName in export names, resource names and tags). make snapshots prints
// it before pointing at the raw diff.
//
// Which changes replace a resource comes from internal/plan (Diff), which
// reads the create-only properties from the CloudFormation resource
// schemas that cfn-lint ships; without them the summary says it cannot
// tell.
package snapshot

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/fargo-cdk/fargo/internal/plan"
)

// Dir is one directory of snapshots.
type Dir struct {
	// Stacks are the templates by stack id (the file name without
	// .template.json), as parsed JSON.
	Stacks map[string]map[string]any
	// Contract is contract.json, or nil.
	Contract map[string]any
}

// Load reads the snapshots in dir; a directory that does not exist has
// none (the first make snapshots).
func Load(dir string) (*Dir, error) {
	d := &Dir{Stacks: map[string]map[string]any{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		name := filepath.Base(f)
		switch {
		case name == "contract.json":
			d.Contract = v
		case strings.HasSuffix(name, ".template.json"):
			d.Stacks[strings.TrimSuffix(name, ".template.json")] = v
		}
	}
	return d, nil
}

// appName is the contract's appName, or "".
func (d *Dir) appName() string {
	s, _ := d.Contract["appName"].(string)
	return s
}

// Summary tells how after differs from before. schemas loads the
// CloudFormation resource schemas (plan.SchemaCache); nil when there are
// none, and then the summary cannot tell a replacement from a change.
func Summary(before, after *Dir, schemas func(region string) (*plan.Schemas, error)) (string, error) {
	var b strings.Builder
	r := renamer{old: before.appName(), new: after.appName()}
	if r.old == r.new || r.old == "" || r.new == "" {
		r = renamer{}
	}
	for _, c := range diff(before.Contract, after.Contract, "", r) {
		if !c.rename {
			fmt.Fprintf(&b, "contract.json: %s\n", c)
		}
	}
	if r.old != "" {
		fmt.Fprintf(&b, "appName %s -> %s: make deploy creates new stacks under the new name beside the deployed ones, which stay until make destroy under the old name. What differs besides the name:\n", r.old, r.new)
	}
	replaced, err := replacements(before, after, r, schemas)
	if err != nil {
		return "", err
	}
	var totals [5]int // add, change, replace, remove, renamed values
	for _, id := range stackOrder(before, after) {
		s := summarizeStack(before.Stacks[id], after.Stacks[id], r, replaced[id])
		for i := range totals {
			totals[i] += s.counts[i]
		}
		if s.text != "" {
			b.WriteString(id + ": " + s.text)
		}
	}
	fmt.Fprintf(&b, "Snapshots: %d to add, %d to change, %d to replace, %d to remove", totals[0], totals[1], totals[2], totals[3])
	if r.old != "" {
		fmt.Fprintf(&b, "; %d values renamed only (appName %s -> %s: export names, resource names, tags)", totals[4], r.old, r.new)
	}
	b.WriteString(".\n")
	if schemas == nil {
		b.WriteString("Replacements not shown: that needs the resource schemas that cfn-lint ships (make test-tools).\n")
	}
	return b.String(), nil
}

// stackSummary is one stack's part of the summary.
type stackSummary struct {
	text   string
	counts [5]int
}

// maxValues is how many changed values a resource lists before "and N
// more".
const maxValues = 12

func summarizeStack(before, after map[string]any, r renamer, replaced map[string]plan.Change) stackSummary {
	var s stackSummary
	var lines []string
	switch {
	case before == nil:
		for _, r := range section(after, "Resources") {
			if resourceType(r.(map[string]any)) != "AWS::CDK::Metadata" {
				s.counts[0]++
			}
		}
		s.text = fmt.Sprintf("new stack, %d resources\n", s.counts[0])
		return s
	case after == nil:
		s.text = "no longer in the app (cdk deploy leaves the deployed stack; cdk destroy removes it)\n"
		return s
	}
	bres, ares := section(before, "Resources"), section(after, "Resources")
	ids := slices.Sorted(maps.Keys(union(bres, ares)))
	renamedOnly := 0
	for _, id := range ids {
		br, _ := bres[id].(map[string]any)
		ar, _ := ares[id].(map[string]any)
		typ := resourceType(ar, br)
		if typ == "AWS::CDK::Metadata" {
			continue
		}
		switch {
		case br == nil:
			s.counts[0]++
			lines = append(lines, fmt.Sprintf("  + %s %s", id, typ))
			continue
		case ar == nil:
			s.counts[3]++
			lines = append(lines, fmt.Sprintf("  - %s %s", id, typ))
			continue
		}
		changes := diff(br, ar, "", r)
		var real []change
		for _, c := range changes {
			if c.rename {
				s.counts[4]++
			} else {
				real = append(real, c)
			}
		}
		pc, planned := replaced[id]
		switch {
		case planned && pc.Action == plan.Replace:
			s.counts[2]++
			why := "replaced: " + strings.Join(pc.CreateOnly, ", ") + " cannot change in place"
			lines = append(lines, fmt.Sprintf("  -/+ %s %s %s", id, typ, why))
		case len(real) > 0 || planned && len(pc.Via) > 0:
			s.counts[1]++
			line := fmt.Sprintf("  ~ %s %s", id, typ)
			if planned && len(pc.Via) > 0 {
				line += " (follows " + strings.Join(pc.Via, ", ") + ")"
			}
			lines = append(lines, line)
		default:
			if len(changes) > 0 {
				renamedOnly++
			}
			continue
		}
		for i, c := range real {
			if i == maxValues {
				lines = append(lines, fmt.Sprintf("      and %d more", len(real)-maxValues))
				break
			}
			lines = append(lines, "      "+c.String())
		}
	}
	for _, name := range []string{"Outputs", "Parameters", "Conditions", "Mappings", "Rules"} {
		for _, c := range diff(section(before, name), section(after, name), name, r) {
			if c.rename {
				s.counts[4]++
				continue
			}
			lines = append(lines, "  "+c.String())
		}
	}
	if len(lines) == 0 && renamedOnly == 0 && s.text == "" {
		return s
	}
	head := fmt.Sprintf("%d to add, %d to change, %d to replace, %d to remove", s.counts[0], s.counts[1], s.counts[2], s.counts[3])
	if renamedOnly > 0 {
		head += fmt.Sprintf("; renamed only: %d", renamedOnly)
	}
	s.text += head + "\n"
	for _, l := range lines {
		s.text += l + "\n"
	}
	return s
}

// replacements asks internal/plan which resources the change replaces,
// and which change only because something they refer to is replaced. The
// before templates are renamed first: a new appName makes new stacks, so
// only what differs besides the name can replace anything.
func replacements(before, after *Dir, r renamer, schemas func(string) (*plan.Schemas, error)) (map[string]map[string]plan.Change, error) {
	out := map[string]map[string]plan.Change{}
	if schemas == nil {
		return out, nil
	}
	renamed := &Dir{Stacks: map[string]map[string]any{}}
	for id, tpl := range before.Stacks {
		renamed.Stacks[id] = r.apply(tpl).(map[string]any)
	}
	p, err := plan.Diff(assembly(renamed), assembly(after), schemas)
	if err != nil {
		return nil, err
	}
	for _, sp := range p.Stacks {
		out[sp.ID] = map[string]plan.Change{}
		for _, c := range sp.Update {
			out[sp.ID][c.ID] = c
		}
	}
	return out, nil
}

// assembly is d as internal/plan reads a cloud assembly: the stacks in
// the order their exports and imports give (no manifest is kept with the
// snapshots), environment-agnostic, which makes plan read the schemas of
// us-east-1, the region that has every type.
func assembly(d *Dir) *plan.Assembly {
	exporter := map[string]string{}
	for id, tpl := range d.Stacks {
		for _, o := range section(tpl, "Outputs") {
			if name, ok := nested(o, "Export", "Name").(string); ok {
				exporter[name] = id
			}
		}
	}
	a := &plan.Assembly{}
	for _, id := range slices.Sorted(maps.Keys(d.Stacks)) {
		data, _ := json.Marshal(d.Stacks[id])
		s := &plan.Stack{ID: id}
		json.Unmarshal(data, &s.Template)
		deps := map[string]bool{}
		walk(d.Stacks[id], func(m map[string]any) {
			if name, ok := m["Fn::ImportValue"].(string); ok && exporter[name] != "" && exporter[name] != id {
				deps[exporter[name]] = true
			}
		})
		s.DependsOn = slices.Sorted(maps.Keys(deps))
		a.Stacks = append(a.Stacks, s)
	}
	return a
}

// stackOrder lists the stacks of both: those that import first after
// those they import from, as far as that orders them, else by name.
func stackOrder(before, after *Dir) []string {
	deps := map[string][]string{}
	for _, d := range []*Dir{before, after} {
		for _, s := range assembly(d).Stacks {
			deps[s.ID] = append(deps[s.ID], s.DependsOn...)
		}
	}
	var out []string
	done := map[string]bool{}
	var visit func(id string, seen map[string]bool)
	visit = func(id string, seen map[string]bool) {
		if done[id] || seen[id] {
			return
		}
		seen[id] = true
		for _, d := range slices.Sorted(slices.Values(deps[id])) {
			visit(d, seen)
		}
		done[id] = true
		out = append(out, id)
	}
	for _, id := range slices.Sorted(maps.Keys(deps)) {
		visit(id, map[string]bool{})
	}
	return out
}

// change is one value that differs: at path, old became new; a missing
// side is nil with its ok false.
type change struct {
	path           string
	old, new       any
	hadOld, hasNew bool
	// rename is set when the only difference is the app's name.
	rename bool
}

func (c change) String() string {
	switch {
	case !c.hadOld:
		return c.path + ": + " + show(c.new)
	case !c.hasNew:
		return c.path + ": - " + show(c.old)
	}
	return c.path + ": " + show(c.old) + " -> " + show(c.new)
}

// show renders a value on one line, cut at 100 characters.
func show(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// renamer replaces the old app name with the new one in every string.
type renamer struct{ old, new string }

func (r renamer) apply(v any) any {
	if r.old == "" {
		return v
	}
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, r.old, r.new)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = r.apply(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = r.apply(e)
		}
		return out
	}
	return v
}

// same reports whether b is a, or a with the app renamed.
func (r renamer) same(a, b any) (equal, renamed bool) {
	if reflect.DeepEqual(a, b) {
		return true, false
	}
	if r.old != "" && reflect.DeepEqual(r.apply(a), b) {
		return true, true
	}
	return false, false
}

// diff returns the values that differ between a and b, by path. Lists of
// the same length compare element by element; lists whose length changed
// show the elements removed and added.
func diff(a, b any, path string, r renamer) []change {
	var out []change
	if eq, renamed := r.same(a, b); eq {
		if renamed {
			out = append(out, change{path: path, old: a, new: b, hadOld: true, hasNew: true, rename: true})
		}
		return out
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for _, k := range slices.Sorted(maps.Keys(union(am, bm))) {
			av, inA := am[k]
			bv, inB := bm[k]
			p := join(path, k)
			switch {
			case !inA:
				out = append(out, change{path: p, new: bv, hasNew: true})
			case !inB:
				out = append(out, change{path: p, old: av, hadOld: true})
			default:
				out = append(out, diff(av, bv, p, r)...)
			}
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if len(al) == len(bl) {
			for i := range al {
				out = append(out, diff(al[i], bl[i], join(path, label(al[i], bl[i], i)), r)...)
			}
			return out
		}
		matched := make([]bool, len(bl))
		for _, av := range al {
			found := false
			for j, bv := range bl {
				if eq, renamed := r.same(av, bv); eq && !matched[j] {
					matched[j], found = true, true
					if renamed {
						out = append(out, change{path: path + "[]", old: av, new: bv, hadOld: true, hasNew: true, rename: true})
					}
					break
				}
			}
			if !found {
				out = append(out, change{path: path + "[]", old: av, hadOld: true})
			}
		}
		for j, bv := range bl {
			if !matched[j] {
				out = append(out, change{path: path + "[]", new: bv, hasNew: true})
			}
		}
		return out
	}
	return append(out, change{path: path, old: a, new: b, hadOld: a != nil, hasNew: b != nil})
}

// label names a list element in a path: by its Name or Key when both
// sides have the same (an environment variable, a tag), else by index.
func label(a, b any, i int) string {
	for _, k := range []string{"Name", "Key"} {
		if n, ok := nested(a, k).(string); ok && n == nested(b, k) {
			return n
		}
	}
	return strconv.Itoa(i)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func union(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, b)
	return out
}

// section is a top-level section of a template (Resources, Outputs, ...).
func section(tpl map[string]any, name string) map[string]any {
	m, _ := tpl[name].(map[string]any)
	return m
}

func resourceType(rs ...map[string]any) string {
	for _, r := range rs {
		if t, ok := r["Type"].(string); ok {
			return t
		}
	}
	return ""
}

func nested(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// walk calls f on every object inside v.
func walk(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, e := range v {
			walk(e, f)
		}
	case []any:
		for _, e := range v {
			walk(e, f)
		}
	}
}
