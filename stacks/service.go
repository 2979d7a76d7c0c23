package stacks

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// serviceUser is the numeric user the container runs as (the Dockerfile's
// USER); the task definition repeats it so that no image can run as root.
const serviceUser = "65532:65532"

// ServiceStackProps configures the service stack with what the other
// stacks expose.
type ServiceStackProps struct {
	awscdk.StackProps
	Config Config
	Vpc    awsec2.IVpc
	// Cluster runs the tasks.
	Cluster awsecs.ICluster
	// Listener receives the rule that forwards to the service.
	Listener awselasticloadbalancingv2.IApplicationListener
	// LoadBalancerSecurityGroup is the only source the tasks accept.
	LoadBalancerSecurityGroup awsec2.ISecurityGroup
	// Image is the container image; see ServiceImage.
	Image awsecs.ContainerImage
}

// ServiceStack owns the Fargate service, its task definition, target group,
// listener rule, logs, auto scaling, alarms and dashboard. No other stack
// consumes any of it.
type ServiceStack struct {
	awscdk.Stack
}

// ServiceImage builds the image from the Dockerfile in dir as a CDK asset
// for linux/amd64 (Fargate Spot runs X86_64 only, and it keeps an image
// built on an arm64 laptop from failing with "exec format error").
// `cdk deploy` builds it and pushes it to the bootstrap ECR repository.
func ServiceImage(dir string) awsecs.ContainerImage {
	return awsecs.ContainerImage_FromAsset(jsii.String(dir), &awsecs.AssetImageProps{
		Platform: awsecrassets.Platform_LINUX_AMD64(),
	})
}

