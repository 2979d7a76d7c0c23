// Service is the hello-world web service deployed on ECS Fargate behind an
// Application Load Balancer. Its routes are in routes.go; package serve
// runs them, answers the load balancer's health check and stops without
// dropping requests when ECS or a Spot interruption sends SIGTERM.
//
// It is configured through environment variables; see parseConfig.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/fargo-cdk/fargo/serve"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		os.Exit(1)
	}
}

// run serves until ctx is cancelled or the process gets SIGTERM or SIGINT,
// then drains and shuts down gracefully (serve.Run). It reports its own
// errors (a bad setting as one plain line on stderr, since the logger
// depends on the settings; anything later through the JSON logger on
// stdout) and returns them so that main exits non-zero.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(getenv)
	if err == nil && len(args) > 1 {
		err = fmt.Errorf("unexpected arguments %q: the service is configured by environment variables", args[1:])
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	logger.Info("starting", "config", cfg)
	if err := serve.Run(ctx, logger, cfg.Serve, NewServer(logger, cfg)); err != nil {
		logger.Error("stopped with error", "error", err)
		return err
	}
	return nil
}
