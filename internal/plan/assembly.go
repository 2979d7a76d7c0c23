// Package plan tells what deploying one synthesized cloud assembly over
// another does: per stack, in the order the CDK CLI deploys them, which
// resources CloudFormation adds, modifies in place, replaces and removes,
// in the order it applies them, and whether the running service keeps its
// traffic, its route out and its state at every step (see Check).
//
// Everything is derived from the templates and the CloudFormation resource
// schemas (create-only properties), not from this project's resource
// names, so that a new stack layout needs no change here.
package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Assembly is a synthesized cloud assembly (a cdk.out directory).
type Assembly struct {
	Dir string
	// Stacks are in deploy order.
	Stacks []*Stack
}

// Stack is one stack of an assembly.
type Stack struct {
	// ID is the stack's construct id (the last part of its path), which
	// matches a stack across two assemblies.
	ID string
	// Name is the CloudFormation stack name.
	Name string
	// Environment is aws://account/region as the manifest says it.
	Environment string
	// DependsOn are the ids of the stacks the CLI deploys before this one.
	DependsOn []string
	Template  Template
}

// Template is the part of a CloudFormation template the plan reads.
type Template struct {
	Resources map[string]Resource `json:"Resources"`
	Outputs   map[string]Output   `json:"Outputs"`
}

// Resource is one resource of a template.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	DependsOn  any            `json:"DependsOn"`
}

// Output is one output of a template; Export.Name makes it an export.
type Output struct {
	Value  any `json:"Value"`
	Export *struct {
		Name any `json:"Name"`
	} `json:"Export"`
}

// exportName is the output's literal export name, or "".
func (o Output) exportName() string {
	if o.Export == nil {
		return ""
	}
	s, _ := o.Export.Name.(string)
	return s
}

// region is the stack's region, or "" when the stack is
// environment-agnostic.
func (s *Stack) region() string {
	parts := strings.Split(strings.TrimPrefix(s.Environment, "aws://"), "/")
	if len(parts) != 2 || parts[1] == "unknown-region" {
		return ""
	}
	return parts[1]
}

type manifest struct {
	Artifacts map[string]struct {
		Type         string   `json:"type"`
		Environment  string   `json:"environment"`
		DisplayName  string   `json:"displayName"`
		Dependencies []string `json:"dependencies"`
		Properties   struct {
			TemplateFile string `json:"templateFile"`
			StackName    string `json:"stackName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// Load reads the assembly in dir: its manifest.json and the templates the
// manifest names.
func Load(dir string) (*Assembly, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a synthesized cloud assembly (run cdk synth): %w", dir, err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	byArtifact := map[string]*Stack{}
	for id, a := range m.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		s := &Stack{ID: id, Name: a.Properties.StackName, Environment: a.Environment}
		if a.DisplayName != "" {
			s.ID = a.DisplayName[strings.LastIndex(a.DisplayName, "/")+1:]
		}
		if s.Name == "" {
			s.Name = id
		}
		tpl, err := os.ReadFile(filepath.Join(dir, a.Properties.TemplateFile))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(tpl, &s.Template); err != nil {
			return nil, fmt.Errorf("%s: %w", a.Properties.TemplateFile, err)
		}
		byArtifact[id] = s
	}
	for id, s := range byArtifact {
		for _, dep := range m.Artifacts[id].Dependencies {
			if d, ok := byArtifact[dep]; ok {
				s.DependsOn = append(s.DependsOn, d.ID)
			}
		}
		slices.Sort(s.DependsOn)
	}
	stacks := make([]*Stack, 0, len(byArtifact))
	for _, s := range byArtifact {
		stacks = append(stacks, s)
	}
	order, err := topo(stacks, func(s *Stack) string { return s.ID }, func(s *Stack) []string { return s.DependsOn })
	if err != nil {
		return nil, fmt.Errorf("%s: stacks: %w", dir, err)
	}
	return &Assembly{Dir: dir, Stacks: order}, nil
}

// stack returns the stack with construct id id, or nil.
func (a *Assembly) stack(id string) *Stack {
	for _, s := range a.Stacks {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// topo orders items so that each comes after those it depends on; among
// items free to go, by id, which makes the order the same on every run.
// Dependencies on ids that are not among items are ignored.
func topo[T any](items []T, id func(T) string, deps func(T) []string) ([]T, error) {
	byID := map[string]T{}
	for _, it := range items {
		byID[id(it)] = it
	}
	indegree := map[string]int{}
	dependents := map[string][]string{}
	for _, it := range items {
		indegree[id(it)] += 0
		for _, d := range deps(it) {
			if _, ok := byID[d]; ok && d != id(it) {
				indegree[id(it)]++
				dependents[d] = append(dependents[d], id(it))
			}
		}
	}
	var ready, out []string
	for k, n := range indegree {
		if n == 0 {
			ready = append(ready, k)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		next := ready[0]
		ready = ready[1:]
		out = append(out, next)
		for _, d := range dependents[next] {
			if indegree[d]--; indegree[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(out) != len(items) {
		return nil, fmt.Errorf("dependency cycle")
	}
	res := make([]T, len(out))
	for i, k := range out {
		res[i] = byID[k]
	}
	return res, nil
}