// NewServiceStack creates the service.
func NewServiceStack(scope constructs.Construct, id string, props *ServiceStackProps) *ServiceStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config

	logGroup := awslogs.NewLogGroup(stack, jsii.String("LogGroup"), &awslogs.LogGroupProps{
		Retention: cfg.LogRetention(),
	})
	taskDef := awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(cfg.Cpu),
		MemoryLimitMiB: jsii.Number(cfg.MemoryMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	taskDef.AddContainer(jsii.String("Web"), &awsecs.ContainerDefinitionOptions{
		Image:                  props.Image,
		PortMappings:           &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(ContainerPort)}},
		ReadonlyRootFilesystem: jsii.Bool(true),
		User:                   jsii.String(serviceUser),
		StopTimeout:            seconds(StopTimeout),
		Environment: &map[string]*string{
			"PORT":                   jsii.String(strconv.Itoa(ContainerPort)),
			"CORS_ALLOWED_ORIGINS":   jsii.String(cfg.CorsAllowedOrigins),
			"CORS_ALLOW_CREDENTIALS": jsii.String(strconv.FormatBool(cfg.CorsAllowCredentials)),
			"DRAIN_DELAY":            jsii.String(DrainDelay.String()),
			"SHUTDOWN_TIMEOUT":       jsii.String(ShutdownTimeout.String()),
		},
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logGroup,
			StreamPrefix: jsii.String("web"),
			// A slow CloudWatch must not stall request handling.
			Mode: awsecs.AwsLogDriverMode_NON_BLOCKING,
		}),
	})

	suppress(taskDef, "AwsSolutions-ECS2", "The environment holds only non-secret settings (port, CORS origins, drain timings); secrets belong in the container's Secrets.")
	suppress(taskDef.ObtainExecutionRole(), "AwsSolutions-IAM5", "ecr:GetAuthorizationToken, which pulling the image needs, cannot be scoped to a resource.", "Resource::*")

	sg := awsec2.NewSecurityGroup(stack, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         props.Vpc,
		Description: jsii.String("Service tasks: traffic from the load balancer only"),
		// Tasks pull their image from ECR and send logs to CloudWatch.
		AllowAllOutbound: jsii.Bool(true),
	})
	sg.AddIngressRule(props.LoadBalancerSecurityGroup, awsec2.Port_Tcp(jsii.Number(ContainerPort)), jsii.String("From the load balancer"), nil)

	subnetType := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if cfg.TasksInPublicSubnets() {
		subnetType = awsec2.SubnetType_PUBLIC
	}
	targetGroup := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("TargetGroup"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		Vpc:                 props.Vpc,
		Port:                jsii.Number(ContainerPort),
		Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		TargetType:          awselasticloadbalancingv2.TargetType_IP,
		DeregistrationDelay: seconds(DeregistrationDelay),
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Path:                    jsii.String(HealthCheckPath),
			Interval:                seconds(HealthCheckInterval),
			Timeout:                 seconds(HealthCheckTimeout),
			HealthyThresholdCount:   jsii.Number(HealthyThreshold),
			UnhealthyThresholdCount: jsii.Number(UnhealthyThreshold),
			HealthyHttpCodes:        jsii.String("200"),
		},
	})
	awselasticloadbalancingv2.NewApplicationListenerRule(stack, jsii.String("ListenerRule"), &awselasticloadbalancingv2.ApplicationListenerRuleProps{
		Listener:     props.Listener,
		Priority:     jsii.Number(1),
		Conditions:   &[]awselasticloadbalancingv2.ListenerCondition{awselasticloadbalancingv2.ListenerCondition_PathPatterns(jsii.Strings("/*"))},
		TargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targetGroup},
	})
	traffic := newTrafficAlarms(stack, targetGroup, cfg)

	service := awsecs.NewFargateService(stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:        props.Cluster,
		TaskDefinition: taskDef,
		// No LaunchType: it would override the strategy, which is how the
		// original never ran on Spot. The first onDemandBaseTasks tasks
		// run on FARGATE, every task above them on FARGATE_SPOT.
		CapacityProviderStrategies: &[]*awsecs.CapacityProviderStrategy{
			{CapacityProvider: jsii.String("FARGATE"), Base: jsii.Number(cfg.OnDemandBaseTasks), Weight: jsii.Number(0)},
			{CapacityProvider: jsii.String("FARGATE_SPOT"), Weight: jsii.Number(1)},
		},
		// No DesiredCount: auto scaling owns it, and a stack update must
		// not reset it.
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		// Roll back a deploy whose tasks pass their health check but fail
		// requests or answer slowly.
		DeploymentAlarms: &awsecs.DeploymentAlarmConfig{
			AlarmNames: jsii.Strings(traffic.names...),
			Behavior:   awsecs.AlarmBehavior_ROLLBACK_ON_ALARM,
		},
		HealthCheckGracePeriod: seconds(HealthCheckGracePeriod),
		AssignPublicIp:         jsii.Bool(cfg.TasksInPublicSubnets()),
		VpcSubnets:             &awsec2.SubnetSelection{SubnetType: subnetType},
		SecurityGroups:         &[]awsec2.ISecurityGroup{sg},
		PropagateTags:          awsecs.PropagatedTagSource_SERVICE,
	})

	// The alarms are named literally; they must exist before the service.
	service.Node().AddDependency(traffic.target5xx, traffic.latencyP99)
	targetGroup.AddTarget(service)

	scaling := service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(cfg.MinTasks),
		MaxCapacity: jsii.Number(cfg.MaxTasks),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("CpuScaling"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(cfg.CpuTargetPercent),
		ScaleInCooldown:          seconds(cfg.ScaleInCooldown),
		ScaleOutCooldown:         seconds(cfg.ScaleOutCooldown),
	})
	if cfg.RequestsPerTarget > 0 {
		scaling.ScaleOnRequestCount(jsii.String("RequestScaling"), &awsecs.RequestCountScalingProps{
			RequestsPerTarget: jsii.Number(cfg.RequestsPerTarget),
			TargetGroup:       targetGroup,
			ScaleInCooldown:   seconds(cfg.ScaleInCooldown),
			ScaleOutCooldown:  seconds(cfg.ScaleOutCooldown),
		})
	}
	monitor(stack, cfg, targetGroup, service, props.Cluster, traffic)
	return &ServiceStack{Stack: stack}
}
