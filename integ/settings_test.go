package integ

import (
	"os"
	"path/filepath"
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

func TestReadSettings(t *testing.T) {
	// The shipped contract.json: hello world, CORS from any origin.
	got, err := ReadSettings("..")
	want := Settings{MinTasks: 2, OnDemandBaseTasks: 1, HealthCheckPath: "/healthcheck", CorsOrigin: "https://integ.example.com"}
	if err != nil || got.MinTasks != want.MinTasks || got.OnDemandBaseTasks != want.OnDemandBaseTasks ||
		got.HealthCheckPath != want.HealthCheckPath || got.CorsOrigin != want.CorsOrigin || got.Contract.ProbeBody != "HELLO WORLD" {
		t.Errorf("ReadSettings = %+v, %v; want %+v and the hello-world probe", got, err, want)
	}
	// A list of origins: the first is sent.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, filepath.Dir(contract.File)), 0o755)
	os.WriteFile(filepath.Join(root, contract.File), []byte(`{"healthCheckPath": "/health", "corsAllowedOrigins": " https://a.example.com, https://b.example.com", "probePath": "/", "probeStatus": 200}`), 0o644)
	if got, err := ReadSettings(root); err != nil || got.CorsOrigin != "https://a.example.com" {
		t.Errorf("ReadSettings = %+v, %v; want the first origin", got, err)
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
