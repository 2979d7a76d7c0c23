// Command deployrole synthesizes the optional stack <appName>-DeployRole:
// the IAM role, and if needed GitHub's OIDC provider, that lets the deploy
// job of one GitHub repository, in its production environment, run `cdk
// deploy`. It is its own CDK app so that `make deploy` never deploys it;
// `make deploy-role REPO=owner@owner-id/name@repo-id [ENV=staging]` does
// (docs/ci.md); each environment of the promotion workflow has its own.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fargo-cdk/fargo/stacks"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := stacks.LoadDeployRoleConfig(app)
	if err != nil {
		return err
	}
	stacks.NewDeployRole(app, cfg)
	app.Synth(nil)
	return nil
}
