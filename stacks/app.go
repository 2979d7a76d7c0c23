// Package stacks defines the four CloudFormation stacks of one deployment:
// network, load balancer, cluster and service, joined by typed references.
package stacks

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Stacks are the four stacks of one deployment, in deploy order.
type Stacks struct {
	Network      *NetworkStack
	LoadBalancer *LoadBalancerStack
	Cluster      *ClusterStack
	Service      *ServiceStack
}

// New adds the four stacks to app, tags them and applies cdk-nag's AWS
// Solutions checks. Each consumes the others through typed
// fields; CDK turns those into cross-stack references and deploy order.
func New(app awscdk.App, cfg Config, image awsecs.ContainerImage) *Stacks {
	stackProps := func(name, description string) awscdk.StackProps {
		return awscdk.StackProps{
			StackName:   jsii.String(cfg.AppName + "-" + name),
			Description: jsii.String(description),
			Env:         cfg.env(),
		}
	}
	network := NewNetworkStack(app, "Network", &NetworkStackProps{
		StackProps: stackProps("Network", "VPC with public and private subnets and flow logs"),
		Config:     cfg,
	})
	lb := NewLoadBalancerStack(app, "LoadBalancer", &LoadBalancerStackProps{
		StackProps: stackProps("LoadBalancer", "Internet-facing Application Load Balancer and its access logs"),
		Config:     cfg,
		Vpc:        network.Vpc,
	})
	cluster := NewClusterStack(app, "Cluster", &ClusterStackProps{
		StackProps: stackProps("Cluster", "ECS cluster with the FARGATE and FARGATE_SPOT capacity providers"),
		Vpc:        network.Vpc,
	})
	service := NewServiceStack(app, "Service", &ServiceStackProps{
		StackProps:                stackProps("Service", "Go web service on Fargate Spot behind the load balancer, with auto scaling"),
		Config:                    cfg,
		Vpc:                       network.Vpc,
		Cluster:                   cluster.Cluster,
		Listener:                  lb.Listener,
		LoadBalancerSecurityGroup: lb.SecurityGroup,
		Image:                     image,
	})
	// For cost allocation: every resource carries the app's name.
	awscdk.Tags_Of(app).Add(jsii.String("app"), jsii.String(cfg.AppName), nil)
	// Every synth, not only the tests, checks the AWS Solutions rules: a
	// finding is an error annotation and stops `cdk synth`. Accepted
	// findings are suppressed beside their resource, with the reason.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(false),
	}), nil)
	return &Stacks{Network: network, LoadBalancer: lb, Cluster: cluster, Service: service}
}

// env binds the stacks to an account and region when one is known, and
// leaves them environment-agnostic otherwise, so that synth needs no
// credentials.
func (c Config) env() *awscdk.Environment {
	if c.Account == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(c.Account), Region: jsii.String(c.Region)}
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
