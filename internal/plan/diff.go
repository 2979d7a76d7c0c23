package plan

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Action is what CloudFormation does to one resource.
type Action string

// The actions, as the plan prints them.
const (
	Add     Action = "add"
	Modify  Action = "modify"
	Replace Action = "replace"
	Remove  Action = "remove"
	// Delete is the cleanup of the old copy of a replaced resource.
	Delete Action = "delete old"
)

// Change is one step of a stack's deploy.
type Change struct {
	ID     string
	Type   string
	Action Action
	// Props are the top-level properties that change; CreateOnly those of
	// them that force the replacement.
	Props      []string
	CreateOnly []string
	// Via names what a property refers to whose value changes: a replaced
	// resource, or an export whose value changes.
	Via []string
}

// StackPlan is what deploying one stack does.
type StackPlan struct {
	ID string
	// Before and After are the stack in each assembly; either may be nil.
	Before, After *Stack
	// Note says why the stack is deployed as a whole, or not at all.
	Note string
	// Update holds the changes in the order CloudFormation makes them;
	// Cleanup the deletions, which come after every update of the stack.
	Update, Cleanup []Change
}

// separate reports whether the after stack is a different CloudFormation
// stack than the before one (another name or environment): CloudFormation
// creates it beside the deployed one, which stays.
func (sp *StackPlan) separate() bool {
	return sp.Before != nil && sp.After != nil &&
		(sp.Before.Name != sp.After.Name || sp.Before.Environment != sp.After.Environment)
}

// ref is one reference inside a resource's properties or an output.
type ref struct {
	path   []string // where it sits, from the property name down
	target string   // a resource's logical id, or ""
	export string   // the export an Fn::ImportValue names, or ""
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// refs finds the references in v: Ref, Fn::GetAtt, the variables of
// Fn::Sub, and Fn::ImportValue of a literal name.
func refs(v any, path []string, out *[]ref) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				switch k {
				case "Ref":
					if s, ok := arg.(string); ok && !strings.HasPrefix(s, "AWS::") {
						*out = append(*out, ref{path: path, target: s})
					}
					return
				case "Fn::GetAtt":
					switch a := arg.(type) {
					case []any:
						if len(a) > 0 {
							if s, ok := a[0].(string); ok {
								*out = append(*out, ref{path: path, target: s})
							}
						}
					case string:
						*out = append(*out, ref{path: path, target: strings.SplitN(a, ".", 2)[0]})
					}
					return
				case "Fn::ImportValue":
					if s, ok := arg.(string); ok {
						*out = append(*out, ref{path: path, export: s})
						return
					}
				case "Fn::Sub":
					var tpl string
					vars := map[string]any{}
					switch a := arg.(type) {
					case string:
						tpl = a
					case []any:
						if len(a) > 0 {
							tpl, _ = a[0].(string)
						}
						if len(a) > 1 {
							vars, _ = a[1].(map[string]any)
							refs(a[1], path, out)
						}
					}
					for _, m := range subVar.FindAllStringSubmatch(tpl, -1) {
						name := strings.SplitN(m[1], ".", 2)[0]
						if _, isVar := vars[name]; !isVar && !strings.HasPrefix(name, "AWS::") {
							*out = append(*out, ref{path: path, target: name})
						}
					}
					return
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			refs(v[k], append(slices.Clip(path), k), out)
		}
	case []any:
		for i, e := range v {
			refs(e, append(slices.Clip(path), strconv.Itoa(i)), out)
		}
	}
}

