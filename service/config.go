package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for the stop sequence. They are the values the stacks pass to the
// container, chosen together with the load balancer's health check and the
// ECS stop timeout; stacks/config.go (and the README, "Stopping") give the
// arithmetic: the ALB stops routing within 10 s of the first 503, the drain
// adds 5 s of margin, and writeTimeout bounds what Shutdown waits for.
const (
	defaultPort            = 5000
	defaultDrainDelay      = 15 * time.Second
	defaultShutdownTimeout = 10 * time.Second
)

// config is the service's settings, read from the environment by parseConfig.
type config struct {
	Port             int
	AllowedOrigins   []string // "*" alone, or exact origins
	AllowCredentials bool
	DrainDelay       time.Duration
	ShutdownTimeout  time.Duration
	LogLevel         slog.Level
	AccessLog        bool
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// parseConfig reads the settings from getenv. An unset or empty variable
// takes its default; a bad value is an error naming the variable, the value
// and what is allowed, in one line.
func parseConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Port:            defaultPort,
		AllowedOrigins:  []string{"*"},
		DrainDelay:      defaultDrainDelay,
		ShutdownTimeout: defaultShutdownTimeout,
		LogLevel:        slog.LevelInfo,
	}
	var err error
	if v := getenv("PORT"); v != "" {
		cfg.Port, err = strconv.Atoi(v)
		if err != nil || cfg.Port < 1 || cfg.Port > 65535 {
			return config{}, invalid("PORT", v, "an integer from 1 to 65535")
		}
	}
	if v := getenv("CORS_ALLOWED_ORIGINS"); v != "" {
		if cfg.AllowedOrigins, err = parseOrigins(v); err != nil {
			return config{}, err
		}
	}
	if v := getenv("CORS_ALLOW_CREDENTIALS"); v != "" {
		if cfg.AllowCredentials, err = strconv.ParseBool(v); err != nil {
			return config{}, invalid("CORS_ALLOW_CREDENTIALS", v, "true or false")
		}
	}
	// A wildcard with credentials would let any site make credentialed reads.
	if cfg.AllowCredentials && cfg.AllowedOrigins[0] == "*" {
		return config{}, fmt.Errorf("invalid CORS_ALLOW_CREDENTIALS %q: want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials", getenv("CORS_ALLOW_CREDENTIALS"))
	}
	if v := getenv("DRAIN_DELAY"); v != "" {
		if cfg.DrainDelay, err = time.ParseDuration(v); err != nil || cfg.DrainDelay < 0 {
			return config{}, invalid("DRAIN_DELAY", v, "a duration of 0s or more, such as 15s")
		}
	}
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		if cfg.ShutdownTimeout, err = time.ParseDuration(v); err != nil || cfg.ShutdownTimeout <= 0 {
			return config{}, invalid("SHUTDOWN_TIMEOUT", v, "a duration above 0s, such as 10s")
		}
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		var ok bool
		if cfg.LogLevel, ok = logLevels[strings.ToLower(v)]; !ok {
			return config{}, invalid("LOG_LEVEL", v, "debug, info, warn or error")
		}
	}
	if v := getenv("ACCESS_LOG"); v != "" {
		if cfg.AccessLog, err = strconv.ParseBool(v); err != nil {
			return config{}, invalid("ACCESS_LOG", v, "true or false")
		}
	}
	return cfg, nil
}

// parseOrigins splits a comma-separated CORS_ALLOWED_ORIGINS value and checks
// that it is "*" alone or a list of exact http(s) origins.
func parseOrigins(v string) ([]string, error) {
	const want = "* or comma-separated origins such as https://example.com or http://localhost:3000"
	var origins []string
	for o := range strings.SplitSeq(v, ",") {
		o = strings.TrimSpace(o)
		if o == "*" && strings.TrimSpace(v) == "*" {
			return []string{"*"}, nil
		}
		if !validOrigin(o) {
			return nil, fmt.Errorf("invalid CORS_ALLOWED_ORIGINS %q: entry %q is not an origin; want %s", v, o, want)
		}
		origins = append(origins, o)
	}
	return origins, nil
}

// validOrigin reports whether o is scheme://host[:port] with scheme http or
// https, as browsers send it in the Origin header: no path, query, user info
// or trailing slash. rs/cors would treat a "*" inside an entry as a pattern;
// only exact origins are accepted here.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" ||
		u.ForceQuery || u.Fragment != "" || strings.ContainsAny(u.Host, "*/") ||
		u.Hostname() == "" {
		return false
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 65535
	}
	return true
}

func invalid(name, value, want string) error {
	return fmt.Errorf("invalid %s %q: want %s", name, value, want)
}

// LogValue makes the startup log line show durations as text (15s) rather
// than nanoseconds.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.Any("cors_allowed_origins", c.AllowedOrigins),
		slog.Bool("cors_allow_credentials", c.AllowCredentials),
		slog.String("drain_delay", c.DrainDelay.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("log_level", c.LogLevel.String()),
		slog.Bool("access_log", c.AccessLog),
	)
}
