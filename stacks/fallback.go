package stacks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/fargo-cdk/fargo/fallback"
)

// The fallback's back-off. The service stays on on-demand for
// spotFallbackQuietMinutes after a first fallback: each move is a whole
// rolling deployment, so a shorter wait would spend more time replacing
// tasks than serving from them. Each fallback within
// spotFallbackResetAfter of the last return to Spot doubles the wait, up to
// spotFallbackMaxQuietFactor times the first one (30 min grows to 4 h):
// a region short of Spot capacity for hours is not probed every half hour,
// and a day of Spot without a failure starts afresh. The largest allowed
// quiet period times the factor stays within the reset window, so a long
// wait cannot itself reset the back-off.
const (
	spotFallbackMaxQuietFactor = 8
	spotFallbackResetAfter     = 24 * time.Hour
	spotFallbackMinQuiet       = 5 * time.Minute
	spotFallbackMaxQuiet       = spotFallbackResetAfter / spotFallbackMaxQuietFactor
)

// spotFallbackScheduleName is the schedule, in the fallback's own group,
// that holds its state and brings Spot back. The group also holds the
// function's lock and its retry (fallback.LockScheduleName,
// fallback.RetryScheduleName).
const spotFallbackScheduleName = "restore-spot"

// spotFallbackRetryAfter is how long the function waits when the service's
// stack has an operation in progress, or another invocation is acting:
// about the time a stack update without a new deployment takes.
const spotFallbackRetryAfter = 5 * time.Minute

// spotFallbackPackage is the Lambda's main package, built for the function.
const spotFallbackPackage = "github.com/fargo-cdk/fargo/cmd/spotfallback"

