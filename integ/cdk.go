package integ

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// CLI runs the pinned CDK CLI (the Makefile's) for a test app, from the
// repository root so that cdk.json applies. It writes the cloud assembly and
// the outputs file to OutDir, and puts cdk.context.json back as it was, so a
// test run leaves the user's cdk.out, cdk-outputs.json and working tree
// alone.
type CLI struct {
	Root   string // the repository root, where cdk.json is
	Bin    string // the CLI; Root/.cdk-cli/node_modules/.bin/cdk when empty
	OutDir string // a directory of the test's own
	Stdout io.Writer
	Stderr io.Writer
	// StopGrace is how long the CLI gets to exit after SIGTERM when the
	// context ends, before it is killed (30 s when zero).
	StopGrace time.Duration
}

// Overrides are the context values a test app gets on top of cdk.json: its
// own name; the account and region of the credentials; and no custom domain
// (zone or certificate) or alarm e-mail, which belong to the real deployment
// (a second alias record for the same domain would collide with it).
func Overrides(app string) []string {
	return []string{
		"appName=" + app,
		"account=", "region=",
		"domainName=", "hostedZoneId=", "hostedZoneName=", "certificateArn=",
		"alarmEmail=",
	}
}

// Deploy deploys all of app's stacks without asking for approval and
// returns the path of the outputs file the CLI wrote.
func (c *CLI) Deploy(ctx context.Context, app string) (string, error) {
	outputs := filepath.Join(c.OutDir, "cdk-outputs.json")
	return outputs, c.run(ctx, app, "deploy", "--all", "--require-approval", "never", "--outputs-file", outputs)
}

// Destroy deletes all of app's stacks without asking.
func (c *CLI) Destroy(ctx context.Context, app string) error {
	return c.run(ctx, app, "destroy", "--all", "--force")
}

func (c *CLI) run(ctx context.Context, app string, args ...string) (err error) {
	if err := CheckAppName(app); err != nil {
		return err
	}
	bin := c.Bin
	if bin == "" {
		bin = filepath.Join(c.Root, ".cdk-cli", "node_modules", ".bin", "cdk")
	}
	args = append(args, "--output", filepath.Join(c.OutDir, "cdk.out"))
	for _, o := range Overrides(app) {
		args = append(args, "-c", o)
	}
	// With credentials the CLI looks up the account's Availability Zones
	// and caches them in cdk.context.json.
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return err
	}
	restore, err := preserve(filepath.Join(c.Root, "cdk.context.json"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, restore()) }()

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.Root
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	grace := c.StopGrace
	if grace == 0 {
		grace = 30 * time.Second
	}
	killRest := stopGroupOnCancel(cmd, grace)
	err = cmd.Run()
	if ctx.Err() != nil {
		killRest()
	}
	if err != nil {
		return fmt.Errorf("integ: cdk %s for %s: %w", args[0], app, err)
	}
	return nil
}

// preserve saves a file's content (or its absence) and returns a function
// that puts it back.
func preserve(path string) (func() error, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return func() error {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}, nil
	case err != nil:
		return nil, err
	}
	return func() error { return os.WriteFile(path, data, 0o644) }, nil
}
