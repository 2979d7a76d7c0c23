package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"
)

// targetGroupPort: see newTraffic.
const targetGroupPort = 80

// traffic is how requests reach the service: its target groups (the
// production one first) and, under a native strategy, the alternate
// target that ECS deploys each release into.
type traffic struct {
	targetGroups []awselasticloadbalancingv2.ApplicationTargetGroup
	alternate    awsecs.AlternateTarget
}

// newTraffic creates the service's target groups and its rules on the
// shared listener, where routing says.
func newTraffic(stack awscdk.Stack, cfg Config, vpc awsec2.IVpc, listener awselasticloadbalancingv2.IApplicationListener, routing Routing) *traffic {
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
		Listener:     listener,
		Priority:     jsii.Number(routing.Priority),
		Conditions:   routing.conditions(),
		TargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targetGroup},
	})
	t := &traffic{targetGroups: []awselasticloadbalancingv2.ApplicationTargetGroup{targetGroup}}
	if cfg.Native() {
		var alternateGroup awselasticloadbalancingv2.ApplicationTargetGroup
		alternateGroup, t.alternate = alternateTarget(stack, cfg, listener, routing, production, targetGroup, targetGroupProps)
		t.targetGroups = append(t.targetGroups, alternateGroup)
	}
	return t
}
