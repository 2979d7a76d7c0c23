package serve

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	defaults := Config{Port: 5000, HealthCheckPath: "/healthcheck", DrainDelay: 15 * time.Second, ShutdownTimeout: 10 * time.Second}
	with := func(f func(*Config)) Config {
		c := defaults
		f(&c)
		return c
	}
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, defaults},
		{"empty values are defaults", map[string]string{"PORT": "", "HEALTH_CHECK_PATH": "", "DRAIN_DELAY": "", "SHUTDOWN_TIMEOUT": ""}, defaults},
		{"port", map[string]string{"PORT": "8080"}, with(func(c *Config) { c.Port = 8080 })},
		{"lowest port", map[string]string{"PORT": "1"}, with(func(c *Config) { c.Port = 1 })},
		{"highest port", map[string]string{"PORT": "65535"}, with(func(c *Config) { c.Port = 65535 })},
		{"health check path", map[string]string{"HEALTH_CHECK_PATH": "/ready"}, with(func(c *Config) { c.HealthCheckPath = "/ready" })},
		{"nested health check path", map[string]string{"HEALTH_CHECK_PATH": "/api/v1.2/health_z~"},
			with(func(c *Config) { c.HealthCheckPath = "/api/v1.2/health_z~" })},
		{"durations", map[string]string{"DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "1m30s"},
			with(func(c *Config) { c.DrainDelay = 0; c.ShutdownTimeout = 90 * time.Second })},
	}
	for _, tt := range tests {
		got, err := ConfigFromEnv(env(tt.env))
		if err != nil {
			t.Errorf("%s: ConfigFromEnv: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: ConfigFromEnv = %+v, want %+v", tt.name, got, tt.want)
		}
		if err := got.check(); err != nil {
			t.Errorf("%s: Run would refuse what ConfigFromEnv accepts: %v", tt.name, err)
		}
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	t.Parallel()
	const (
		wantPort  = "want an integer from 1 to 65535"
		wantDrain = "want a duration of 0s or more, such as 15s"
		wantStop  = "want a duration above 0s, such as 10s"
		wantAbs   = "want an absolute path such as /healthcheck"
		wantChars = "want only letters, digits and - . _ ~ /"
		wantClean = `want a clean path, without "//", "." or ".." segments`
	)
	tests := []struct {
		name, value, want string
	}{
		{"PORT", "abc", wantPort},
		{"PORT", "70000", wantPort},
		{"PORT", "0", wantPort},
		{"PORT", "-1", wantPort},
		{"PORT", " 80", wantPort},
		{"HEALTH_CHECK_PATH", "healthcheck", wantAbs},
		{"HEALTH_CHECK_PATH", "http://x/healthcheck", wantAbs},
		{"HEALTH_CHECK_PATH", " /healthcheck", wantAbs},
		{"HEALTH_CHECK_PATH", "/", "want a path of its own such as /healthcheck: / is the app's"},
		{"HEALTH_CHECK_PATH", "/healthcheck/", "remove the trailing slash"},
		{"HEALTH_CHECK_PATH", "/health check", wantChars},
		{"HEALTH_CHECK_PATH", "/healthcheck?x=1", wantChars},
		{"HEALTH_CHECK_PATH", "/healthcheck#x", wantChars},
		{"HEALTH_CHECK_PATH", "/health%20check", wantChars},
		{"HEALTH_CHECK_PATH", "/{name}", wantChars},
		{"HEALTH_CHECK_PATH", "/health\ncheck", wantChars},
		{"HEALTH_CHECK_PATH", "/gesundheit/prüfung", wantChars},
		{"HEALTH_CHECK_PATH", "GET /healthcheck", wantAbs},
		{"HEALTH_CHECK_PATH", "//healthcheck", wantClean},
		{"HEALTH_CHECK_PATH", "/a/../healthcheck", wantClean},
		{"HEALTH_CHECK_PATH", "/./healthcheck", wantClean},
		{"HEALTH_CHECK_PATH", "/" + strings.Repeat("a", 1024), "want at most 1024 characters, the load balancer's limit"},
		{"DRAIN_DELAY", "soon", wantDrain},
		{"DRAIN_DELAY", "15", wantDrain},
		{"DRAIN_DELAY", "-1s", wantDrain},
		{"SHUTDOWN_TIMEOUT", "-5s", wantStop},
		{"SHUTDOWN_TIMEOUT", "0s", wantStop},
		{"SHUTDOWN_TIMEOUT", "later", wantStop},
	}
	for _, tt := range tests {
		_, err := ConfigFromEnv(env(map[string]string{tt.name: tt.value}))
		want := "invalid " + tt.name + " " + strconv.Quote(tt.value) + ": " + tt.want
		if err == nil || err.Error() != want {
			t.Errorf("ConfigFromEnv(%s=%q) = %v\nwant: %s", tt.name, tt.value, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ConfigFromEnv(%s=%q): error spans lines: %q", tt.name, tt.value, err)
		}
	}
}

func TestCheckHealthPathLongest(t *testing.T) {
	t.Parallel()
	if err := CheckHealthPath("/" + strings.Repeat("a", 1023)); err != nil {
		t.Errorf("a 1024-character path: %v", err)
	}
}

// TestLimits pins the arithmetic between the limits: the values themselves
// are checked on a running server (TestListeningLine, hostile_test.go).
func TestLimits(t *testing.T) {
	t.Parallel()
	const albIdleTimeout = 60 * time.Second // the load balancer's default, which the stacks keep
	if IdleTimeout <= albIdleTimeout {
		t.Errorf("IdleTimeout %s must exceed the load balancer's %s", IdleTimeout, albIdleTimeout)
	}
	if DefaultShutdownTimeout < WriteTimeout {
		t.Errorf("DefaultShutdownTimeout %s is shorter than WriteTimeout %s: requests within the write timeout could be cut", DefaultShutdownTimeout, WriteTimeout)
	}
	if ReadHeaderTimeout > ReadTimeout {
		t.Errorf("ReadHeaderTimeout %s exceeds ReadTimeout %s", ReadHeaderTimeout, ReadTimeout)
	}
}
