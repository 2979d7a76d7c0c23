package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// targetGroupPort: see targetGroupProps in NewServiceStack.
const targetGroupPort = 80

// serviceUser is the numeric user the container runs as (the Dockerfile's
// USER); the task definition repeats it so that no image can run as root.
const serviceUser = "65532:65532"

// ServiceStackProps configures the service stack with what the other
// stacks expose.
type ServiceStackProps struct {
	awscdk.StackProps
	Config Config
	// Vpc is the Network stack's VPC; nil with vpcId.
	Vpc awsec2.IVpc
	// Cluster runs the tasks.
	Cluster awsecs.ICluster
	// Listener is the load balancer's serving listener, where the service
	// adds its rules. Adding them opens the tasks to the load balancer's
	// security group, their only source, and the load balancer to the
	// tasks.
	Listener awselasticloadbalancingv2.IApplicationListener
	// LoadBalancerFullName is the ALB metrics' dimension.
	LoadBalancerFullName *string
	// Routing is where the service's requests come from on the listener;
	// nil is the app's own service, which takes every request that no
	// other service's rule matches.
	Routing *Routing
	// Image is the container image; see ServiceImage.
	Image awsecs.ContainerImage
}

// ServiceStack owns the Fargate service and everything about its traffic:
// its target groups and their health check, its listener rules on the
// shared listener, its task definition, security group, logs, auto
// scaling, alarms and dashboard. No other stack consumes any of it.
type ServiceStack struct {
	awscdk.Stack
}

