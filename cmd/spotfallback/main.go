// Command spotfallback is the Lambda function (runtime provided.al2023,
// handler binary bootstrap) that moves the service to on-demand Fargate when
// Fargate Spot runs out, and back; see package fallback. The Service stack
// builds it and passes its settings as environment variables.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/fargo-cdk/fargo/fallback"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	f, err := setup(log)
	if err != nil {
		// A misconfigured function says why on every cold start.
		log.Error("spot fallback cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, payload json.RawMessage) (fallback.Outcome, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok {
			return "", fmt.Errorf("no Lambda context")
		}
		return f.Handle(ctx, lc.InvokedFunctionArn, payload)
	})
}

func setup(log *slog.Logger) (*fallback.Fallback, error) {
	env := func(key string) (string, error) {
		v := os.Getenv(key)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", key)
		}
		return v, nil
	}
	duration := func(key string) (time.Duration, error) {
		v, err := env(key)
		if err != nil {
			return 0, err
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("environment variable %s=%q: want a positive duration such as 30m", key, v)
		}
		return d, nil
	}
	var c fallback.Config
	var err error
	for _, v := range []struct {
		key string
		dst *string
	}{
		{"CLUSTER_ARN", &c.ClusterArn},
		{"SERVICE_ARN", &c.ServiceArn},
		{"STACK_ID", &c.StackID},
		{"SCHEDULE_GROUP", &c.ScheduleGroup},
		{"SCHEDULE_NAME", &c.ScheduleName},
		{"SCHEDULER_ROLE_ARN", &c.SchedulerRoleArn},
	} {
		if *v.dst, err = env(v.key); err != nil {
			return nil, err
		}
	}
	c.TopicArn = os.Getenv("TOPIC_ARN")
	spot, err := env("SPOT_STRATEGY")
	if err != nil {
		return nil, err
	}
	if c.Spot, err = fallback.ParseStrategy(spot); err != nil {
		return nil, err
	}
	if c.QuietPeriod, err = duration("QUIET_PERIOD"); err != nil {
		return nil, err
	}
	if c.MaxQuietPeriod, err = duration("MAX_QUIET_PERIOD"); err != nil {
		return nil, err
	}
	if c.ResetAfter, err = duration("BACKOFF_RESET_AFTER"); err != nil {
		return nil, err
	}
	if c.RetryAfter, err = duration("RETRY_AFTER"); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, err
	}
	return &fallback.Fallback{
		Config:    c,
		ECS:       ecs.NewFromConfig(cfg),
		Scheduler: scheduler.NewFromConfig(cfg),
		SNS:       sns.NewFromConfig(cfg),
		Stacks:    cloudformation.NewFromConfig(cfg),
		Now:       time.Now,
		Log:       log,
	}, nil
}