// spotFallback adds what moves the service to on-demand Fargate when ECS
// cannot place its Spot tasks for lack of capacity, and back after a quiet
// period (package fallback): an EventBridge rule for exactly that event of
// exactly this service, the Go function it invokes, the schedule group
// whose schedules bring Spot back, and the roles, each scoped to this
// service, that schedule and that function. topic is the alarm topic, nil
// without alarmEmail.
//
// With the fallback on, the function owns the service's capacity-provider
// strategy and the template carries none (service.go). CloudFormation
// sends the template's strategy with every update of the service (the
// AWS::ECS::Service reference's note of June 2025: a template that keeps
// `CapacityProviderStrategy: []` unchanged fails with "you must force a
// new deployment", aws/aws-cdk#34631), and forces a deployment only when
// the nonce changes; during a fallback the template's Spot strategy is not
// the service's, so every deploy that touched the service would fail (and
// its rollback too) or, forced, end the fallback. The note's own remedy is
// to leave the property out. The function applies the template's strategy
// instead, at the end of each operation on this stack (a second rule, on
// CloudFormation's Stack Status Change events), and never acts while one is
// in progress: CloudFormation waits on the deployment the update started,
// and a forced deployment would replace it.
func spotFallback(stack awscdk.Stack, cfg Config, service awsecs.FargateService, cluster awsecs.ICluster, topic awssns.ITopic) {
	if !cfg.SpotFallback {
		return
	}
	// CloudFormation names the group: a literal name would collide with a
	// second service's, and with the group of a destroyed stack, which
	// Scheduler deletes asynchronously, on a redeploy. Deleting the group
	// (the L1's default deletion policy) deletes its schedules: nothing is
	// left to fire at a function that is gone.
	group := awsscheduler.NewCfnScheduleGroup(stack, jsii.String("SpotFallbackSchedules"), &awsscheduler.CfnScheduleGroupProps{})
	group.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	groupName := group.Ref()
	// The group's three schedules: the state, the lock and the retry.
	var schedules []*string
	for _, name := range []string{spotFallbackScheduleName, fallback.LockScheduleName, fallback.RetryScheduleName} {
		schedules = append(schedules, stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("scheduler"), Resource: jsii.String("schedule"),
			ResourceName: awscdk.Fn_Join(jsii.String("/"), &[]*string{groupName, jsii.String(name)}),
		}))
	}
	// The cluster's ARN from the name that the service already imports: a
	// new export would tie the Cluster stack to this switch, and turning
	// it off would then fail the Cluster stack's update ("export in use").
	clusterArn := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ecs"), Resource: jsii.String("cluster"), ResourceName: cluster.ClusterName(),
	})

	logGroup := awslogs.NewLogGroup(stack, jsii.String("SpotFallbackLogGroup"), &awslogs.LogGroupProps{
		Retention:     cfg.LogRetention(),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// A role of its own with inline statements only: the role Lambda would
	// create attaches the AWS-managed basic execution policy, which may
	// write to any log group.
	role := awsiam.NewRole(stack, jsii.String("SpotFallbackRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Spot fallback: switches this service's capacity-provider strategy and schedules the switch back"),
	})
	logGroup.GrantWrite(role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecs:DescribeServices", "ecs:UpdateService"),
		Resources: &[]*string{service.ServiceArn()},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"),
		Resources: &schedules,
	}))
	// Whether this stack has an operation in progress.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudformation:DescribeStacks"),
		Resources: &[]*string{awscdk.Aws_STACK_ID()},
	}))

	fn := awslambda.NewFunction(stack, jsii.String("SpotFallbackFunction"), &awslambda.FunctionProps{
		Description:  jsii.String("Moves the service to on-demand Fargate when Fargate Spot runs out, and back after a quiet period"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(spotFallbackBinary()), nil),
		Role:         role,
		LogGroup:     logGroup,
		MemorySize:   jsii.Number(128),
		// A few API calls: seconds, with room for the SDK's retries.
		Timeout: awscdk.Duration_Seconds(jsii.Number(60)),
		Environment: &map[string]*string{
			"CLUSTER_ARN":         clusterArn,
			"SERVICE_ARN":         service.ServiceArn(),
			"STACK_ID":            awscdk.Aws_STACK_ID(),
			"SPOT_STRATEGY":       jsii.String(spotStrategy(cfg)),
			"SCHEDULE_GROUP":      groupName,
			"SCHEDULE_NAME":       jsii.String(spotFallbackScheduleName),
			"QUIET_PERIOD":        jsii.String(cfg.SpotFallbackQuiet.String()),
			"MAX_QUIET_PERIOD":    jsii.String((cfg.SpotFallbackQuiet * spotFallbackMaxQuietFactor).String()),
			"BACKOFF_RESET_AFTER": jsii.String(spotFallbackResetAfter.String()),
			"RETRY_AFTER":         jsii.String(spotFallbackRetryAfter.String()),
		},
	})

	// The role the schedules invoke the function with: only that
	// function, only from this stack's fallback group.
	schedulerRole := awsiam.NewRole(stack, jsii.String("SpotFallbackSchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil).WithConditions(&map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			// The schedules or their group, whichever Scheduler names.
			"ArnLike": map[string]any{"aws:SourceArn": append(slices.Clone(schedules), group.AttrArn())},
		}),
		Description: jsii.String("Spot fallback: the schedule that returns the service to Spot invokes the fallback function"),
	})
	schedulerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{fn.FunctionArn()},
	}))
	fn.AddEnvironment(jsii.String("SCHEDULER_ROLE_ARN"), schedulerRole.RoleArn(), nil)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  &[]*string{schedulerRole.RoleArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}},
	}))
	if topic != nil {
		fn.AddEnvironment(jsii.String("TOPIC_ARN"), topic.TopicArn(), nil)
		// What Topic.GrantPublish grants, without its kms:GenerateDataKey*
		// wildcard: SNS asks for a data key and decrypts it.
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("sns:Publish"),
			Resources: &[]*string{topic.TopicArn()},
		}))
		if key := topic.MasterKey(); key != nil {
			role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
				Resources: &[]*string{key.KeyArn()},
			}))
		}
	}

	awscdk.NewCfnOutput(stack, jsii.String("SpotFallbackScheduleGroupName"), &awscdk.CfnOutputProps{
		Description: jsii.String("The Spot fallback's schedules: restore-spot holds the planned return to Spot (aws scheduler get-schedule --group-name ... --name restore-spot)"),
		Value:       groupName,
	})
	awscdk.NewCfnOutput(stack, jsii.String("SpotFallbackLogGroupName"), &awscdk.CfnOutputProps{
		Description: jsii.String("What the Spot fallback did and why (aws logs tail ... --follow)"),
		Value:       logGroup.LogGroupName(),
	})

	// The event ECS sends when it cannot place a task of this service on
	// Fargate Spot for lack of capacity: AWS's example "Service task
	// placement failure event" (Amazon ECS developer guide, "Amazon ECS
	// service action events"). (The Knowledge Center's
	// "fargate-spot-termination-notice" is about the other Spot event, the
	// interruption's task state change.) The reason and the capacity
	// provider are matched by prefix and suffix so that a
	// RESOURCE:FARGATE_SPOT reason or an ARN in another partition still
	// match; fallback_test.go runs the pattern on that sample.
	awsevents.NewRule(stack, jsii.String("SpotFallbackRule"), &awsevents.RuleProps{
		Description: jsii.String("ECS cannot place this service's Fargate Spot tasks for lack of capacity"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.ecs"),
			DetailType: jsii.Strings("ECS Service Action"),
			Resources:  &[]*string{service.ServiceArn()},
			Detail: &map[string]any{
				"eventName":            []any{"SERVICE_TASK_PLACEMENT_FAILURE"},
				"clusterArn":           []any{clusterArn},
				"reason":               []any{map[string]any{"prefix": "RESOURCE:FARGATE"}},
				"capacityProviderArns": []any{map[string]any{"suffix": "/FARGATE_SPOT"}},
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			// A fallback an hour late is no longer the answer to that
			// event; ECS reports again while it keeps failing.
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
			RetryAttempts: jsii.Number(3),
		})},
	})

	// The end of each operation on this stack ("Stack Status Change event
	// detail", AWS CloudFormation User Guide): the function then applies
	// the template's strategy (fallback.Fallback.sync). A rollback ends an
	// operation too; the statuses in between are left to the function,
	// which checks them again.
	awsevents.NewRule(stack, jsii.String("SpotFallbackStackRule"), &awsevents.RuleProps{
		Description: jsii.String("An operation on this stack ended: the Spot fallback applies the template's capacity-provider strategy"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.cloudformation"),
			DetailType: jsii.Strings("CloudFormation Stack Status Change"),
			Detail: &map[string]any{
				"stack-id":       []any{awscdk.Aws_STACK_ID()},
				"status-details": map[string]any{"status": []any{"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}},
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
			RetryAttempts: jsii.Number(3),
		})},
	})
}

