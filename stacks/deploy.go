package stacks

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// The deployment strategies of deploymentStrategy. Canary, linear and
// blue/green are ECS's own: each release starts a full set of new tasks in
// the target group that does not serve, lets the test rule reach them,
// shifts production traffic to them by rewriting the production rule's
// weights, bakes, and only then stops the old tasks. Rolling replaces tasks
// in the one target group, each new task taking its full share of traffic
// as soon as it is healthy.
const (
	StrategyCanary    = "canary"
	StrategyLinear    = "linear"
	StrategyBlueGreen = "blueGreen"
	StrategyRolling   = "rolling"
)

// strategies maps each value of deploymentStrategy to ECS's name for it.
var strategies = map[string]awsecs.DeploymentStrategy{
	StrategyCanary:    awsecs.DeploymentStrategy_CANARY,
	StrategyLinear:    awsecs.DeploymentStrategy_LINEAR,
	StrategyBlueGreen: awsecs.DeploymentStrategy_BLUE_GREEN,
	StrategyRolling:   awsecs.DeploymentStrategy_ROLLING,
}

// Native reports whether the strategy is one of ECS's traffic-shifting
// ones, which need the alternate target group, the test rule and the
// infrastructure role.
func (c Config) Native() bool { return c.DeploymentStrategy != StrategyRolling }

// testHeader is the header (with the value testHeaderValue) that sends a
// request to the new tasks of a deployment in progress, through the test
// rule: curl -H 'X-Fargo-Test: 1' https://... reaches the release before
// any production request does. Anyone may send it: the test rule is for
// looking at a release, not for hiding one.
const (
	testHeader      = "X-Fargo-Test"
	testHeaderValue = "1"
)

// Routing is where a service's requests come from on the shared listener:
// its rules' priority and conditions. The production rule has Priority,
// the test rule Priority-1 (ALB evaluates the lowest number first, so the
// header wins), so Priority is 2 to 50000 and each service on the listener
// needs two numbers of its own.
type Routing struct {
	Priority     int
	PathPatterns []string
	HostHeaders  []string
}

// defaultRouting is the app's own service: everything that no other
// service's rule claims, so it has the last priority ALB allows.
var defaultRouting = Routing{Priority: 50000, PathPatterns: []string{"/*"}}

// conditions are the rule conditions of r, and more.
func (r Routing) conditions(more ...awselasticloadbalancingv2.ListenerCondition) *[]awselasticloadbalancingv2.ListenerCondition {
	c := more
	if len(r.PathPatterns) > 0 {
		c = append(c, awselasticloadbalancingv2.ListenerCondition_PathPatterns(jsii.Strings(r.PathPatterns...)))
	}
	if len(r.HostHeaders) > 0 {
		c = append(c, awselasticloadbalancingv2.ListenerCondition_HostHeaders(jsii.Strings(r.HostHeaders...)))
	}
	return &c
}

// deployment fills in how props deploys a release: the strategy, its
// steps and bake times, and what rolls it back. Every strategy rolls back
// on the deployment circuit breaker (tasks that do not start or do not turn
// healthy) and on the traffic alarms (tasks that are healthy but fail or
// slow down requests), which ECS watches during the traffic shift and the
// bake of a native strategy.
//
// The circuit breaker applies to the native strategies too: the API
// reference's "the rolling update (ECS) deployment type" names the ECS
// deployment controller (DeploymentController: "When you create a service
// which uses the ECS deployment controller, you can choose between" ROLLING,
// BLUE_GREEN, LINEAR and CANARY), and the developer guide's "Amazon ECS
// deployment failure detection" says both the circuit breaker and the
// alarms "support rolling update deployment and blue/green deployment
// types". Without it, a release whose tasks never turn healthy never
// reaches the traffic shift, so no alarm watches it, and CloudFormation
// waits on a service that never stabilises for hours. With it, ECS fails
// the deployment after max(3, min(200, 0.5 x desired)) failed tasks
// ("How the Amazon ECS deployment circuit breaker detects failures") and
// rolls back to the last COMPLETED deployment; CloudFormation then fails
// the stack update ("ECS Deployment Circuit Breaker was triggered") and
// rolls it back. A first deploy has no COMPLETED deployment to roll back
// to: the deployment fails and CloudFormation rolls back the stack's
// creation instead.
func deployment(cfg Config, props *awsecs.FargateServiceProps, alarmNames []string) {
	props.DeploymentStrategy = strategies[cfg.DeploymentStrategy]
	props.DeploymentAlarms = &awsecs.DeploymentAlarmConfig{
		AlarmNames: jsii.Strings(alarmNames...),
		Behavior:   awsecs.AlarmBehavior_ROLLBACK_ON_ALARM,
	}
	props.CircuitBreaker = &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)}
	if !cfg.Native() {
		return
	}
	props.BakeTime = minutes(cfg.BakeMinutes)
	switch cfg.DeploymentStrategy {
	case StrategyCanary:
		props.CanaryConfiguration = &awsecs.TrafficShiftConfig{
			StepPercent:  jsii.Number(cfg.CanaryPercent),
			StepBakeTime: minutes(cfg.StepBakeMinutes),
		}
	case StrategyLinear:
		props.LinearConfiguration = &awsecs.TrafficShiftConfig{
			StepPercent:  jsii.Number(cfg.LinearStepPercent),
			StepBakeTime: minutes(cfg.StepBakeMinutes),
		}
	}
}

