package stacks

import (
	"fmt"
	"net/netip"

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

// vpcCidr is the VPC's address range; subnetSlots carves it up.
const vpcCidr = "10.0.0.0/16"

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
		IpAddresses:        &stableSubnets{cidr: vpcCidr},
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
	// Every subnet is exported whether a stack uses it yet or not: toggling
	// natGateways moves the tasks between the public and the private
	// subnets, and an export that disappeared while the Service stack still
	// imported it would stop the deploy.
	private := vpc.IsolatedSubnets()
	if !cfg.TasksInPublicSubnets() {
		private = vpc.PrivateSubnets()
	}
	for _, subnet := range append(*vpc.PublicSubnets(), *private...) {
		stack.ExportValue(subnet.SubnetId(), nil)
	}
	return &NetworkStack{Stack: stack, Vpc: vpc}
}

// vpcIn is the VPC a stack works in: vpc, the Network stack's, or with
// vpcId (and so no Network stack) that existing VPC, looked up at synth.
// CDK caches the answer in cdk.context.json, and a looked-up VPC's ids are
// literals, so no stack exports or imports anything for it.
func vpcIn(stack awscdk.Stack, vpc awsec2.IVpc, cfg Config) awsec2.IVpc {
	if vpc != nil {
		return vpc
	}
	return awsec2.Vpc_FromLookup(stack, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: jsii.String(cfg.VpcId)})
}

// subnetSlots fixes each subnet's /24 inside the VPC's /16 by its group and its
// Availability Zone's index, so that changing maxAzs adds or removes
// subnets without moving any other. (CDK's own allocation numbers the
// subnets in order: going from 2 to 3 AZs would move existing subnets onto
// CIDRs that new ones take, and EC2 rejects the overlap.) The first three
// AZs keep the CIDRs that CDK's allocation gave the default of three AZs
// (public 0-2, private 3-5), so a VPC deployed before keeps its subnets.
var subnetSlots = map[string][6]int{
	"Public":  {0, 1, 2, 6, 8, 10},
	"Private": {3, 4, 5, 7, 9, 11},
}

// stableSubnets allocates the VPC's CIDRs by subnetSlots. (jsii keeps Go
// objects by address, so it is passed as a pointer to a non-empty struct.)
type stableSubnets struct{ cidr string }

// AllocateVpcCidr implements awsec2.IIpAddresses.
func (s *stableSubnets) AllocateVpcCidr() *awsec2.VpcIpamOptions {
	return &awsec2.VpcIpamOptions{CidrBlock: jsii.String(s.cidr)}
}

// AllocateSubnetsCidr implements awsec2.IIpAddresses. The VPC asks for each
// group's subnets in Availability Zone order.
func (s *stableSubnets) AllocateSubnetsCidr(req *awsec2.AllocateCidrRequest) *awsec2.SubnetIpamOptions {
	next := map[string]int{}
	var allocated []*awsec2.AllocatedSubnet
	for _, r := range *req.RequestedSubnets {
		group := *r.Configuration.Name
		slots, ok := subnetSlots[group]
		if !ok || next[group] >= len(slots) {
			panic(fmt.Sprintf("no CIDR slot for subnet %s in group %q", *r.SubnetConstructId, group))
		}
		base := netip.MustParsePrefix(s.cidr).Addr().As4()
		base[2] = byte(slots[next[group]])
		allocated = append(allocated, &awsec2.AllocatedSubnet{
			Cidr: jsii.String(netip.PrefixFrom(netip.AddrFrom4(base), 24).String()),
		})
		next[group]++
	}
	return &awsec2.SubnetIpamOptions{AllocatedSubnets: &allocated}
}
