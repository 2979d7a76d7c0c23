// Package stacks defines the four CloudFormation stacks of one deployment:
// network, load balancer, cluster and service, joined by typed references.
package stacks

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Stacks are the four stacks of one deployment, in deploy order. Network is
// nil with vpcId, which deploys into an existing VPC.
type Stacks struct {
	Network      *NetworkStack
	LoadBalancer *LoadBalancerStack
	Cluster      *ClusterStack
	Service      *ServiceStack
	// Services are the stacks of the services key, in the order of
	// Config.Services.
	Services []*ServiceStack
	// Environments are each environment's stacks, by name, when the app
	// has environments; the fields above are then nil.
	Environments map[string]*Stacks
}

// untaggable are resource types that the app tag skips: CDK 2.276's L1
// classes accept Tags on them, but the CloudFormation resource schemas that
// cfn-lint 1.51 ships do not list the property (rule E3002), and a deploy
// that CloudFormation rejects costs more than a missing cost tag.
var untaggable = []string{
	"AWS::ElasticLoadBalancingV2::Listener",
	"AWS::ElasticLoadBalancingV2::ListenerRule",
	"AWS::ApplicationAutoScaling::ScalableTarget",
	"AWS::CloudWatch::Dashboard",
}

// New adds the four stacks to app, tags them and applies cdk-nag's AWS
// Solutions checks. Each consumes the others through typed fields; CDK turns
// those into cross-stack references (exports, see cdk.json) and deploy
// order.
//
// With environments, each environment gets its own copy of the stacks,
// inside a CDK Stage named after it, so that `cdk synth` writes its
// assembly to cdk.out/assembly-<env> and `cdk deploy '<env>/*'` selects
// it; the adopted environment's stacks stay at the top of the app, where
// they were before environments, because a Stage changes names that
// would replace resources of the running deployment
// (docs/environments.md).
func New(app awscdk.App, cfg Config, images *Images) *Stacks {
	return assemble(app, cfg, images, true)
}

// assemble is New, with cdk-nag's checks when nag is true (see build).
func assemble(app awscdk.App, cfg Config, images *Images, nag bool) *Stacks {
	if len(cfg.Environments) == 0 {
		return build(app, cfg, images, nag)
	}
	all := &Stacks{Environments: map[string]*Stacks{}}
	for _, env := range cfg.Environments {
		var scope constructs.Construct = app
		if !env.Adopted {
			scope = awscdk.NewStage(app, jsii.String(env.EnvName), &awscdk.StageProps{Env: env.env()})
		}
		all.Environments[env.EnvName] = build(scope, env, images, nag)
	}
	return all
}

// build adds the stacks to app (an app, or a stage of one), with cdk-nag's
// checks when nag is true: the change-plan tests synthesize many
// configurations and check nothing cdk-nag reports.
func build(app constructs.Construct, cfg Config, images *Images, nag bool) *Stacks {
	stackProps := func(name, description string) awscdk.StackProps {
		return awscdk.StackProps{
			StackName:   jsii.String(stackName(cfg, name)),
			Description: jsii.String(description),
			Env:         cfg.env(),
		}
	}
	// With vpcId the VPC is an existing one and there is no Network stack:
	// the other stacks look it up.
	var network *NetworkStack
	var vpc awsec2.IVpc
	if cfg.VpcId == "" {
		network = NewNetworkStack(app, "Network", &NetworkStackProps{
			StackProps: stackProps("Network", "VPC with public and private subnets and flow logs"),
			Config:     cfg,
		})
		vpc = network.Vpc
	}
	lb := NewLoadBalancerStack(app, "LoadBalancer", &LoadBalancerStackProps{
		StackProps: stackProps("LoadBalancer", "Internet-facing Application Load Balancer, its listeners and its access logs: the shared ingress"),
		Config:     cfg,
		Vpc:        vpc,
	})
	cluster := NewClusterStack(app, "Cluster", &ClusterStackProps{
		StackProps: stackProps("Cluster", "ECS cluster with the FARGATE and FARGATE_SPOT capacity providers"),
		Config:     cfg,
		Vpc:        vpc,
	})
	service := NewServiceStack(app, "Service", &ServiceStackProps{
		StackProps:           stackProps("Service", "Go web service on Fargate Spot behind the load balancer: its target groups, listener rules and auto scaling"),
		Config:               cfg,
		Vpc:                  vpc,
		Cluster:              cluster.Cluster,
		Listener:             lb.Listener,
		LoadBalancerFullName: lb.LoadBalancerFullName,
		Image:                images.Own,
	})
	// Each service of services is one more Service stack, beside the app's
	// own and built the same way: adding, removing or reordering services
	// changes no other stack (docs/services.md).
	var services []*ServiceStack
	for _, s := range cfg.Services {
		services = append(services, NewServiceStack(app, s.StackID(), &ServiceStackProps{
			StackProps:           stackProps(s.StackID(), "Service "+s.Name+" on Fargate Spot behind the shared load balancer: its target groups, listener rules and auto scaling"),
			Config:               s.Config,
			Vpc:                  vpc,
			Cluster:              cluster.Cluster,
			Listener:             lb.Listener,
			LoadBalancerFullName: lb.LoadBalancerFullName,
			Routing:              &s.Routing,
			Image:                images.Services[s.Name],
		}))
	}
	// For cost allocation: every resource that can carry a tag carries the
	// app's name.
	awscdk.Tags_Of(app).Add(jsii.String("app"), jsii.String(cfg.AppName), &awscdk.TagProps{
		ExcludeResourceTypes: jsii.Strings(untaggable...),
	})
	// Every synth, not only the tests, checks the AWS Solutions rules: a
	// finding is an error annotation and stops `cdk synth`. Accepted
	// findings are suppressed beside their resource, with the reason.
	if nag {
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
			Verbose: jsii.Bool(true),
			Reports: jsii.Bool(false),
		}), nil)
	}
	return &Stacks{Network: network, LoadBalancer: lb, Cluster: cluster, Service: service, Services: services}
}

// suppress accepts a cdk-nag finding on c and its children, with the reason
// (cdk-nag wants at least ten characters of it); appliesTo narrows it to
// some of a granular rule's findings, such as "Resource::*".
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		a := make([]any, len(appliesTo))
		for i, v := range appliesTo {
			a[i] = v
		}
		s.AppliesTo = &a
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// seconds converts a duration for CDK.
func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}
