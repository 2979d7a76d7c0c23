package serve

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Defaults of the settings that ConfigFromEnv reads. The drain and shutdown
// values are the ones the stacks pass to the container, chosen with the load
// balancer's health check and the ECS stop timeout (stacks/config.go and
// docs/stopping.md give the arithmetic): the ALB stops routing within
// 10 s of the first 503, the drain adds 5 s of margin, and WriteTimeout
// bounds what Shutdown waits for.
const (
	DefaultPort            = 5000
	DefaultHealthCheckPath = "/healthcheck"
	DefaultDrainDelay      = 15 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// maxHealthCheckPath is the load balancer's limit on a target group's
// health check path.
const maxHealthCheckPath = 1024

// Config is what Run needs besides the handler. ConfigFromEnv reads it from
// the environment that the stacks give the container.
type Config struct {
	// Port is the TCP port Run listens on, on IPv4 0.0.0.0: 1 to 65535.
	Port int
	// HealthCheckPath is the path Run answers itself, before the handler
	// sees the request; CheckHealthPath says which paths qualify.
	HealthCheckPath string
	// DrainDelay is how long the health check fails before shutdown
	// begins, while every other request is still served: 0 or more.
	DrainDelay time.Duration
	// ShutdownTimeout is how long shutdown waits for requests in flight
	// before it cuts them: above 0.
	ShutdownTimeout time.Duration
}

// ConfigFromEnv reads PORT, HEALTH_CHECK_PATH, DRAIN_DELAY and
// SHUTDOWN_TIMEOUT through getenv (os.Getenv in main). An unset or empty
// variable takes its default; a bad value is a one-line error naming the
// variable, the value and what is allowed, such as
// invalid PORT "abc": want an integer from 1 to 65535.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Port:            DefaultPort,
		HealthCheckPath: DefaultHealthCheckPath,
		DrainDelay:      DefaultDrainDelay,
		ShutdownTimeout: DefaultShutdownTimeout,
	}
	var err error
	if v := getenv("PORT"); v != "" {
		if cfg.Port, err = strconv.Atoi(v); err != nil || !validPort(cfg.Port) {
			return Config{}, invalid("PORT", v, wantPort)
		}
	}
	if v := getenv("HEALTH_CHECK_PATH"); v != "" {
		if err := CheckHealthPath(v); err != nil {
			return Config{}, invalid("HEALTH_CHECK_PATH", v, err.Error())
		}
		cfg.HealthCheckPath = v
	}
	if v := getenv("DRAIN_DELAY"); v != "" {
		if cfg.DrainDelay, err = time.ParseDuration(v); err != nil || cfg.DrainDelay < 0 {
			return Config{}, invalid("DRAIN_DELAY", v, wantDrainDelay)
		}
	}
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		if cfg.ShutdownTimeout, err = time.ParseDuration(v); err != nil || cfg.ShutdownTimeout <= 0 {
			return Config{}, invalid("SHUTDOWN_TIMEOUT", v, wantShutdownTimeout)
		}
	}
	return cfg, nil
}

const (
	wantPort            = "want an integer from 1 to 65535"
	wantDrainDelay      = "want a duration of 0s or more, such as 15s"
	wantShutdownTimeout = "want a duration above 0s, such as 10s"
)

func validPort(n int) bool { return n >= 1 && n <= 65535 }

func invalid(name, value, why string) error {
	return fmt.Errorf("invalid %s %q: %s", name, value, why)
}

// check is ConfigFromEnv's validation for a Config built in Go, naming the
// fields instead of the variables.
func (c Config) check() error {
	switch {
	case !validPort(c.Port):
		return fmt.Errorf("invalid Config.Port %d: %s", c.Port, wantPort)
	case c.DrainDelay < 0:
		return fmt.Errorf("invalid Config.DrainDelay %s: %s", c.DrainDelay, wantDrainDelay)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("invalid Config.ShutdownTimeout %s: %s", c.ShutdownTimeout, wantShutdownTimeout)
	}
	if err := CheckHealthPath(c.HealthCheckPath); err != nil {
		return invalid("Config.HealthCheckPath", c.HealthCheckPath, err.Error())
	}
	return nil
}

// CheckHealthPath reports why p cannot be the health check path, or nil. A
// good one is what the load balancer requests verbatim and what a
// http.ServeMux would route without a redirect: an absolute, clean path of
// letters, digits and - . _ ~ /, without a trailing slash (a ServeMux
// pattern ending in / matches every path below it), other than / (which
// would hide the app's own root), and at most 1024 characters long (the
// load balancer's limit).
func CheckHealthPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return errors.New("want an absolute path such as /healthcheck")
	case p == "/":
		return errors.New("want a path of its own such as /healthcheck: / is the app's")
	case len(p) > maxHealthCheckPath:
		return fmt.Errorf("want at most %d characters, the load balancer's limit", maxHealthCheckPath)
	case strings.IndexFunc(p, notPathChar) >= 0:
		return errors.New("want only letters, digits and - . _ ~ /")
	case strings.HasSuffix(p, "/"):
		return errors.New("remove the trailing slash")
	case path.Clean(p) != p:
		return errors.New(`want a clean path, without "//", "." or ".." segments`)
	}
	return nil
}

// notPathChar reports whether r is outside RFC 3986's unreserved characters
// and the slash: anything else would need escaping or mean something to a
// URL or a ServeMux pattern (? # % { } and spaces).
func notPathChar(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("-._~/", r)
}