// alternateTarget returns the blue/green plumbing of a native strategy:
// the target group that the new tasks of each release start in, the test
// rule that reaches them, and the role ECS uses to move the production
// rule's weights between the two groups.
func alternateTarget(stack awscdk.Stack, cfg Config, listener awselasticloadbalancingv2.IApplicationListener, routing Routing, production awselasticloadbalancingv2.ApplicationListenerRule, primary awselasticloadbalancingv2.ApplicationTargetGroup, tgProps *awselasticloadbalancingv2.ApplicationTargetGroupProps) (awselasticloadbalancingv2.ApplicationTargetGroup, awsecs.AlternateTarget) {
	alternate := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("AlternateTargetGroup"), tgProps)
	test := awselasticloadbalancingv2.NewApplicationListenerRule(stack, jsii.String("TestRule"), &awselasticloadbalancingv2.ApplicationListenerRuleProps{
		Listener:     listener,
		Priority:     jsii.Number(routing.Priority - 1),
		Conditions:   routing.conditions(awselasticloadbalancingv2.ListenerCondition_HttpHeader(jsii.String(testHeader), jsii.Strings(testHeaderValue))),
		TargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{alternate},
	})
	// ECS rewrites both rules into forwards over both groups, while each
	// template rule names one: without these, cdk destroy may delete a
	// group before the rule that still forwards to it, which fails
	// (ResourceInUse). A DependsOn makes no API call on the rule, so adding
	// it to a deployed service is itself safe (internal/plan checks both).
	production.Node().AddDependency(alternate)
	test.Node().AddDependency(primary)
	role := awsiam.NewRole(stack, jsii.String("LoadBalancerRole"), &awsiam.RoleProps{
		Description: jsii.String("Lets ECS shift traffic between the service's target groups during a deployment"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs.amazonaws.com"), nil),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonECSInfrastructureRolePolicyForLoadBalancers")),
		},
	})
	// The managed policy, not an inline one scoped to this service's rules
	// and groups: AWS has revised it six times since July 2025 (v6,
	// February 2026) as ECS's native deployments grew, and the stored copies
	// of the AWS Managed Policy Reference show v2 only, so a hand-written
	// list could miss an action that a canary needs and fail a deploy
	// midway, which no offline test would catch. The reason below says what
	// the policy really allows.
	suppress(role, "AwsSolutions-IAM4", "AmazonECSInfrastructureRolePolicyForLoadBalancers is AWS's policy for ECS blue/green, linear and canary traffic shifting and changes as ECS does. It is not scoped to this service: it allows describing every listener, rule, target group and target health, registering and deregistering targets in any target group, and modifying any ALB or NLB listener and any ALB listener rule of the account. Only ECS can assume this role (trust: ecs.amazonaws.com), and ECS uses it for this service's deployments only.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers")
	return alternate, awsecs.NewAlternateTarget(jsii.String("AlternateTarget"), &awsecs.AlternateTargetProps{
		AlternateTargetGroup: alternate,
		ProductionListener:   awsecs.ListenerRuleConfiguration_ApplicationListenerRule(production),
		TestListener:         awsecs.ListenerRuleConfiguration_ApplicationListenerRule(test),
		Role:                 role,
	})
}

// minutes converts a whole number of minutes for CDK.
func minutes(n int) awscdk.Duration { return seconds(time.Duration(n) * time.Minute) }