// ServiceImage builds the image from the Dockerfile in dir as a CDK asset
// for arch, the tasks' architecture (Config.CpuArchitecture), whatever the
// build machine's: an image built for the laptop's own architecture would
// fail on the other with "exec format error". `cdk deploy` builds it and
// pushes it to the bootstrap ECR repository.
func ServiceImage(dir string, arch Architecture) awsecs.ContainerImage {
	return awsecs.ContainerImage_FromAsset(jsii.String(dir), &awsecs.AssetImageProps{
		Platform: arch.ImagePlatform(),
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
		// The family is the name the console, the CLI and the task ARNs
		// show; CDK's default is the construct path, the same in every app.
		Family:         jsii.String(uniqueName(cfg, id)),
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
		Image:                  props.Image,
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

	vpc := vpcIn(stack, props.Vpc, cfg)
	sg := awsec2.NewSecurityGroup(stack, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         vpc,
		Description: jsii.String("Service tasks: traffic from the load balancer only"),
		// Tasks pull their image from ECR, send logs to CloudWatch and may
		// call whatever the app needs.
		AllowAllOutbound: jsii.Bool(true),
	})

	subnetType := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if cfg.TasksInPublicSubnets() {
		subnetType = awsec2.SubnetType_PUBLIC
	}
	routing := defaultRouting
	if props.Routing != nil {
		routing = *props.Routing
	}
	// targetGroupProps are both target groups' settings. Port is only the
	// default for targets that register without one: ECS registers every
	// task with containerPort, and the health check goes to the port a
	// target registered with, so it stays fixed and a containerPort change
	// replaces neither group (nor, through them, the production rule).
	targetGroupProps := &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		Vpc:                 vpc,
		Port:                jsii.Number(targetGroupPort),
		Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		TargetType:          awselasticloadbalancingv2.TargetType_IP,
		DeregistrationDelay: seconds(DeregistrationDelay),
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Path:                    jsii.String(cfg.HealthCheckPath),
			Interval:                seconds(HealthCheckInterval),
			Timeout:                 seconds(HealthCheckTimeout),
			HealthyThresholdCount:   jsii.Number(HealthyThreshold),
			UnhealthyThresholdCount: jsii.Number(UnhealthyThreshold),
			HealthyHttpCodes:        jsii.String("200"),
		},
	}
	targetGroup := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("TargetGroup"), targetGroupProps)
	warnHealthPathChange(stack, targetGroup, cfg)
	// The production rule. After a native deployment ECS has rewritten its
	// action into a weighted forward to whichever group now holds the
	// tasks; a CloudFormation update of the rule would write back this
	// template's action and could send every request to a group without
	// tasks (aws/aws-cdk#36649). So nothing but the service's routing
	// changes it: not the domain (the listener keeps its ARN), not the
	// port or health path (the groups are updated in place), not the
	// strategy (the groups and rule are the same for all of them).
	production := awselasticloadbalancingv2.NewApplicationListenerRule(stack, jsii.String("ProductionRule"), &awselasticloadbalancingv2.ApplicationListenerRuleProps{
		Listener:     props.Listener,
		Priority:     jsii.Number(routing.Priority),
		Conditions:   routing.conditions(),
		TargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targetGroup},
	})
	targetGroups := []awselasticloadbalancingv2.ApplicationTargetGroup{targetGroup}
	var alternate awsecs.AlternateTarget
	if cfg.Native() {
		var alternateGroup awselasticloadbalancingv2.ApplicationTargetGroup
		alternateGroup, alternate = alternateTarget(stack, cfg, props.Listener, routing, production, targetGroupProps)
		targetGroups = append(targetGroups, alternateGroup)
	}

	metrics := albMetrics{loadBalancer: props.LoadBalancerFullName}
	for _, tg := range targetGroups {
		metrics.targetGroups = append(metrics.targetGroups, tg.TargetGroupFullName())
	}
	traffic := newTrafficAlarms(stack, cfg, metrics, uniqueName(cfg, id))
	serviceProps := &awsecs.FargateServiceProps{
		Cluster:        props.Cluster,
		TaskDefinition: taskDef,
		// No DesiredCount: auto scaling owns it, and a stack update must
		// not reset it.
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		HealthCheckGracePeriod: seconds(HealthCheckGracePeriod),
		AssignPublicIp:         jsii.Bool(cfg.TasksInPublicSubnets()),
		// One per AZ, as the load balancer's: an existing VPC may have more.
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: subnetType, OnePerAz: jsii.Bool(true)},
		SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		PropagateTags:  awsecs.PropagatedTagSource_SERVICE,
	}
	deployment(cfg, serviceProps, traffic.names)
	if !cfg.SpotFallback {
		strategy := capacityStrategy(cfg)
		// The first onDemandBaseTasks tasks run on FARGATE, every task
		// above them on FARGATE_SPOT.
		serviceProps.CapacityProviderStrategies = &strategy
		// ECS refuses an update that changes only the strategy unless it
		// forces a new deployment (aws/aws-cdk#34631); a nonce derived from
		// the strategy forces one exactly when the strategy changes, and
		// when spotFallback is turned off (the template had none): that
		// deployment also ends a fallback in progress.
		serviceProps.ForceNewDeployment = &awsecs.ForceNewDeployment{Enabled: jsii.Bool(true), Nonce: jsii.String(strategyNonce(strategy))}
	}
	service := awsecs.NewFargateService(stack, jsii.String("Service"), serviceProps)
	// No LaunchType: it would override the strategy, which is how the
	// original never ran on Spot. With spotFallback the template carries no
	// strategy either (spotFallback in fallback.go says why), and ECS
	// creates the service with the cluster's default one, which is
	// capacityStrategy's (cluster.go); CDK writes LaunchType FARGATE for a
	// service without a strategy.
	service.Node().DefaultChild().(awsecs.CfnService).AddPropertyDeletionOverride(jsii.String("LaunchType"))
	// The alarms are named literally; they must exist before the service.
	for _, a := range traffic.all() {
		service.Node().AddDependency(a)
	}
	// Registering opens the tasks' security group to the load balancer's on
	// containerPort, and the load balancer's to the tasks on that port only.
	targetGroup.AddTarget(service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName:   container.ContainerName(),
		ContainerPort:   jsii.Number(cfg.ContainerPort),
		AlternateTarget: alternate,
	}))

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
		// ScaleOnRequestCount would derive the resource label by splitting
		// the ARN of a listener in the load balancer stack; this is the same
		// policy with the label built from the names that stack publishes.
		scaling.DoScaleToTrackMetric(jsii.String("RequestScaling"), &awsapplicationautoscaling.BasicTargetTrackingScalingPolicyProps{
			PredefinedMetric: awsapplicationautoscaling.PredefinedMetric_ALB_REQUEST_COUNT_PER_TARGET,
			ResourceLabel:    awscdk.Fn_Join(jsii.String("/"), &[]*string{props.LoadBalancerFullName, metrics.targetGroups[0]}),
			TargetValue:      jsii.Number(cfg.RequestsPerTarget),
			ScaleInCooldown:  seconds(cfg.ScaleInCooldown),
			ScaleOutCooldown: seconds(cfg.ScaleOutCooldown),
		})
	}
	spotFallback(stack, cfg, service, props.Cluster, monitor(stack, cfg, metrics, service, props.Cluster, traffic, uniqueName(cfg, id)))

	awscdk.NewCfnOutput(stack, jsii.String("ServiceName"), &awscdk.CfnOutputProps{
		Description: jsii.String("ECS service (aws ecs describe-services --cluster <ClusterName> --services ...)"),
		Value:       service.ServiceName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("LogGroupName"), &awscdk.CfnOutputProps{
		Description: jsii.String("The service's logs (make logs, or aws logs tail ... --follow)"),
		Value:       logGroup.LogGroupName(),
	})
	return &ServiceStack{Stack: stack}
}

