package stacks

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestWiring(t *testing.T) {
	s := defaults(t)

	// Which stack depends on which: this is also the deploy order.
	want := map[string][]string{
		"Network":      nil,
		"LoadBalancer": {"Network"},
		"Cluster":      nil,
		"Service":      {"Cluster", "LoadBalancer", "Network"},
	}
	for _, st := range s.all() {
		var got []string
		for _, d := range *st.Dependencies() {
			got = append(got, *d.Node().Id())
		}
		slices.Sort(got)
		if name := *st.Node().Id(); !slices.Equal(got, want[name]) {
			t.Errorf("%s depends on %v, want %v", name, got, want[name])
		}
	}

	// Each reference is a weak Fn::GetStackOutput of a producer's output:
	// no Export, so no "export in use" deadlock on a later change.
	for _, name := range stackNames {
		data, _ := json.Marshal(toJSON(t, s.templates[name]))
		if strings.Contains(string(data), "Fn::ImportValue") || strings.Contains(string(data), `"Export"`) {
			t.Errorf("%s uses exports; want weak references (Fn::GetStackOutput)", name)
		}
	}
	service, _ := json.Marshal(toJSON(t, s.templates["Service"]))
	for _, producer := range []string{"fargo-Network", "fargo-LoadBalancer", "fargo-Cluster"} {
		if !strings.Contains(string(service), `"StackName":"`+producer+`"`) {
			t.Errorf("Service does not read outputs of %s", producer)
		}
	}
	// The cluster stack is independent of the network's outputs; the load
	// balancer reads the VPC and its public subnets.
	lb, _ := json.Marshal(toJSON(t, s.templates["LoadBalancer"]))
	if !strings.Contains(string(lb), `"StackName":"fargo-Network"`) {
		t.Error("LoadBalancer does not read the Network stack's outputs")
	}
}
