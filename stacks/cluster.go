package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ClusterStackProps configures the cluster stack.
type ClusterStackProps struct {
	awscdk.StackProps
	Config Config
	// Vpc is the Network stack's VPC; nil with vpcId.
	Vpc awsec2.IVpc
}

// ClusterStack owns the ECS cluster with the FARGATE and FARGATE_SPOT
// capacity providers and Container Insights.
type ClusterStack struct {
	awscdk.Stack
	// Cluster is where the service runs its tasks.
	Cluster awsecs.ICluster
}

// NewClusterStack creates the cluster. Keeping it in its own stack means the
// capacity providers are associated before any service asks for them.
func NewClusterStack(scope constructs.Construct, id string, props *ClusterStackProps) *ClusterStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                            vpcIn(stack, props.Vpc, props.Config),
		EnableFargateCapacityProviders: jsii.Bool(true),
		ContainerInsightsV2:            awsecs.ContainerInsights_ENABLED,
	})
	// The strategy a service created without one gets: with spotFallback
	// the service's template carries none, and this is what ECS creates it
	// with. Not Cluster.AddDefaultCapacityProviderStrategy: with a default
	// strategy, CDK 2.276's aspect creates the associations resource again
	// on every synthesis of the app ("There is already a Construct with
	// name 'Cluster'"), and the tests synthesize each app more than once.
	awscdk.Aspects_Of(cluster).Add(&defaultStrategy{strategy: capacityStrategy(props.Config)}, nil)
	awscdk.NewCfnOutput(stack, jsii.String("ClusterName"), &awscdk.CfnOutputProps{
		Description: jsii.String("ECS cluster of the service (aws ecs describe-services --cluster ...)"),
		Value:       cluster.ClusterName(),
	})
	return &ClusterStack{Stack: stack, Cluster: cluster}
}

// defaultStrategy sets the default capacity-provider strategy of the
// cluster's capacity-provider associations, which CDK creates in an aspect
// of its own at synthesis.
type defaultStrategy struct {
	strategy []*awsecs.CapacityProviderStrategy
}

// Visit implements awscdk.IAspect.
func (d *defaultStrategy) Visit(node constructs.IConstruct) {
	r, ok := node.(awscdk.CfnResource)
	if !ok || *r.CfnResourceType() != "AWS::ECS::ClusterCapacityProviderAssociations" {
		return
	}
	var items []map[string]any
	for _, s := range d.strategy {
		item := map[string]any{"CapacityProvider": *s.CapacityProvider, "Weight": *s.Weight}
		if s.Base != nil && *s.Base > 0 {
			item["Base"] = *s.Base
		}
		items = append(items, item)
	}
	r.AddPropertyOverride(jsii.String("DefaultCapacityProviderStrategy"), items)
}
