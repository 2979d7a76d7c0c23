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
	awscdk.NewCfnOutput(stack, jsii.String("ClusterName"), &awscdk.CfnOutputProps{
		Description: jsii.String("ECS cluster of the service (aws ecs describe-services --cluster ...)"),
		Value:       cluster.ClusterName(),
	})
	return &ClusterStack{Stack: stack, Cluster: cluster}
}
