package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTheShippedContract(t *testing.T) {
	c, err := Read(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if c.HealthCheckPath == "" || c.ContainerPort == 0 {
		t.Errorf("Read = %+v", c)
	}
}

func TestReadRefusesWhatItCannotCheck(t *testing.T) {
	for content, want := range map[string]string{
		`{"probePath": "/", "probeStatus": 200, "healthCheckPath": "/h", "colour": 1}`: `unknown field "colour"`,
		`{"probeStatus": 200, "healthCheckPath": "/h"}`:                                "want probePath, probeStatus and healthCheckPath",
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, filepath.Dir(File)), 0o755)
		os.WriteFile(filepath.Join(root, File), []byte(content), 0o644)
		if _, err := Read(root); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%s) = %v, want %q", content, err, want)
		}
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "make snapshots writes it") {
		t.Errorf("Read without the file = %v", err)
	}
}

func TestCheckProbe(t *testing.T) {
	c := Contract{ProbePath: "/hello", ProbeStatus: 200, ProbeBody: "hello"}
	if err := c.CheckProbe(200, "well, hello there"); err != nil {
		t.Error(err)
	}
	err := c.CheckProbe(404, "404 page not found\n")
	if want := `GET /hello: 404 "404 page not found\n", want 200 with "hello" in the body`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("CheckProbe = %v, want %s", err, want)
	}
	if err := (Contract{ProbePath: "/", ProbeStatus: 204}).CheckProbe(204, ""); err != nil {
		t.Errorf("no body wanted: %v", err)
	}
	if err := c.CheckProbe(200, strings.Repeat("x", 500)); err == nil || len(err.Error()) > 300 {
		t.Errorf("a long body is cut short: %v", err)
	}
}

func TestReadSecretNames(t *testing.T) {
	// The names of the secrets, never where they live: the e2e tests give
	// the app a value for each.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, filepath.Dir(File)), 0o755)
	os.WriteFile(filepath.Join(root, File), []byte(`{"probePath": "/livez", "probeStatus": 200, "healthCheckPath": "/livez", "secrets": ["DB_PASSWORD", "NOTES_API_KEY"]}`), 0o644)
	c, err := Read(root)
	if err != nil || strings.Join(c.Secrets, " ") != "DB_PASSWORD NOTES_API_KEY" {
		t.Errorf("Read = %+v, %v; want the two secret names", c, err)
	}
	if !c.ProbesHealthCheck() {
		t.Error("probePath = healthCheckPath: the probe is the health check")
	}
	if c.ProbePath = "/notes"; c.ProbesHealthCheck() {
		t.Error("probePath /notes is no health check")
	}
}

// TestReadAnEnvironment: with environments the snapshots are per
// environment, and Read takes the first environment's by name.
func TestReadAnEnvironment(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, filepath.Dir(File))
	for env, path := range map[string]string{"production": "/prod", "staging": "/staging"} {
		os.MkdirAll(filepath.Join(dir, env), 0o755)
		os.WriteFile(filepath.Join(dir, env, "contract.json"), []byte(`{"probePath": "`+path+`", "probeStatus": 200, "healthCheckPath": "/h"}`), 0o644)
	}
	c, err := Read(root)
	if err != nil || c.ProbePath != "/prod" || Dir(root) != filepath.Join(dir, "production") {
		t.Errorf("Read = %+v, %v; Dir = %s", c, err, Dir(root))
	}
}
