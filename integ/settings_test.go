package integ

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	tests := []struct {
		name, context string
		want          Settings
		err           string
	}{
		{"defaults", `{"minTasks": 2, "onDemandBaseTasks": 1, "healthCheckPath": "/healthcheck", "corsAllowedOrigins": "*", "cpu": 256}`,
			Settings{MinTasks: 2, OnDemandBaseTasks: 1, HealthCheckPath: "/healthcheck", CorsOrigin: "https://integ.example.com"}, ""},
		{"strings and a list", `{"minTasks": "3", "onDemandBaseTasks": "0", "healthCheckPath": "/health", "corsAllowedOrigins": " https://a.example.com, https://b.example.com"}`,
			Settings{MinTasks: 3, OnDemandBaseTasks: 0, HealthCheckPath: "/health", CorsOrigin: "https://a.example.com"}, ""},
		{"missing", `{"minTasks": 2, "onDemandBaseTasks": 1.5, "corsAllowedOrigins": "*"}`,
			Settings{}, "no usable value for onDemandBaseTasks, healthCheckPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSettings(write(t, `{"app": "go run .", "context": `+tt.context+`}`))
			if got != tt.want || tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("ReadSettings = %+v, %v; want %+v, %q", got, err, tt.want, tt.err)
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