// diffPaths returns where a and b differ, as paths of keys and indexes.
func diffPaths(a, b any, path []string, out *[][]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			diffPaths(am[k], bm[k], append(slices.Clip(path), k), out)
		}
		return
	}
	aa, aok := a.([]any)
	ba, bok := b.([]any)
	if aok && bok && len(aa) == len(ba) {
		for i := range aa {
			diffPaths(aa[i], ba[i], append(slices.Clip(path), strconv.Itoa(i)), out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

// underCreateOnly returns the create-only pointer that a change at path
// touches, or "": the path lies inside the property, or holds it.
func underCreateOnly(path []string, createOnly []string) string {
	for _, p := range createOnly {
		segs := strings.Split(strings.TrimPrefix(p, "/properties/"), "/")
		n := min(len(segs), len(path))
		match := true
		for i := 0; i < n; i++ {
			if segs[i] != path[i] && !(segs[i] == "*" && isIndex(path[i])) {
				match = false
				break
			}
		}
		if match {
			return strings.Join(segs, ".")
		}
	}
	return ""
}

func isIndex(s string) bool { _, err := strconv.Atoi(s); return err == nil }

// resourceDiff is one resource's change while the plan is being worked out.
type resourceDiff struct {
	paths [][]string
	via   map[string]bool
}

// Diff works out the plan of deploying after over before: which resources
// each stack adds, modifies, replaces and removes, in order, including the
// changes that a replaced resource or a changed export causes in whatever
// refers to it, in its own stack or another.
func Diff(before, after *Assembly, schemas func(region string) (*Schemas, error)) (*Plan, error) {
	ids := map[string]bool{}
	for _, s := range before.Stacks {
		ids[s.ID] = true
	}
	for _, s := range after.Stacks {
		ids[s.ID] = true
	}
	var plans []*StackPlan
	for id := range ids {
		plans = append(plans, &StackPlan{ID: id, Before: before.stack(id), After: after.stack(id)})
	}
	plans, err := topo(plans, func(sp *StackPlan) string { return sp.ID }, func(sp *StackPlan) []string {
		if sp.After != nil {
			return sp.After.DependsOn
		}
		return sp.Before.DependsOn
	})
	if err != nil {
		return nil, err
	}

	diffs := map[string]map[string]*resourceDiff{} // stack id -> logical id
	createOnly := func(sp *StackPlan, typ string) ([]string, error) {
		sch, err := schemas(sp.After.region())
		if err != nil {
			return nil, err
		}
		return sch.CreateOnly(typ)
	}
	for _, sp := range plans {
		switch {
		case sp.After == nil:
			sp.Note = fmt.Sprintf("not in the new app: cdk deploy leaves the deployed stack as it is, and cdk destroy can no longer select it; once nothing uses it, delete it with: aws cloudformation delete-stack --stack-name %s", sp.Before.Name)
			continue
		case sp.Before == nil:
			sp.Note = "new stack"
		case sp.separate():
			sp.Note = fmt.Sprintf("a new CloudFormation stack (%s %s, was %s %s): created from scratch beside the deployed one, which stays", sp.After.Name, sp.After.Environment, sp.Before.Name, sp.Before.Environment)
		}
		d := map[string]*resourceDiff{}
		diffs[sp.ID] = d
		if sp.Before == nil || sp.separate() {
			continue
		}
		for id, nr := range sp.After.Template.Resources {
			or, ok := sp.Before.Template.Resources[id]
			if !ok || or.Type != nr.Type {
				continue
			}
			var paths [][]string
			diffPaths(or.Properties, nr.Properties, nil, &paths)
			if len(paths) > 0 {
				d[id] = &resourceDiff{paths: paths, via: map[string]bool{}}
			}
		}
	}

	// Replaced resources change their Ref and attributes; follow that into
	// what refers to them, and into exports and their importers, until
	// nothing more changes.
	replaced := func(sp *StackPlan, id string) (bool, error) {
		rd := diffs[sp.ID][id]
		if rd == nil {
			return false, nil
		}
		co, err := createOnly(sp, sp.After.Template.Resources[id].Type)
		if err != nil {
			return false, err
		}
		for _, p := range rd.paths {
			if underCreateOnly(p, co) != "" {
				return true, nil
			}
		}
		return false, nil
	}
	changedExports := map[string]string{} // export name -> why
	for changed := true; changed; {
		changed = false
		for _, sp := range plans {
			if sp.After == nil || sp.Before == nil || sp.separate() {
				continue
			}
			valueChanged := map[string]bool{}
			for id := range sp.After.Template.Resources {
				r, err := replaced(sp, id)
				if err != nil {
					return nil, err
				}
				valueChanged[id] = r
			}
			for _, id := range slices.Sorted(maps.Keys(sp.After.Template.Resources)) {
				nr := sp.After.Template.Resources[id]
				if or, ok := sp.Before.Template.Resources[id]; !ok || or.Type != nr.Type {
					continue
				}
				var rs []ref
				refs(nr.Properties, nil, &rs)
				for _, r := range rs {
					why := ""
					if r.target != "" && valueChanged[r.target] {
						why = r.target
					} else if r.export != "" && changedExports[r.export] != "" {
						why = "export " + r.export
					}
					if why == "" {
						continue
					}
					rd := diffs[sp.ID][id]
					if rd == nil {
						rd = &resourceDiff{via: map[string]bool{}}
						diffs[sp.ID][id] = rd
					}
					if !rd.via[why] {
						rd.via[why] = true
						rd.paths = append(rd.paths, r.path)
						changed = true
					}
				}
			}
			for name, o := range sp.Before.Template.Outputs {
				export := o.exportName()
				if export == "" || changedExports[export] != "" {
					continue
				}
				no, ok := sp.After.Template.Outputs[name]
				why := ""
				switch {
				case !ok || no.exportName() != export:
					why = "removed"
				case !reflect.DeepEqual(o.Value, no.Value):
					why = "changed"
				default:
					var rs []ref
					refs(no.Value, nil, &rs)
					for _, r := range rs {
						if r.target != "" && valueChanged[r.target] {
							why = "changed (" + r.target + " is replaced)"
						}
					}
				}
				if why != "" {
					changedExports[export] = why
					changed = true
				}
			}
		}
	}

	for _, sp := range plans {
		if sp.After == nil {
			continue
		}
		if err := order(sp, diffs[sp.ID], createOnly); err != nil {
			return nil, err
		}
	}
	return &Plan{Stacks: plans, changedExports: changedExports}, nil
}

// deps returns the logical ids r depends on: references and DependsOn.
func deps(r Resource) []string {
	var rs []ref
	refs(r.Properties, nil, &rs)
	var out []string
	for _, x := range rs {
		if x.target != "" {
			out = append(out, x.target)
		}
	}
	switch d := r.DependsOn.(type) {
	case string:
		out = append(out, d)
	case []any:
		for _, e := range d {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// resourceOrder is the order CloudFormation can create the template's
// resources in: each after what it refers to or depends on.
func resourceOrder(t Template) ([]string, error) {
	ids := slices.Sorted(maps.Keys(t.Resources))
	return topo(ids, func(id string) string { return id }, func(id string) []string { return deps(t.Resources[id]) })
}

// order fills in sp's changes: updates (adds, modifications, replacements)
// in the after template's dependency order, then the cleanup (removals and
// the old copies of replaced resources) in the reverse of the before
// template's.
func order(sp *StackPlan, d map[string]*resourceDiff, createOnly func(*StackPlan, string) ([]string, error)) error {
	after, err := resourceOrder(sp.After.Template)
	if err != nil {
		return fmt.Errorf("%s: %w", sp.ID, err)
	}
	fresh := sp.Before == nil || sp.separate()
	for _, id := range after {
		nr := sp.After.Template.Resources[id]
		if nr.Type == "AWS::CDK::Metadata" {
			continue
		}
		c := Change{ID: id, Type: nr.Type}
		or, existed := Resource{}, false
		if !fresh {
			or, existed = sp.Before.Template.Resources[id]
		}
		switch {
		case !existed:
			c.Action = Add
		case or.Type != nr.Type:
			c.Action = Replace
			c.CreateOnly = []string{"Type"}
		default:
			rd := d[id]
			if rd == nil {
				continue
			}
			co, err := createOnly(sp, nr.Type)
			if err != nil {
				return err
			}
			props, creates := map[string]bool{}, map[string]bool{}
			for _, p := range rd.paths {
				props[p[0]] = true
				if c := underCreateOnly(p, co); c != "" {
					creates[c] = true
				}
			}
			c.Props = slices.Sorted(maps.Keys(props))
			c.CreateOnly = slices.Sorted(maps.Keys(creates))
			c.Via = slices.Sorted(maps.Keys(rd.via))
			c.Action = Modify
			if len(c.CreateOnly) > 0 {
				c.Action = Replace
			}
		}
		sp.Update = append(sp.Update, c)
	}
	if fresh {
		return nil
	}
	before, err := resourceOrder(sp.Before.Template)
	if err != nil {
		return fmt.Errorf("%s: %w", sp.ID, err)
	}
	replacedNow := map[string]bool{}
	for _, c := range sp.Update {
		if c.Action == Replace {
			replacedNow[c.ID] = true
		}
	}
	for i := len(before) - 1; i >= 0; i-- {
		id := before[i]
		or := sp.Before.Template.Resources[id]
		if or.Type == "AWS::CDK::Metadata" {
			continue
		}
		if _, kept := sp.After.Template.Resources[id]; !kept {
			sp.Cleanup = append(sp.Cleanup, Change{ID: id, Type: or.Type, Action: Remove})
		} else if replacedNow[id] {
			sp.Cleanup = append(sp.Cleanup, Change{ID: id, Type: or.Type, Action: Delete})
		}
	}
	return nil
}
