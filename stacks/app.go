// Package stacks defines the four CloudFormation stacks of one deployment:
// network, load balancer, cluster and service, joined by typed references.
package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// Stacks are the four stacks of one deployment, in deploy order.
type Stacks struct {
	Network      *NetworkStack
	LoadBalancer *LoadBalancerStack
	Cluster      *ClusterStack
	Service      *ServiceStack
}

// New adds the four stacks to app. Each consumes the others through typed
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
