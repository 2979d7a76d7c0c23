package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/serve"
)

// env returns a getenv that reads from m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	defaults := config{
		Serve: serve.Config{
			Port:            5000,
			HealthCheckPath: "/healthcheck",
			DrainDelay:      15 * time.Second,
			ShutdownTimeout: 10 * time.Second,
		},
		AllowedOrigins: []string{"*"},
		LogLevel:       slog.LevelInfo,
	}
	with := func(f func(*config)) config {
		c := defaults
		f(&c)
		return c
	}
	tests := []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", nil, defaults},
		{"empty values are defaults", map[string]string{"PORT": "", "CORS_ALLOWED_ORIGINS": "", "LOG_LEVEL": ""}, defaults},
		{"serve's settings", map[string]string{"PORT": "8080", "HEALTH_CHECK_PATH": "/ready", "DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "1m30s"},
			with(func(c *config) {
				c.Serve = serve.Config{Port: 8080, HealthCheckPath: "/ready", DrainDelay: 0, ShutdownTimeout: 90 * time.Second}
			})},
		{"origins", map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example.com, http://localhost:3000,https://[::1]:8443"},
			with(func(c *config) {
				c.AllowedOrigins = []string{"https://a.example.com", "http://localhost:3000", "https://[::1]:8443"}
			})},
		{"wildcard with spaces", map[string]string{"CORS_ALLOWED_ORIGINS": " * "}, defaults},
		{"credentials with listed origins", map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example.com", "CORS_ALLOW_CREDENTIALS": "true"},
			with(func(c *config) { c.AllowedOrigins = []string{"https://a.example.com"}; c.AllowCredentials = true })},
		{"credentials false with wildcard", map[string]string{"CORS_ALLOW_CREDENTIALS": "false"}, defaults},
		{"log level", map[string]string{"LOG_LEVEL": "debug"}, with(func(c *config) { c.LogLevel = slog.LevelDebug })},
		{"log level any case", map[string]string{"LOG_LEVEL": "WARN"}, with(func(c *config) { c.LogLevel = slog.LevelWarn })},
		{"log level error", map[string]string{"LOG_LEVEL": "error"}, with(func(c *config) { c.LogLevel = slog.LevelError })},
		{"access log", map[string]string{"ACCESS_LOG": "true"}, with(func(c *config) { c.AccessLog = true })},
	}
	for _, tt := range tests {
		got, err := parseConfig(env(tt.env))
		if err != nil {
			t.Errorf("%s: parseConfig: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: parseConfig = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	const credentials = `invalid CORS_ALLOW_CREDENTIALS "true": want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials`
	tests := []struct {
		env  map[string]string
		want string
	}{
		// serve's settings, which serve's tests cover one by one.
		{map[string]string{"PORT": "abc"}, `invalid PORT "abc": want an integer from 1 to 65535`},
		{map[string]string{"HEALTH_CHECK_PATH": "healthcheck"}, `invalid HEALTH_CHECK_PATH "healthcheck": want an absolute path such as /healthcheck`},
		{map[string]string{"DRAIN_DELAY": "soon"}, `invalid DRAIN_DELAY "soon": want a duration of 0s or more, such as 15s`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, `invalid SHUTDOWN_TIMEOUT "0s": want a duration above 0s, such as 10s`},
		// The app's own.
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example.com, https://b.example.com/"},
			`invalid CORS_ALLOWED_ORIGINS "https://a.example.com, https://b.example.com/": entry "https://b.example.com/": remove the trailing slash`},
		{map[string]string{"LOG_LEVEL": "loud"}, `invalid LOG_LEVEL "loud": want debug, info, warn or error`},
		{map[string]string{"LOG_LEVEL": "info+2"}, `invalid LOG_LEVEL "info+2": want debug, info, warn or error`},
		{map[string]string{"ACCESS_LOG": "maybe"}, `invalid ACCESS_LOG "maybe": want true or false`},
		{map[string]string{"CORS_ALLOW_CREDENTIALS": "yes"}, `invalid CORS_ALLOW_CREDENTIALS "yes": want true or false`},
		{map[string]string{"CORS_ALLOW_CREDENTIALS": "true"}, credentials},
		{map[string]string{"CORS_ALLOW_CREDENTIALS": "true", "CORS_ALLOWED_ORIGINS": "*"}, credentials},
	}
	for _, tt := range tests {
		_, err := parseConfig(env(tt.env))
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseConfig(%v) = %v\nwant: %s", tt.env, err, tt.want)
		}
	}
}

// TestOriginsTable reads the table of CORS origin values that package
// origin and the stacks test against too, so that the service accepts
// exactly what synth lets through to a task.
func TestOriginsTable(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../origin/testdata/origins.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Good []string          `json:"good"`
		Bad  map[string]string `json:"bad"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatalf("origins.json: %v", err)
	}
	if len(table.Good) == 0 || len(table.Bad) == 0 {
		t.Fatal("origins.json has an empty list")
	}
	for _, v := range table.Good {
		if _, err := parseConfig(env(map[string]string{"CORS_ALLOWED_ORIGINS": v})); err != nil {
			t.Errorf("CORS_ALLOWED_ORIGINS=%q: %v, want it accepted", v, err)
		}
	}
	for v, reason := range table.Bad {
		cfg, err := parseConfig(env(map[string]string{"CORS_ALLOWED_ORIGINS": v}))
		if v == "" {
			// An empty variable is an unset one here, as for every
			// setting: the default. The stacks refuse the empty value, so
			// no task gets it.
			if err != nil || !reflect.DeepEqual(cfg.AllowedOrigins, []string{"*"}) {
				t.Errorf(`CORS_ALLOWED_ORIGINS="" = %q, %v; want the default *`, cfg.AllowedOrigins, err)
			}
			continue
		}
		prefix := "invalid CORS_ALLOWED_ORIGINS " + strconv.Quote(v) + `: entry "`
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), `": `+reason) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("CORS_ALLOWED_ORIGINS=%q: %v\nwant one line: %s...\": %s", v, err, prefix, reason)
		}
	}
}
