// Package serve runs any http.Handler the way a task behind an Application
// Load Balancer must run: on IPv4 0.0.0.0 at the configured port, with
// server limits that suit the load balancer, a health check answered before
// the handler sees the request, and a stop that loses no request.
//
// On SIGTERM or SIGINT (or when the context ends), the health check answers
// 503 at once so that the load balancer stops routing here, every other
// request is still served for the drain delay, then requests in flight get
// up to the shutdown timeout to finish. The stacks set the settings as
// environment variables, which ConfigFromEnv reads:
//
//	cfg, err := serve.ConfigFromEnv(os.Getenv)
//	if err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		os.Exit(1)
//	}
//	if err := serve.Run(context.Background(), logger, cfg, mux); err != nil {
//		logger.Error("stopped with error", "error", err)
//		os.Exit(1)
//	}
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Server limits. They are not settings: the load balancer's timeouts and
// the stop sequence are computed from them.
const (
	// ReadHeaderTimeout closes connections that are slow to send their
	// headers (slowloris).
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 10 * time.Second
	// WriteTimeout bounds a response, from the end of its request's
	// headers. A handler must finish within it: its writes fail after, and
	// the default shutdown timeout waits no longer than this.
	WriteTimeout = 10 * time.Second
	// IdleTimeout must exceed the ALB's 60 s idle timeout: if the server
	// closed a keep-alive connection first, the ALB could send a request
	// on it and answer the client 502.
	IdleTimeout = 75 * time.Second
	// MaxHeaderBytes is the ALB's own limit on request headers; larger ones
	// get 431.
	MaxHeaderBytes = 64 << 10
)

// Run serves h on IPv4 0.0.0.0:cfg.Port until ctx is done or the process
// gets SIGTERM or SIGINT, then drains and shuts down as the package comment
// says. It answers cfg.HealthCheckPath itself and hands every other request
// to h (http.DefaultServeMux if nil, as in http.Server). It logs through
// logger (slog.Default() if nil): a "listening" line with the address and
// the effective limits, then one line per stop phase.
//
// Run returns nil after a clean stop, or an error: a bad cfg, a port it
// cannot listen on, a failed server, or requests still in flight after
// cfg.ShutdownTimeout, which it then cuts. After the first signal a second
// one is no longer caught, so a second Ctrl-C ends a local run at once.
func Run(ctx context.Context, logger *slog.Logger, cfg Config, h http.Handler) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.Default()
	}
	if h == nil {
		h = http.DefaultServeMux
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	health := newHandler(cfg.HealthCheckPath, h)
	srv := &http.Server{
		Handler:           health,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	// tcp4: "tcp" would turn 0.0.0.0 into a dual-stack [::] socket.
	ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	logger.Info("listening",
		"addr", ln.Addr().String(),
		"health_check_path", cfg.HealthCheckPath,
		"read_header_timeout", srv.ReadHeaderTimeout.String(),
		"read_timeout", srv.ReadTimeout.String(),
		"write_timeout", srv.WriteTimeout.String(),
		"idle_timeout", srv.IdleTimeout.String(),
		"max_header_bytes", srv.MaxHeaderBytes,
		"drain_delay", cfg.DrainDelay.String(),
		"shutdown_timeout", cfg.ShutdownTimeout.String(),
	)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	stop()

	health.draining.Store(true)
	logger.Info("draining", "cause", context.Cause(ctx).Error(), "drain_delay", cfg.DrainDelay.String())
	select {
	case err := <-serveErr:
		return err
	case <-time.After(cfg.DrainDelay):
	}

	logger.Info("shutting down", "shutdown_timeout", cfg.ShutdownTimeout.String())
	// ctx is already done: the grace period needs a fresh context.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: requests still in flight after %s were cut: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// handler answers the health check and passes everything else to the app.
// The health check skips the app's middleware (CORS, access logs): the load
// balancer sends it every few seconds from each of its nodes.
type handler struct {
	healthPath string
	app        http.Handler
	// draining turns the health check to 503 once the stop has begun.
	draining atomic.Bool
}

func newHandler(healthPath string, app http.Handler) *handler {
	return &handler{healthPath: healthPath, app: app}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.healthPath {
		h.app.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Expires", "0")
	if h.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `"Draining"`)
		return
	}
	io.WriteString(w, `"Healthy"`)
}
