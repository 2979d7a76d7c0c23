package main

import (
	"log/slog"
	"reflect"
	"testing"
	"time"
)

// env returns a getenv that reads from m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	defaults := config{
		Port:            5000,
		AllowedOrigins:  []string{"*"},
		DrainDelay:      15 * time.Second,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        slog.LevelInfo,
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
		{"empty values are defaults", map[string]string{"PORT": "", "DRAIN_DELAY": "", "LOG_LEVEL": ""}, defaults},
		{"port", map[string]string{"PORT": "8080"}, with(func(c *config) { c.Port = 8080 })},
		{"lowest port", map[string]string{"PORT": "1"}, with(func(c *config) { c.Port = 1 })},
		{"highest port", map[string]string{"PORT": "65535"}, with(func(c *config) { c.Port = 65535 })},
		{"origins", map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example.com, http://localhost:3000,https://[::1]:8443"},
			with(func(c *config) {
				c.AllowedOrigins = []string{"https://a.example.com", "http://localhost:3000", "https://[::1]:8443"}
			})},
		{"wildcard with spaces", map[string]string{"CORS_ALLOWED_ORIGINS": " * "}, defaults},
		{"credentials with listed origins", map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example.com", "CORS_ALLOW_CREDENTIALS": "true"},
			with(func(c *config) { c.AllowedOrigins = []string{"https://a.example.com"}; c.AllowCredentials = true })},
		{"credentials false with wildcard", map[string]string{"CORS_ALLOW_CREDENTIALS": "false"}, defaults},
		{"durations", map[string]string{"DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "1m30s"},
			with(func(c *config) { c.DrainDelay = 0; c.ShutdownTimeout = 90 * time.Second })},
		{"log level", map[string]string{"LOG_LEVEL": "debug"}, with(func(c *config) { c.LogLevel = slog.LevelDebug })},
		{"log level any case", map[string]string{"LOG_LEVEL": "WARN"}, with(func(c *config) { c.LogLevel = slog.LevelWarn })},
		{"log level error", map[string]string{"LOG_LEVEL": "error"}, with(func(c *config) { c.LogLevel = slog.LevelError })},
		{"access log", map[string]string{"ACCESS_LOG": "true"}, with(func(c *config) { c.AccessLog = true })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseConfig(env(tt.env))
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	const wantOrigins = "want * or comma-separated origins such as https://example.com or http://localhost:3000"
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PORT": "abc"}, `invalid PORT "abc": want an integer from 1 to 65535`},
		{map[string]string{"PORT": "70000"}, `invalid PORT "70000": want an integer from 1 to 65535`},
		{map[string]string{"PORT": "0"}, `invalid PORT "0": want an integer from 1 to 65535`},
		{map[string]string{"PORT": "-1"}, `invalid PORT "-1": want an integer from 1 to 65535`},
		{map[string]string{"PORT": " 80"}, `invalid PORT " 80": want an integer from 1 to 65535`},
		{map[string]string{"DRAIN_DELAY": "soon"}, `invalid DRAIN_DELAY "soon": want a duration of 0s or more, such as 15s`},
		{map[string]string{"DRAIN_DELAY": "15"}, `invalid DRAIN_DELAY "15": want a duration of 0s or more, such as 15s`},
		{map[string]string{"DRAIN_DELAY": "-1s"}, `invalid DRAIN_DELAY "-1s": want a duration of 0s or more, such as 15s`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "-5s"}, `invalid SHUTDOWN_TIMEOUT "-5s": want a duration above 0s, such as 10s`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, `invalid SHUTDOWN_TIMEOUT "0s": want a duration above 0s, such as 10s`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "later"}, `invalid SHUTDOWN_TIMEOUT "later": want a duration above 0s, such as 10s`},
		{map[string]string{"LOG_LEVEL": "loud"}, `invalid LOG_LEVEL "loud": want debug, info, warn or error`},
		{map[string]string{"LOG_LEVEL": "info+2"}, `invalid LOG_LEVEL "info+2": want debug, info, warn or error`},
		{map[string]string{"ACCESS_LOG": "maybe"}, `invalid ACCESS_LOG "maybe": want true or false`},
		{map[string]string{"CORS_ALLOW_CREDENTIALS": "yes"}, `invalid CORS_ALLOW_CREDENTIALS "yes": want true or false`},
		{map[string]string{"CORS_ALLOW_CREDENTIALS": "true"},
			`invalid CORS_ALLOW_CREDENTIALS "true": want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials`},
		{map[string]string{"CORS_ALLOW_CREDENTIALS": "true", "CORS_ALLOWED_ORIGINS": "*"},
			`invalid CORS_ALLOW_CREDENTIALS "true": want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials`},
	}
	for _, origins := range []struct{ value, entry string }{
		{"example.com", "example.com"},
		{"https://example.com/", "https://example.com/"},
		{"https://example.com/app", "https://example.com/app"},
		{"https://example.com?x=1", "https://example.com?x=1"},
		{"https://example.com#top", "https://example.com#top"},
		{"https://user@example.com", "https://user@example.com"},
		{"https://example.com:0", "https://example.com:0"},
		{"https://example.com:99999", "https://example.com:99999"},
		{"https://example.com:", "https://example.com:"},
		{"https://*.example.com", "https://*.example.com"},
		{"ftp://example.com", "ftp://example.com"},
		{"https://", "https://"},
		{"null", "null"},
		{"https://a.example.com,", ""},
		{"https://a.example.com,*", "*"},
		{"*,https://a.example.com", "*"},
	} {
		tests = append(tests, struct {
			env  map[string]string
			want string
		}{
			map[string]string{"CORS_ALLOWED_ORIGINS": origins.value},
			`invalid CORS_ALLOWED_ORIGINS "` + origins.value + `": entry "` + origins.entry + `" is not an origin; ` + wantOrigins,
		})
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(env(tt.env))
			if err == nil {
				t.Fatalf("parseConfig(%v) succeeded, want error %q", tt.env, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("parseConfig(%v) error\n got: %s\nwant: %s", tt.env, err, tt.want)
			}
		})
	}
}
