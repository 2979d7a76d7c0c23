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
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
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

// NewServiceStack creates the service from its parts, each in a file of
// its own: the task (task.go), its traffic (traffic.go), the ECS service
// (below), its scaling (scaling.go), its alarms and dashboard
// (monitoring.go) and the Spot fallback (fallback.go).
func NewServiceStack(scope constructs.Construct, id string, props *ServiceStackProps) *ServiceStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	routing := defaultRouting
	if props.Routing != nil {
		routing = *props.Routing
	}

	task := newTask(stack, cfg, props.Image)
	vpc := vpcIn(stack, props.Vpc, cfg)
	traffic := newTraffic(stack, cfg, vpc, props.Listener, routing)
	metrics := albMetrics{loadBalancer: props.LoadBalancerFullName}
	for _, tg := range traffic.targetGroups {
		metrics.targetGroups = append(metrics.targetGroups, tg.TargetGroupFullName())
	}
	alarms := newTrafficAlarms(stack, cfg, metrics, uniqueName(cfg))
	service := newService(stack, cfg, props.Cluster, vpc, task, traffic, alarms)
	scale(cfg, service, props.LoadBalancerFullName, metrics)
	spotFallback(stack, cfg, service, props.Cluster, monitor(stack, cfg, metrics, service, props.Cluster, alarms, uniqueName(cfg)))

	awscdk.NewCfnOutput(stack, jsii.String("ServiceName"), &awscdk.CfnOutputProps{
		Description: jsii.String("ECS service (aws ecs describe-services --cluster <ClusterName> --services ...)"),
		Value:       service.ServiceName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("LogGroupName"), &awscdk.CfnOutputProps{
		Description: jsii.String("The service's logs (make logs, or aws logs tail ... --follow)"),
		Value:       task.logGroup.LogGroupName(),
	})
	return &ServiceStack{Stack: stack}
}

// newService creates the Fargate service: its tasks' security group and
// subnets, the Spot capacity strategy, how it deploys a release (see
// deploy.go), and its registration in the production target group.
func newService(stack awscdk.Stack, cfg Config, cluster awsecs.ICluster, vpc awsec2.IVpc, task *task, traffic *traffic, alarms *trafficAlarms) awsecs.FargateService {
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
	serviceProps := &awsecs.FargateServiceProps{
		Cluster:        cluster,
		TaskDefinition: task.definition,
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
	deployment(cfg, serviceProps, alarms.names)
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
	for _, a := range alarms.all() {
		service.Node().AddDependency(a)
	}
	// Registering opens the tasks' security group to the load balancer's on
	// containerPort, and the load balancer's to the tasks on that port only.
	traffic.targetGroups[0].AddTarget(service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName:   task.container.ContainerName(),
		ContainerPort:   jsii.Number(cfg.ContainerPort),
		AlternateTarget: traffic.alternate,
	}))
	return service
}

// warnHealthPathChange warns when healthCheckPath differs from the one in
// this stack's template of the last synth (cdk deploy synthesizes into the
// same directory first, so that is usually the deployed one). The target
// groups are updated before the service, so the running tasks, which
// answer only the old path, turn unhealthy before any task answers the
// new one, and ECS replaces them; docs/deploy-strategies.md gives the two
// steps that avoid it.
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
