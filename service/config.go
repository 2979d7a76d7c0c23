package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/fargo-cdk/fargo/origin"
	"github.com/fargo-cdk/fargo/serve"
)

// config is the service's settings, read from the environment by
// parseConfig.
type config struct {
	// Serve is what serve.Run needs: PORT, HEALTH_CHECK_PATH, DRAIN_DELAY
	// and SHUTDOWN_TIMEOUT.
	Serve            serve.Config
	AllowedOrigins   []string // "*" alone, or exact origins
	AllowCredentials bool
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
	srv, err := serve.ConfigFromEnv(getenv)
	if err != nil {
		return config{}, err
	}
	cfg := config{
		Serve:          srv,
		AllowedOrigins: []string{origin.Any},
		LogLevel:       slog.LevelInfo,
	}
	if v := getenv("CORS_ALLOWED_ORIGINS"); v != "" {
		if cfg.AllowedOrigins, err = origin.ParseList(v); err != nil {
			return config{}, fmt.Errorf("invalid CORS_ALLOWED_ORIGINS %q: %w", v, err)
		}
	}
	if v := getenv("CORS_ALLOW_CREDENTIALS"); v != "" {
		if cfg.AllowCredentials, err = strconv.ParseBool(v); err != nil {
			return config{}, invalid("CORS_ALLOW_CREDENTIALS", v, "true or false")
		}
	}
	// A wildcard with credentials would let any site make credentialed reads.
	if cfg.AllowCredentials && cfg.AllowedOrigins[0] == origin.Any {
		return config{}, fmt.Errorf("invalid CORS_ALLOW_CREDENTIALS %q: want false while CORS_ALLOWED_ORIGINS is *; list the allowed origins to use credentials", getenv("CORS_ALLOW_CREDENTIALS"))
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

func invalid(name, value, want string) error {
	return fmt.Errorf("invalid %s %q: want %s", name, value, want)
}

// LogValue is the start-up log line's view of the app's own settings; serve
// logs its own (port, health check path, timings) when it listens.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("cors_allowed_origins", c.AllowedOrigins),
		slog.Bool("cors_allow_credentials", c.AllowCredentials),
		slog.String("log_level", c.LogLevel.String()),
		slog.Bool("access_log", c.AccessLog),
	)
}
