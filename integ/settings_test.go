package integ

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fargo-cdk/fargo/stacks/contract"
)

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeContract writes a contract.json below a new root and returns it.
func writeContract(t *testing.T, content string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(contract.File)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, contract.File), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestReadSettings(t *testing.T) {
	const probe = `"probePath": "/", "probeStatus": 200, "probeBody": "HELLO WORLD"`
	tests := []struct {
		name, contract string
		want           Settings
	}{
		{"any origin", `{"minTasks": 2, "onDemandBaseTasks": 1, "healthCheckPath": "/healthcheck", "corsAllowedOrigins": "*", ` + probe + `}`,
			Settings{MinTasks: 2, OnDemandBaseTasks: 1, HealthCheckPath: "/healthcheck", CorsOrigin: "https://integ.example.com"}},
		{"a list of origins: the first is sent", `{"minTasks": 3, "onDemandBaseTasks": 0, "healthCheckPath": "/health", "corsAllowedOrigins": " https://a.example.com, https://b.example.com", ` + probe + `}`,
			Settings{MinTasks: 3, OnDemandBaseTasks: 0, HealthCheckPath: "/health", CorsOrigin: "https://a.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSettings(writeContract(t, tt.contract))
			tt.want.Contract = got.Contract
			if err != nil || !reflect.DeepEqual(got, tt.want) || got.Contract.ProbeBody != "HELLO WORLD" {
				t.Errorf("ReadSettings = %+v, %v; want %+v with the probe", got, err, tt.want)
			}
		})
	}
}

func TestReadOutputs(t *testing.T) {
	// As `cdk deploy --outputs-file` writes it: stacks by name.
	path := write(t, `{
  "`+testApp+`-Network": {},
  "`+testApp+`-LoadBalancer": {"ServiceUrl": "http://x-123.eu-west-1.elb.amazonaws.com/"},
  "`+testApp+`-Cluster": {"ClusterName": "c"},
  "`+testApp+`-Service": {"ServiceName": "s", "LogGroupName": "l"},
  "fargo-LoadBalancer": {"ServiceUrl": "http://the-real-one"}
}`)
	got, err := ReadOutputs(path, testApp)
	want := Outputs{ServiceURL: "http://x-123.eu-west-1.elb.amazonaws.com", ClusterName: "c", ServiceName: "s", LogGroupName: "l"}
	if err != nil || got != want {
		t.Errorf("ReadOutputs = %+v, %v; want %+v", got, err, want)
	}

	_, err = ReadOutputs(write(t, `{"`+testApp+`-LoadBalancer": {"ServiceUrl": "http://x"}}`), testApp)
	if want := "missing " + testApp + "-Cluster.ClusterName, " + testApp + "-Service.ServiceName, " + testApp + "-Service.LogGroupName"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ReadOutputs = %v, want %q", err, want)
	}
}
