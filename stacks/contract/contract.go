// Package contract reads what the user's deployed app must answer, as the
// deployment tests of the stacks write it from cdk.json into
// stacks/testdata/deployment/contract.json (make snapshots updates it):
// the e2e test, make smoke and make integ check the app against it. It is
// for tests and tooling only, and imports nothing of CDK.
package contract

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File is where contract.json lives, from the module root.
const File = "stacks/testdata/deployment/contract.json"

// Contract holds the values of the context keys it is named after, as the
// stacks read them (the defaults included).
type Contract struct {
	AppName            string `json:"appName"`
	ContainerPort      int    `json:"containerPort"`
	HealthCheckPath    string `json:"healthCheckPath"`
	CorsAllowedOrigins string `json:"corsAllowedOrigins"`
	MinTasks           int    `json:"minTasks"`
	OnDemandBaseTasks  int    `json:"onDemandBaseTasks"`
	// ProbePath is the health check path when cdk.json sets no probePath.
	ProbePath   string `json:"probePath"`
	ProbeStatus int    `json:"probeStatus"`
	ProbeBody   string `json:"probeBody"`
	// Secrets are the names of the variables that ECS sets from secrets
	// (the keys of cdk.json's secrets, sorted), never where they live: the
	// e2e tests give the app a placeholder for each.
	Secrets []string `json:"secrets"`
}

// Dir is the directory below root whose snapshots the e2e test and make
// integ read: File's, or with environments (each environment's snapshots
// in a directory of its name, docs/environments.md) the first
// environment's by name. Every environment runs the one image, with the
// same port and health check path, so any of them describes the app.
func Dir(root string) string {
	dir := filepath.Join(root, filepath.Dir(File))
	if _, err := os.Stat(filepath.Join(root, File)); err == nil {
		return dir
	}
	if envs, _ := filepath.Glob(filepath.Join(dir, "*", filepath.Base(File))); len(envs) > 0 {
		return filepath.Dir(envs[0])
	}
	return dir
}

// Read reads File below root (in Dir), the module root, and fails on a key it does
// not know or a probe it cannot send.
func Read(root string) (Contract, error) {
	path := filepath.Join(Dir(root), filepath.Base(File))
	data, err := os.ReadFile(path)
	if err != nil {
		return Contract{}, fmt.Errorf("%v: make snapshots writes it", err)
	}
	var c Contract
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Contract{}, fmt.Errorf("%s: %v", path, err)
	}
	if !strings.HasPrefix(c.ProbePath, "/") || c.ProbeStatus == 0 || !strings.HasPrefix(c.HealthCheckPath, "/") {
		return Contract{}, fmt.Errorf("%s: want probePath, probeStatus and healthCheckPath; run make snapshots", path)
	}
	return c, nil
}

// ProbesHealthCheck reports whether the probe is the health check, as it
// is when cdk.json sets no probePath: the app then answers it with 200
// while it serves and with another status once it drains.
func (c Contract) ProbesHealthCheck() bool { return c.ProbePath == c.HealthCheckPath }

// CheckProbe returns why status and body are not what probePath must
// answer, with an excerpt of the body, or nil.
func (c Contract) CheckProbe(status int, body string) error {
	if status == c.ProbeStatus && strings.Contains(body, c.ProbeBody) {
		return nil
	}
	want := fmt.Sprintf("want %d", c.ProbeStatus)
	if c.ProbeBody != "" {
		want += fmt.Sprintf(" with %q in the body", c.ProbeBody)
	}
	return fmt.Errorf("GET %s: %d %q, %s (probePath, probeStatus and probeBody in cdk.json)", c.ProbePath, status, Excerpt(body), want)
}

// Excerpt shortens a body for an error message.
func Excerpt(body string) string {
	if len(body) > 120 {
		return body[:120] + "…"
	}
	return body
}
