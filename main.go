// Command fargo synthesizes the four CloudFormation stacks that run the Go
// web service in service/ on ECS Fargate Spot behind a load balancer.
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
	cfg, err := stacks.LoadConfig(app, os.Getenv)
	if err != nil {
		return err
	}
	images, err := stacks.NewImages(".", cfg)
	if err != nil {
		return err
	}
	stacks.New(app, cfg, images)
	app.Synth(nil)
	return nil
}