// warnHealthPathChange warns when healthCheckPath differs from the one in
// this stack's template of the last synth (cdk deploy synthesizes into the
// same directory first, so that is usually the deployed one). The target
// groups are updated before the service, so the running tasks, which
// answer only the old path, turn unhealthy before any task answers the
// new one, and ECS replaces them; the README gives the two steps that
// avoid it.
func warnHealthPathChange(stack awscdk.Stack, targetGroup constructs.IConstruct, cfg Config) {
	file := filepath.Join(*awscdk.Stage_Of(stack).Outdir(), *stack.ArtifactId()+".template.json")
	data, err := os.ReadFile(file)
	if err != nil {
		return // the first synth here
	}
	var previous struct {
		Resources map[string]struct {
			Type       string
			Properties struct{ HealthCheckPath string }
		}
	}
	if json.Unmarshal(data, &previous) != nil {
		return
	}
	for _, r := range previous.Resources {
		if old := r.Properties.HealthCheckPath; r.Type == "AWS::ElasticLoadBalancingV2::TargetGroup" && old != "" && old != cfg.HealthCheckPath {
			awscdk.Annotations_Of(targetGroup).AddWarningV2(jsii.String("fargo:healthCheckPathChange"), jsii.String(fmt.Sprintf(
				"healthCheckPath %s -> %s: the running tasks answer only %s and turn unhealthy as soon as the target groups check %s; deploy in two steps (docs/deploy-strategies.md, Changing healthCheckPath)",
				old, cfg.HealthCheckPath, old, cfg.HealthCheckPath)), nil)
			return
		}
	}
}

// containerSecrets turns the configured secrets into the container's
// Secrets. CDK grants the execution role read access to exactly each
// secret or parameter; where a customer-managed key encrypts one, the role
// may also decrypt with that key, and with no other.
func containerSecrets(stack awscdk.Stack, taskDef awsecs.TaskDefinition, secrets map[string]Secret) *map[string]awsecs.Secret {
	out := map[string]awsecs.Secret{}
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		s := secrets[name]
		id := jsii.String("Secret" + name)
		switch {
		case s.SecretArn != "":
			var field *string
			if s.JSONKey != "" {
				field = jsii.String(s.JSONKey)
			}
			out[name] = awsecs.Secret_FromSecretsManager(awssecretsmanager.Secret_FromSecretCompleteArn(stack, id, jsii.String(s.SecretArn)), field)
		case s.ParameterArn != "":
			out[name] = awsecs.Secret_FromSsmParameter(awsssm.StringParameter_FromStringParameterArn(stack, id, jsii.String(s.ParameterArn)))
		default:
			out[name] = awsecs.Secret_FromSsmParameter(awsssm.StringParameter_FromSecureStringParameterAttributes(stack, id, &awsssm.SecureStringParameterAttributes{
				ParameterName: jsii.String(s.ParameterName),
			}))
		}
		if s.KmsKeyArn != "" {
			taskDef.ObtainExecutionRole().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("kms:Decrypt"),
				Resources: jsii.Strings(s.KmsKeyArn),
			}))
		}
	}
	return &out
}

// capacityStrategy is the service's capacity-provider strategy: the first
// onDemandBaseTasks tasks on FARGATE, every task above them on
// FARGATE_SPOT. The cluster's default strategy is the same, and the Spot
// fallback's function is told it (spotStrategy).
func capacityStrategy(cfg Config) []*awsecs.CapacityProviderStrategy {
	return []*awsecs.CapacityProviderStrategy{
		{CapacityProvider: jsii.String("FARGATE"), Base: jsii.Number(cfg.OnDemandBaseTasks), Weight: jsii.Number(0)},
		{CapacityProvider: jsii.String("FARGATE_SPOT"), Weight: jsii.Number(1)},
	}
}

// strategyNonce names a capacity-provider strategy, e.g.
// "FARGATE:1:0,FARGATE_SPOT:0:1" (provider:base:weight): the service's
// forced-deployment nonce, which changes when and only when the strategy
// does.
func strategyNonce(strategy []*awsecs.CapacityProviderStrategy) string {
	parts := make([]string, len(strategy))
	for i, s := range strategy {
		base := 0.0
		if s.Base != nil {
			base = *s.Base
		}
		parts[i] = fmt.Sprintf("%s:%g:%g", *s.CapacityProvider, base, *s.Weight)
	}
	return strings.Join(parts, ",")
}
