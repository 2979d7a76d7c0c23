// Command integ-clean removes what an integration test run left in the
// account and region of the credentials. `make integ-clean APP=<app>` runs
// it with the app name that `make integ` printed: it destroys the app's
// stacks with the pinned CDK CLI and deletes the bucket and log groups they
// retain. Without an app it lists the test apps that still have stacks.
// It refuses any name that is not a test app's (fargo-integ-…).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/fargo-cdk/fargo/integ"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("integ-clean", flag.ContinueOnError)
	flags.SetOutput(stderr)
	app := flags.String("app", "", "the test app to remove, as make integ printed it (fargo-integ-…)")
	root := flags.String("root", ".", "the repository root, where cdk.json is")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *app != "" {
		if err := integ.CheckAppName(*app); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, account, err := integ.Preflight(ctx, false)
	if err != nil {
		return err
	}
	cf := cloudformation.NewFromConfig(cfg)
	if *app == "" {
		apps, err := integ.Leftovers(ctx, cf)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "test apps with stacks in account %s, region %s: %d\n", account, cfg.Region, len(apps))
		for _, a := range apps {
			fmt.Fprintf(stdout, "  make integ-clean APP=%s\n", a)
		}
		return nil
	}
	rootDir, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	outDir, err := os.MkdirTemp("", "integ-clean-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(outDir)
	fmt.Fprintf(stdout, "removing %s from account %s, region %s\n", *app, account, cfg.Region)
	td := &integ.Teardown{
		App:            *app,
		CLI:            &integ.CLI{Root: rootDir, OutDir: outDir, Stdout: stdout, Stderr: stderr},
		CloudFormation: cf,
		S3:             s3.NewFromConfig(cfg),
		Logs:           cloudwatchlogs.NewFromConfig(cfg),
		Poll:           15 * time.Second,
		RetryAfter:     time.Minute,
		Logf:           func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) },
	}
	if err := td.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: nothing left\n", *app)
	return nil
}