// spotStrategy is the template's capacity-provider strategy in the form
// the function reads (fallback.ParseStrategy); service.go writes the same
// one into the service.
func spotStrategy(cfg Config) string {
	return fmt.Sprintf("FARGATE:%d:0,FARGATE_SPOT:0:1", cfg.OnDemandBaseTasks)
}

// spotFallbackBuild is the function's binary, built once per process.
var spotFallbackBuild struct {
	once sync.Once
	dir  string
	err  error
}

// spotFallbackBinary builds the function with the Go toolchain that runs
// the CDK app, so that synth and deploy need no Docker, and returns the
// directory that holds its bootstrap. The build is reproducible (no paths,
// VCS stamp or build id in the binary), so the asset's hash, and with it
// the function, change only when its code or the Go version does.
func spotFallbackBinary() string {
	b := &spotFallbackBuild
	b.once.Do(func() { b.dir, b.err = buildSpotFallback() })
	if b.err != nil {
		panic(b.err)
	}
	return b.dir
}

func buildSpotFallback() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("building the Spot fallback function: go env GOMOD: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	// One directory per checkout: two checkouts synthesizing at once must
	// not overwrite each other's binary.
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(gomod))))
	dir := filepath.Join(cache, "fargo", "spotfallback-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building the Spot fallback function: %w", err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=",
		// The provided runtimes need no RPC server in the binary.
		"-tags", "lambda.norpc",
		"-o", filepath.Join(dir, "bootstrap"), spotFallbackPackage)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the Spot fallback function (%s): %v: %s", spotFallbackPackage, err, strings.TrimSpace(string(out)))
	}
	return dir, nil
}
