package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sharedSchemas are loaded once for all the tests.
var sharedSchemas func(string) (*Schemas, error)

// schemas returns cfn-lint's schemas, or skips (fails under CI) without it.
func schemas(t *testing.T) func(string) (*Schemas, error) {
	t.Helper()
	if sharedSchemas != nil {
		return sharedSchemas
	}
	dir, err := CfnLintSchemas()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	sharedSchemas = SchemaCache(dir)
	return sharedSchemas
}

// writeAssembly writes a cloud assembly of the given stacks (construct id
// -> template) into a new directory; each stack depends on those in deps.
func writeAssembly(t *testing.T, templates map[string]map[string]any, deps map[string][]string) *Assembly {
	t.Helper()
	dir := t.TempDir()
	artifacts := map[string]any{}
	for id, tpl := range templates {
		data, _ := json.Marshal(tpl)
		if err := os.WriteFile(filepath.Join(dir, id+".template.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		artifacts[id] = map[string]any{
			"type": "aws:cloudformation:stack", "environment": "aws://123456789012/eu-west-1", "displayName": id,
			"dependencies": append([]string{id + ".assets"}, deps[id]...),
			"properties":   map[string]any{"templateFile": id + ".template.json", "stackName": "app-" + id},
		}
	}
	data, _ := json.Marshal(map[string]any{"version": "48.0.0", "artifacts": artifacts})
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func network(cidr string) map[string]any {
	return map[string]any{
		"Resources": map[string]any{
			"Vpc":    map[string]any{"Type": "AWS::EC2::VPC", "Properties": map[string]any{"CidrBlock": cidr}},
			"Subnet": map[string]any{"Type": "AWS::EC2::Subnet", "Properties": map[string]any{"VpcId": map[string]any{"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
		},
		"Outputs": map[string]any{"SubnetId": map[string]any{"Value": map[string]any{"Ref": "Subnet"}, "Export": map[string]any{"Name": "app-Net:Subnet"}}},
	}
}

var consumer = map[string]any{"Resources": map[string]any{
	"Endpoint": map[string]any{"Type": "AWS::EC2::NetworkInterface", "Properties": map[string]any{"SubnetId": map[string]any{"Fn::ImportValue": "app-Net:Subnet"}}},
}}

func TestReplacementFollowsReferences(t *testing.T) {
	// GIVEN a VPC whose CIDR changes (create-only), a subnet in it that
	// another stack imports
	before := writeAssembly(t, map[string]map[string]any{"Net": network("10.0.0.0/16"), "App": consumer}, map[string][]string{"App": {"Net"}})
	after := writeAssembly(t, map[string]map[string]any{"Net": network("10.1.0.0/16"), "App": consumer}, map[string][]string{"App": {"Net"}})

	p, err := Diff(before, after, schemas(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Check()

	// THEN the VPC's replacement replaces the subnet (VpcId is create-only
	// too), changes the export and so the importer in the other stack,
	// which the deploy order puts after; the old copies go in the cleanup,
	// the subnet before its VPC; and CloudFormation refuses to change the
	// export in use.
	if ids := []string{p.Stacks[0].ID, p.Stacks[1].ID}; !reflect.DeepEqual(ids, []string{"Net", "App"}) {
		t.Errorf("deploy order %v", ids)
	}
	var got []string
	for _, sp := range p.Stacks {
		for _, c := range append(sp.Update, sp.Cleanup...) {
			got = append(got, sp.ID+" "+string(c.Action)+" "+c.ID)
		}
	}
	want := []string{"Net replace Vpc", "Net replace Subnet", "Net delete old Subnet", "Net delete old Vpc", "App replace Endpoint", "App delete old Endpoint"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
	if len(p.Violations) == 0 || !strings.Contains(p.Violations[0].Message, "export app-Net:Subnet, which app-App aws://123456789012/eu-west-1 imports (Endpoint), is changed (Subnet is replaced)") {
		t.Errorf("violations %v", p.Violations)
	}
}

// TestCapacityStrategyNeedsAForcedDeployment: ECS refuses a service
// update that changes the capacity-provider strategy without forcing a new
// deployment (aws/aws-cdk#34631), and a template that drops the strategy
// (the Spot fallback's) sends none, so that is no change of it.
func TestCapacityStrategyNeedsAForcedDeployment(t *testing.T) {
	spot := []any{map[string]any{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 0}, map[string]any{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}}
	onDemand := []any{map[string]any{"CapacityProvider": "FARGATE", "Weight": 1}}
	service := func(strategy []any, nonce string) map[string]map[string]any {
		props := map[string]any{"Cluster": "c", "TaskDefinition": "td"}
		if strategy != nil {
			props["CapacityProviderStrategy"] = strategy
			props["ForceNewDeployment"] = map[string]any{"EnableForceNewDeployment": true, "ForceNewDeploymentNonce": nonce}
		}
		return map[string]map[string]any{"Svc": {"Resources": map[string]any{"Service": map[string]any{"Type": "AWS::ECS::Service", "Properties": props}}}}
	}
	tests := []struct {
		name          string
		before, after map[string]map[string]any
		unsafe        bool
	}{
		{"a new strategy with a new nonce", service(spot, "a"), service(onDemand, "b"), false},
		{"a new strategy with the same nonce", service(spot, "a"), service(onDemand, "a"), true},
		{"the strategy dropped from the template", service(spot, "a"), service(nil, ""), false},
	}
	for _, tt := range tests {
		p, err := Diff(writeAssembly(t, tt.before, nil), writeAssembly(t, tt.after, nil), schemas(t))
		if err != nil {
			t.Fatal(err)
		}
		p.Check()
		got := strings.Contains(fmt.Sprint(p.Violations), "without forcing a new deployment")
		if got != tt.unsafe {
			t.Errorf("%s: violations %v, want unsafe %v", tt.name, p.Violations, tt.unsafe)
		}
	}
}

func TestNoSchemas(t *testing.T) {
	// Without cfn-lint (python3 cannot import it) the plan says what it needs.
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\necho 'ModuleNotFoundError' >&2; exit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal(err)
	}
	if _, err := CfnLintSchemas(); err != ErrNoSchemas {
		t.Errorf("got %v, want %v", err, ErrNoSchemas)
	}
}
