package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// task is what one task of the service runs: the task definition, its one
// container and the log group it writes to.
type task struct {
	definition awsecs.FargateTaskDefinition
	container  awsecs.ContainerDefinition
	logGroup   awslogs.LogGroup
}

// newTask creates the task definition: its size and architecture, the
// container with the image, its environment and secrets, a read-only root
// file system with a writable /tmp, a non-root user, and its logs.
func newTask(stack awscdk.Stack, cfg Config, image awsecs.ContainerImage) *task {
	logGroup := awslogs.NewLogGroup(stack, jsii.String("LogGroup"), &awslogs.LogGroupProps{
		Retention: cfg.LogRetention(),
	})
	taskDef := awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		// The family is the name the console, the CLI and the task ARNs
		// show; CDK's default is the construct path, the same in every app.
		Family:         jsii.String(uniqueName(cfg)),
		Cpu:            jsii.Number(cfg.Cpu),
		MemoryLimitMiB: jsii.Number(cfg.MemoryMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       cfg.CpuArchitecture.TaskArchitecture(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		// A volume on the task's ephemeral storage, mounted at /tmp: the
		// root file system stays read-only, but temporary files (uploads,
		// os.CreateTemp) have somewhere to go.
		Volumes: &[]*awsecs.Volume{{Name: jsii.String("tmp")}},
	})
	env := map[string]*string{}
	for k, v := range cfg.containerEnvironment() {
		env[k] = jsii.String(v)
	}
	container := taskDef.AddContainer(jsii.String("Web"), &awsecs.ContainerDefinitionOptions{
		Image:                  image,
		PortMappings:           &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(cfg.ContainerPort)}},
		ReadonlyRootFilesystem: jsii.Bool(true),
		User:                   jsii.String(serviceUser),
		StopTimeout:            seconds(StopTimeout),
		Environment:            &env,
		Secrets:                containerSecrets(stack, taskDef, cfg.Secrets),
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logGroup,
			StreamPrefix: jsii.String("web"),
			// A slow CloudWatch must not stall request handling.
			Mode: awsecs.AwsLogDriverMode_NON_BLOCKING,
		}),
	})
	container.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String("/tmp"), SourceVolume: jsii.String("tmp"), ReadOnly: jsii.Bool(false)})

	suppress(taskDef, "AwsSolutions-ECS2", "The environment holds plain settings only: the stacks' own (port, health path, CORS, drain timings) and the app's environment key, whose secret-looking names synth rejects; secrets go through the container's Secrets.")
	suppress(taskDef.ObtainExecutionRole(), "AwsSolutions-IAM5", "ecr:GetAuthorizationToken, which pulling the image needs, cannot be scoped to a resource.", "Resource::*")
	return &task{definition: taskDef, container: container, logGroup: logGroup}
}
