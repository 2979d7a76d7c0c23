// Service is the web service deployed on ECS Fargate behind an Application
// Load Balancer: it answers / and /healthcheck, and stops without dropping
// requests when ECS or a Spot interruption sends SIGTERM.
//
// It is configured through environment variables; see parseConfig.
package main

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

// HTTP server limits.
const (
	// readHeaderTimeout closes connections that are slow to send headers
	// (slowloris).
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request, body included.
	readTimeout = 10 * time.Second
	// writeTimeout bounds a response; it is why shutdown needs at most 10 s.
	writeTimeout = 10 * time.Second
	// idleTimeout must exceed the ALB's 60 s idle timeout: if the target
	// closed a keep-alive connection first, the ALB could send a request on
	// it and answer the client 502.
	idleTimeout = 75 * time.Second
	// maxHeaderBytes is the ALB's own limit on request headers; larger ones
	// get 431.
	maxHeaderBytes = 64 << 10
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		os.Exit(1)
	}
}

// run serves until ctx is cancelled or the process gets SIGTERM or SIGINT,
// then drains and shuts down gracefully. It reports its own errors (a bad
// setting as one plain line on stderr, since the logger depends on the
// settings; anything later through the JSON logger on stdout) and returns
// them so that main exits non-zero.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := parseConfig(getenv)
	if err == nil && len(args) > 1 {
		err = fmt.Errorf("unexpected arguments %q: the service is configured by environment variables", args[1:])
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := serve(ctx, stop, logger, cfg); err != nil {
		logger.Error("stopped with error", "error", err)
		return err
	}
	return nil
}

// serve listens on cfg.Port until ctx is done, then runs the stop sequence:
// /healthcheck answers 503 for cfg.DrainDelay while every other route is
// still served, then in-flight requests get up to cfg.ShutdownTimeout to
// finish. stop restores default signal handling so that a second Ctrl-C
// kills a local run at once.
func serve(ctx context.Context, stop func(), logger *slog.Logger, cfg config) error {
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           NewServer(logger, cfg, &draining),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	// tcp4: "tcp" would turn 0.0.0.0 into a dual-stack [::] socket.
	ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String(), "idle_timeout", idleTimeout.String(), "config", cfg)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	stop()

	draining.Store(true)
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
