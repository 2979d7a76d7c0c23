package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NetworkStackProps configures the network stack.
type NetworkStackProps struct {
	awscdk.StackProps
	Config Config
}

// NetworkStack owns the VPC: one public and one private subnet in each
// Availability Zone, with flow logs.
type NetworkStack struct {
	awscdk.Stack
	// Vpc is where the load balancer and the tasks run.
	Vpc awsec2.IVpc
}

// NewNetworkStack creates the VPC. Without NAT gateways (the default) the
// private subnets are isolated and the tasks run in the public subnets; the
// original templates paid for a NAT gateway that no task ever used.
func NewNetworkStack(scope constructs.Construct, id string, props *NetworkStackProps) *NetworkStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config

	privateType := awsec2.SubnetType_PRIVATE_ISOLATED
	if !cfg.TasksInPublicSubnets() {
		privateType = awsec2.SubnetType_PRIVATE_WITH_EGRESS
	}
	flowLogs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention: cfg.LogRetention(),
	})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses:        awsec2.IpAddresses_Cidr(jsii.String("10.0.0.0/16")),
		MaxAzs:             jsii.Number(cfg.MaxAzs),
		NatGateways:        jsii.Number(cfg.NatGateways),
		EnableDnsHostnames: jsii.Bool(true),
		EnableDnsSupport:   jsii.Bool(true),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("Private"), SubnetType: privateType, CidrMask: jsii.Number(24)},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"FlowLog": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})
	return &NetworkStack{Stack: stack, Vpc: vpc}
}
