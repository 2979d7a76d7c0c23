package stacks

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The intent tests pin every value the README and docs/ promise, on the
// environment-agnostic templates and on the account-bound ones that a real
// deploy uses. Each names the property it checks, so a failure says what
// changed.

// subnetCidrs returns the CIDR of each subnet in a Network template, by
// logical id.
func subnetCidrs(t *testing.T, s *synthesized) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range resources(t, s.templates["Network"], "AWS::EC2::Subnet") {
		out[id] = path(r, "Properties", "CidrBlock").(string)
	}
	return out
}

// cidrsOf returns the sorted CIDRs of the subnets whose logical ids start
// with prefix (VpcPublicSubnet, VpcPrivateSubnet).
func cidrsOf(cidrs map[string]string, prefix string) []string {
	var out []string
	for id, c := range cidrs {
		if strings.HasPrefix(id, prefix) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

func TestNetworkStack(t *testing.T) {
	for _, tt := range []struct {
		variant         string
		public, private []string
	}{
		// CDK caps an environment-agnostic VPC at two AZs.
		{"", []string{"10.0.0.0/24", "10.0.1.0/24"}, []string{"10.0.3.0/24", "10.0.4.0/24"}},
		// Bound to an account, the VPC spans maxAzs (3) zones.
		{"Account", []string{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"}, []string{"10.0.3.0/24", "10.0.4.0/24", "10.0.5.0/24"}},
	} {
		t.Run("variant "+tt.variant, func(t *testing.T) {
			s := variant(t, tt.variant)
			tpl := s.templates["Network"]
			has(t, tpl, "AWS::EC2::VPC", map[string]any{
				"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": true, "EnableDnsSupport": true,
			})
			cidrs := subnetCidrs(t, s)
			if got := cidrsOf(cidrs, "VpcPublicSubnet"); !slices.Equal(got, tt.public) {
				t.Errorf("public subnets %v, want %v", got, tt.public)
			}
			if got := cidrsOf(cidrs, "VpcPrivateSubnet"); !slices.Equal(got, tt.private) {
				t.Errorf("private subnets %v, want %v", got, tt.private)
			}
			has(t, tpl, "AWS::EC2::Subnet", map[string]any{"MapPublicIpOnLaunch": true})
			count(t, tpl, "AWS::EC2::NatGateway", 0)
			count(t, tpl, "AWS::EC2::EIP", 0)
			has(t, tpl, "AWS::EC2::FlowLog", map[string]any{"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
			has(t, tpl, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 30})
		})
	}
	// The account-bound VPC names its zones.
	has(t, variant(t, "Account").templates["Network"], "AWS::EC2::Subnet", map[string]any{"AvailabilityZone": "eu-west-1c", "CidrBlock": "10.0.5.0/24"})
}

// TestSubnetsStayPutWhenMaxAzsChanges changes maxAzs in both directions on
// the account-bound VPC: the subnets both layouts have keep their CIDRs,
// and no two subnets of either layout overlap, so EC2 can add or remove
// the difference.
func TestSubnetsStayPutWhenMaxAzsChanges(t *testing.T) {
	three := variant(t, "Account")
	two := synth(t, map[string]any{"maxAzs": "2"}, bound("eu-west-1"))
	cidrs3, cidrs2 := subnetCidrs(t, three), subnetCidrs(t, two)
	if len(cidrs3) != 6 || len(cidrs2) != 4 {
		t.Fatalf("subnets: %d with 3 AZs, %d with 2, want 6 and 4", len(cidrs3), len(cidrs2))
	}
	for id, c := range cidrs2 {
		if cidrs3[id] != c {
			t.Errorf("%s is %s with maxAzs 2 and %s with 3: changing maxAzs would replace it", id, c, cidrs3[id])
		}
	}
	union := maps.Clone(cidrs3)
	maps.Copy(union, cidrs2)
	seen := map[string]string{}
	for id, c := range union {
		if other, dup := seen[c]; dup {
			t.Errorf("%s and %s share %s", id, other, c)
		}
		seen[c] = id
	}
	// Going from 3 to 2 takes ordered deploys (docs/plans.md, maxAzs: the
	// Service, then the LoadBalancer, then the rest): the consumers first stop
	// using the third zone's subnets, which needs every export they import
	// at maxAzs 2 to exist while the Network stack still has 3.
	exports3 := exportNames(t, three, "Network")
	for _, consumer := range []string{"LoadBalancer", "Service"} {
		for _, imp := range importNames(t, two, consumer) {
			if strings.HasPrefix(imp, "fargo-Network:") && !slices.Contains(exports3, imp) {
				t.Errorf("%s at maxAzs 2 imports %s, which the Network stack at maxAzs 3 does not export", consumer, imp)
			}
		}
	}
	// Six AZs fill every slot without an overlap; the first three keep the
	// CIDRs above.
	six := synth(t, map[string]any{"maxAzs": "6"}, map[string]string{"CDK_DEFAULT_ACCOUNT": account, "CDK_DEFAULT_REGION": "us-east-1"})
	cidrs6 := subnetCidrs(t, six)
	if got := slices.Sorted(maps.Values(cidrs6)); len(got) != 12 || len(slices.Compact(slices.Clone(got))) != 12 {
		t.Errorf("maxAzs 6: subnets %v, want 12 distinct", got)
	}
	for id, c := range cidrs3 {
		if cidrs6[id] != c {
			t.Errorf("%s is %s with 3 AZs and %s with 6", id, c, cidrs6[id])
		}
	}
}

func TestNetworkStackWithNatGateway(t *testing.T) {
	// GIVEN one NAT gateway
	s := variant(t, "Nat")

	// THEN there is one NAT, and tasks move to private subnets without public IPs
	count(t, s.templates["Network"], "AWS::EC2::NatGateway", 1)
	svc := only(t, s.templates["Service"], "AWS::ECS::Service")
	if got := path(svc, "Properties", "NetworkConfiguration", "AwsvpcConfiguration", "AssignPublicIp"); got != "DISABLED" {
		t.Errorf("AssignPublicIp = %v, want DISABLED", got)
	}
	subnets, _ := json.Marshal(path(svc, "Properties", "NetworkConfiguration", "AwsvpcConfiguration", "Subnets"))
	if !strings.Contains(string(subnets), "PrivateSubnet") || strings.Contains(string(subnets), "PublicSubnet") {
		t.Errorf("service subnets = %s, want the private subnets", subnets)
	}
}

func TestLoadBalancerStack(t *testing.T) {
	for _, name := range []string{"", "Account"} {
		t.Run("variant "+name, func(t *testing.T) {
			tpl := variant(t, name).templates["LoadBalancer"]
			has(t, tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{"Scheme": "internet-facing", "Type": "application"})
			for key, value := range map[string]string{
				"routing.http.drop_invalid_header_fields.enabled": "true",
				"idle_timeout.timeout_seconds":                    "60",
				"access_logs.s3.enabled":                          "true",
				"access_logs.s3.prefix":                           "alb",
			} {
				has(t, tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{
					"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": key, "Value": value}}),
				})
			}
			// Port 80 from the world, and nothing else.
			sg := only(t, tpl, "AWS::EC2::SecurityGroup")
			ingress, _ := json.Marshal(path(sg, "Properties", "SecurityGroupIngress"))
			if want := `[{"CidrIp":"0.0.0.0/0","Description":"HTTP from the internet","FromPort":80,"IpProtocol":"tcp","ToPort":80}]`; string(ingress) != want {
				t.Errorf("load balancer ingress = %s, want %s", ingress, want)
			}
			// The listener answers 404 to whatever no service's rule claims;
			// the load balancer stack holds no target group.
			has(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
				"Port": 80, "Protocol": "HTTP",
				"DefaultActions": []any{map[string]any{"Type": "fixed-response", "FixedResponseConfig": map[string]any{
					"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "Not Found",
				}}},
			})
			count(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", 1)
			count(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup", 0)
			count(t, tpl, "AWS::ElasticLoadBalancingV2::ListenerRule", 0)
			// EC2's default allow-all egress is replaced by a rule that
			// matches nothing: the Service stacks add the tasks.
			if egress := compact(path(sg, "Properties", "SecurityGroupEgress")); egress != `[{"CidrIp":"255.255.255.255/32","Description":"Disallow all traffic","FromPort":252,"IpProtocol":"icmp","ToPort":86}]` {
				t.Errorf("load balancer egress = %s, want the no-traffic rule alone", egress)
			}
			has(t, tpl, "AWS::S3::Bucket", map[string]any{
				"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
					map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
				}},
				"PublicAccessBlockConfiguration": map[string]any{
					"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
				},
				"LifecycleConfiguration": map[string]any{"Rules": []any{
					map[string]any{"ExpirationInDays": 30, "Status": "Enabled"},
				}},
			})
			policy, _ := json.Marshal(only(t, tpl, "AWS::S3::BucketPolicy"))
			if !strings.Contains(string(policy), `"aws:SecureTransport":"false"`) {
				t.Error("access-log bucket policy does not refuse plain HTTP")
			}
			alb := only(t, tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")
			if deps, _ := json.Marshal(alb["DependsOn"]); !strings.Contains(string(deps), "AccessLogsPolicy") {
				t.Errorf("load balancer DependsOn = %s, want the access-log bucket policy", deps)
			}
			mustNotPanic(t, func() {
				tpl.HasOutput(jsii.String("ServiceUrl"), map[string]any{
					"Value": map[string]any{"Fn::Join": []any{"", []any{"http://", map[string]any{"Fn::GetAtt": assertions.Match_AnyValue()}}}},
				})
			})
		})
	}
}

// logWriters returns the principals that the access-log bucket policy lets
// put objects, and the template's Mappings and Transform.
func logWriters(t *testing.T, tpl assertions.Template) (writers []string, mappings, transform any) {
	t.Helper()
	policy := only(t, tpl, "AWS::S3::BucketPolicy")
	for _, st := range path(policy, "Properties", "PolicyDocument", "Statement").([]any) {
		if path(st, "Action") == "s3:PutObject" && path(st, "Effect") == "Allow" {
			p, _ := json.Marshal(path(st, "Principal"))
			writers = append(writers, string(p))
		}
	}
	j := toJSON(t, tpl)
	return writers, j["Mappings"], j["Transform"]
}

func TestAccessLogWriters(t *testing.T) {
	// A region opened before August 2022: its ELB account, and nothing else.
	writers, mappings, transform := logWriters(t, variant(t, "Account").templates["LoadBalancer"])
	if want := []string{`{"AWS":"arn:aws:iam::156460612806:root"}`}; !slices.Equal(writers, want) || mappings != nil || transform != nil {
		t.Errorf("eu-west-1: writers %v, mappings %v, transform %v; want %v alone", writers, mappings, transform, want)
	}
	// A region opened since: the log-delivery service principal alone, and
	// no mapping that could fail to resolve.
	writers, mappings, transform = logWriters(t, variant(t, "App").templates["LoadBalancer"])
	if want := []string{`{"Service":"logdelivery.elasticloadbalancing.amazonaws.com"}`}; !slices.Equal(writers, want) || mappings != nil || transform != nil {
		t.Errorf("ap-south-2: writers %v, mappings %v, transform %v; want %v alone", writers, mappings, transform, want)
	}
	// Environment-agnostic: both (in one statement), the account looked up
	// with a default, so that no region can fail the lookup.
	writers, mappings, transform = logWriters(t, defaults(t).templates["LoadBalancer"])
	lookup := `{"AWS":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Fn::FindInMap":["ElbAccounts",{"Ref":"AWS::Region"},"account",{"DefaultValue":{"Ref":"AWS::AccountId"}}]},":root"]]},"Service":"logdelivery.elasticloadbalancing.amazonaws.com"}`
	if want := []string{lookup}; !slices.Equal(writers, want) {
		t.Errorf("environment-agnostic writers:\n got %v\nwant %v", writers, want)
	}
	if got, _ := json.Marshal(transform); string(got) != `["AWS::LanguageExtensions"]` || mappings == nil {
		t.Errorf("environment-agnostic: transform %s, mappings %v; want AWS::LanguageExtensions and the ElbAccounts map", got, mappings != nil)
	}
}

func TestElbAccount(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-west-1", "ap-southeast-1", "sa-east-1", "af-south-1", "me-south-1", "ap-southeast-3"} {
		if elbAccount(r) == "" {
			t.Errorf("%s: no ELB account, want the one AWS documents", r)
		}
	}
	// Regions opened since August 2022 use the service principal.
	for _, r := range []string{"ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-west-1", "eu-central-2",
		"eu-south-2", "il-central-1", "me-central-1", "mx-central-1", "xx-future-9"} {
		if a := elbAccount(r); a != "" {
			t.Errorf("%s: ELB account %s, want none", r, a)
		}
	}
}

func TestClusterStack(t *testing.T) {
	tpl := defaults(t).templates["Cluster"]

	has(t, tpl, "AWS::ECS::Cluster", map[string]any{
		"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
	})
	has(t, tpl, "AWS::ECS::ClusterCapacityProviderAssociations", map[string]any{
		"CapacityProviders": []any{"FARGATE", "FARGATE_SPOT"},
	})
	mustNotPanic(t, func() {
		tpl.HasOutput(jsii.String("ClusterName"), map[string]any{"Value": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Cluster"))}})
	})
}

func TestServiceStack(t *testing.T) {
	for _, name := range []string{"", "Account"} {
		t.Run("variant "+name, func(t *testing.T) {
			tpl := variant(t, name).templates["Service"]
			has(t, tpl, "AWS::ECS::Service", map[string]any{
				// Spot is really used: no LaunchType to override the
				// cluster's default strategy, which the service is created
				// with; with the Spot fallback the function owns the
				// strategy (TestDeployDuringAFallbackSendsNoStrategy).
				"CapacityProviderStrategy": assertions.Match_Absent(),
				"LaunchType":               assertions.Match_Absent(),
				"DesiredCount":             assertions.Match_Absent(),
				"ForceNewDeployment":       assertions.Match_Absent(),
				"DeploymentConfiguration": map[string]any{
					"MinimumHealthyPercent":    100,
					"MaximumPercent":           200,
					"Strategy":                 "CANARY",
					"BakeTimeInMinutes":        5,
					"CanaryConfiguration":      map[string]any{"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 6},
					"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
				},
				"HealthCheckGracePeriodSeconds": 30,
				"LoadBalancers": []any{map[string]any{"ContainerName": "Web", "ContainerPort": 5000,
					"TargetGroupArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^TargetGroup"))},
					"AdvancedConfiguration": map[string]any{
						"AlternateTargetGroupArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlternateTargetGroup"))},
						"ProductionListenerRule":  map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ProductionRule"))},
						"TestListenerRule":        map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^TestRule"))},
						"RoleArn":                 map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^LoadBalancerRole")), "Arn"}},
					}}},
				"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
					"AssignPublicIp": "ENABLED",
				}},
			})
			has(t, tpl, "AWS::ECS::TaskDefinition", map[string]any{
				"Cpu": "256", "Memory": "512",
				"RequiresCompatibilities": []any{"FARGATE"},
				"RuntimePlatform":         map[string]any{"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
				// /tmp is writable on a read-only root.
				"Volumes": []any{map[string]any{"Name": "tmp"}},
				"ContainerDefinitions": []any{map[string]any{
					"Name":                   "Web",
					"PortMappings":           []any{map[string]any{"ContainerPort": 5000}},
					"ReadonlyRootFilesystem": true,
					"MountPoints":            []any{map[string]any{"ContainerPath": "/tmp", "SourceVolume": "tmp", "ReadOnly": false}},
					"User":                   "65532:65532",
					"StopTimeout":            30,
					"Environment": []any{
						map[string]any{"Name": "CORS_ALLOWED_ORIGINS", "Value": "*"},
						map[string]any{"Name": "CORS_ALLOW_CREDENTIALS", "Value": "false"},
						map[string]any{"Name": "DRAIN_DELAY", "Value": "15s"},
						map[string]any{"Name": "HEALTH_CHECK_PATH", "Value": "/healthcheck"},
						map[string]any{"Name": "PORT", "Value": "5000"},
						map[string]any{"Name": "SHUTDOWN_TIMEOUT", "Value": "10s"},
					},
					"Secrets":          assertions.Match_Absent(),
					"LogConfiguration": map[string]any{"LogDriver": "awslogs"},
				}},
			})
			has(t, tpl, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 30})
			// Two identical target groups: the tasks of a release start in
			// whichever does not serve.
			groups := resources(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup")
			if len(groups) != 2 {
				t.Errorf("want 2 target groups, found %d", len(groups))
			}
			for id, g := range groups {
				has(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{
					"Port": 80, "Protocol": "HTTP", "TargetType": "ip",
					"HealthCheckPath":            "/healthcheck",
					"HealthCheckIntervalSeconds": 5,
					"HealthCheckTimeoutSeconds":  2,
					"HealthyThresholdCount":      3,
					"UnhealthyThresholdCount":    2,
					"Matcher":                    map[string]any{"HttpCode": "200"},
					"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{
						map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "15"},
					}),
				})
				if p := compact(path(g, "Properties")); p != compact(path(groups[firstKey(groups)], "Properties")) {
					t.Errorf("target group %s differs from the other: %s", id, p)
				}
			}
			// The production rule takes everything that no other rule claims,
			// on the load balancer stack's serving listener; the test rule
			// takes the requests with the test header first.
			listener := map[string]any{"Fn::ImportValue": assertions.Match_StringLikeRegexp(jsii.String("^fargo-LoadBalancer:.*HttpListener"))}
			has(t, tpl, "AWS::ElasticLoadBalancingV2::ListenerRule", map[string]any{
				"ListenerArn": listener, "Priority": 50000,
				"Conditions": []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{"/*"}}}},
				"Actions":    []any{map[string]any{"Type": "forward", "TargetGroupArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^TargetGroup"))}}},
			})
			has(t, tpl, "AWS::ElasticLoadBalancingV2::ListenerRule", map[string]any{
				"ListenerArn": listener, "Priority": 49999,
				"Conditions": []any{
					map[string]any{"Field": "http-header", "HttpHeaderConfig": map[string]any{"HttpHeaderName": "X-Fargo-Test", "Values": []any{"1"}}},
					map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{"/*"}}},
				},
				"Actions": []any{map[string]any{"Type": "forward", "TargetGroupArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlternateTargetGroup"))}}},
			})
			count(t, tpl, "AWS::ElasticLoadBalancingV2::ListenerRule", 2)
			// ECS moves the rules' weights with AWS's policy for it, and
			// nothing else.
			has(t, tpl, "AWS::IAM::Role", map[string]any{
				"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
					"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "ecs.amazonaws.com"},
				}}},
				"ManagedPolicyArns": []any{map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}}}},
			})
			has(t, tpl, "AWS::ApplicationAutoScaling::ScalableTarget", map[string]any{
				"MinCapacity": 2, "MaxCapacity": 3, "ScalableDimension": "ecs:service:DesiredCount",
			})
			has(t, tpl, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
				"PolicyType": "TargetTrackingScaling",
				"TargetTrackingScalingPolicyConfiguration": map[string]any{
					"PredefinedMetricSpecification": map[string]any{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
					"TargetValue":                   70,
					"ScaleInCooldown":               300,
					"ScaleOutCooldown":              60,
				},
			})
			count(t, tpl, "AWS::ApplicationAutoScaling::ScalingPolicy", 1)
			for output, value := range map[string]any{
				"ServiceName":  map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Service")), "Name"}},
				"LogGroupName": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^LogGroup"))},
			} {
				mustNotPanic(t, func() { tpl.HasOutput(jsii.String(output), map[string]any{"Value": value}) })
			}
		})
	}
}

// TestCpuArchitecture checks that the tasks and the image follow
// cpuArchitecture together: a task definition for one architecture running
// an image built for the other fails at start with "exec format error".
// Switching it must also change the image's asset hash, which is its tag
// in the bootstrap repository: with the same tag, `cdk deploy` would find
// the other architecture's image already pushed and not build this one.
func TestCpuArchitecture(t *testing.T) {
	tests := []struct {
		name                string
		s                   func(t *testing.T) *synthesized
		task, imagePlatform string
	}{
		{"default", defaults, "ARM64", "linux/arm64"},
		{"cpuArchitecture=x86_64", func(t *testing.T) *synthesized {
			return synth(t, map[string]any{"cpuArchitecture": "x86_64"}, nil)
		}, "X86_64", "linux/amd64"},
	}
	hashes := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s(t)
			has(t, s.templates["Service"], "AWS::ECS::TaskDefinition", map[string]any{
				"RuntimePlatform": map[string]any{"CpuArchitecture": tt.task, "OperatingSystemFamily": "LINUX"},
			})
			// Spot and on demand alike, as before.
			has(t, s.templates["Cluster"], "AWS::ECS::ClusterCapacityProviderAssociations", map[string]any{
				"DefaultCapacityProviderStrategy": []any{
					map[string]any{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 0},
					map[string]any{"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
				},
			})
			images := imageAssets(t, s.outdir)
			var platforms []string
			for _, image := range images {
				platforms = append(platforms, image.Platform)
			}
			if !slices.Equal(platforms, []string{tt.imagePlatform}) {
				t.Fatalf("image asset platforms %q, want [%s]", platforms, tt.imagePlatform)
			}
			for hash := range images {
				if other, seen := hashes[hash]; seen {
					t.Errorf("image asset hash %s is the same as with %s", hash, other)
				}
				hashes[hash] = tt.name
			}
		})
	}
}

// imageSource is where `cdk deploy` builds one image asset: the build
// context and the platform it passes to docker build.
type imageSource struct {
	Directory  string            `json:"directory"`
	Platform   string            `json:"platform"`
	DockerFile string            `json:"dockerFile"`
	BuildArgs  map[string]string `json:"dockerBuildArgs"`
}

// dockerFile is the Dockerfile's path in the build context.
func (s imageSource) dockerFile() string {
	if s.DockerFile == "" {
		return "Dockerfile"
	}
	return s.DockerFile
}

// imageAssets returns the source of each image asset in the Service
// stack's asset manifest, by asset hash.
func imageAssets(t *testing.T, outdir string) map[string]imageSource {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(outdir, "Service.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source imageSource `json:"source"`
		} `json:"dockerImages"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatalf("Service.assets.json: %v", err)
	}
	out := map[string]imageSource{}
	for hash, image := range manifest.DockerImages {
		out[hash] = image.Source
	}
	return out
}

func TestServiceAcceptsOnlyTheLoadBalancer(t *testing.T) {
	for name, port := range map[string]float64{"": 5000, "App": 8080} {
		tpl := variant(t, name).templates["Service"]
		sg := only(t, tpl, "AWS::EC2::SecurityGroup")
		if in := path(sg, "Properties", "SecurityGroupIngress"); in != nil {
			t.Errorf("variant %q: service security group has inline ingress %v, want none", name, in)
		}
		ingress := resources(t, tpl, "AWS::EC2::SecurityGroupIngress")
		if len(ingress) != 1 {
			t.Fatalf("variant %q: want one ingress rule on the service, found %d", name, len(ingress))
		}
		for _, rule := range ingress {
			p := rule["Properties"].(map[string]any)
			src, _ := json.Marshal(p["SourceSecurityGroupId"])
			if p["FromPort"] != port || p["ToPort"] != port || p["IpProtocol"] != "tcp" || !strings.Contains(string(src), `"Fn::ImportValue":"fargo-LoadBalancer:ExportsOutputFnGetAttSecurityGroup`) {
				t.Errorf("variant %q: service ingress = %v, want tcp %v from the load balancer's security group", name, p, port)
			}
		}
		// The load balancer may reach the tasks on the container port only.
		has(t, tpl, "AWS::EC2::SecurityGroupEgress", map[string]any{"FromPort": port, "ToPort": port, "IpProtocol": "tcp"})
		count(t, tpl, "AWS::EC2::SecurityGroupEgress", 1)
	}
}

// TestBringYourOwnApp checks the app keys of the App variant: its port and
// health path everywhere they matter, its variables, and secrets the
// execution role may read, each exactly.
func TestBringYourOwnApp(t *testing.T) {
	s := variant(t, "App")
	svc, lb := s.templates["Service"], s.templates["LoadBalancer"]

	has(t, svc, "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{"HealthCheckPath": "/health/ready", "Port": 80})
	mustNotPanic(t, func() {
		lb.HasOutput(jsii.String("HealthCheckUrl"), map[string]any{"Value": "https://app.example.com/health/ready"})
	})
	has(t, svc, "AWS::ECS::Service", map[string]any{
		"LoadBalancers": []any{map[string]any{"ContainerName": "Web", "ContainerPort": 8080, "TargetGroupArn": assertions.Match_AnyValue()}},
	})
	has(t, svc, "AWS::ECS::TaskDefinition", map[string]any{
		"ContainerDefinitions": []any{map[string]any{
			"PortMappings": []any{map[string]any{"ContainerPort": 8080}},
			"Environment": []any{
				map[string]any{"Name": "CORS_ALLOWED_ORIGINS", "Value": "*"},
				map[string]any{"Name": "CORS_ALLOW_CREDENTIALS", "Value": "false"},
				map[string]any{"Name": "DRAIN_DELAY", "Value": "15s"},
				map[string]any{"Name": "GREETING", "Value": "hello"},
				map[string]any{"Name": "HEALTH_CHECK_PATH", "Value": "/health/ready"},
				map[string]any{"Name": "LOG_LEVEL", "Value": "debug"},
				map[string]any{"Name": "PORT", "Value": "8080"},
				map[string]any{"Name": "SHUTDOWN_TIMEOUT", "Value": "10s"},
			},
			"Secrets": []any{
				map[string]any{"Name": "API_TOKEN", "ValueFrom": "arn:aws:ssm:ap-south-2:123456789012:parameter/prod/api-token"},
				map[string]any{"Name": "DB_PASSWORD", "ValueFrom": "arn:aws:secretsmanager:ap-south-2:123456789012:secret:prod/db-AbCdEf:password::"},
			},
		}},
	})

	// The execution role reads exactly these, decrypts with exactly this
	// key, and uses a wildcard only where IAM offers nothing narrower.
	var statements []any
	for _, p := range resources(t, svc, "AWS::IAM::Policy") {
		if strings.Contains(compact(path(p, "Properties", "Roles")), "ExecutionRole") {
			statements = append(statements, path(p, "Properties", "PolicyDocument", "Statement").([]any)...)
		}
	}
	want := map[string]string{
		`["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue"]`: `"arn:aws:secretsmanager:ap-south-2:123456789012:secret:prod/db-AbCdEf"`,
		`"kms:Decrypt"`:               `"arn:aws:kms:ap-south-2:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"`,
		`"ecr:GetAuthorizationToken"`: `"*"`,
	}
	found := map[string]bool{}
	for _, st := range statements {
		action, resource := jsonOf(path(st, "Action")), jsonOf(path(st, "Resource"))
		if strings.Contains(resource, `"*"`) && action != `"ecr:GetAuthorizationToken"` {
			t.Errorf("execution role: %s on %s, want no wildcard", action, resource)
		}
		if r, ok := want[action]; ok {
			found[action] = true
			if resource != r {
				t.Errorf("execution role: %s on %s, want %s", action, resource, r)
			}
		}
		if strings.Contains(action, "ssm:") && !strings.Contains(resource, ":parameter/prod/api-token") {
			t.Errorf("execution role: %s on %s, want the api-token parameter only", action, resource)
		}
	}
	for action := range want {
		if !found[action] {
			t.Errorf("execution role lacks %s; statements: %s", action, jsonOf(statements))
		}
	}
}

func TestRequestCountScaling(t *testing.T) {
	// GIVEN requestsPerTarget, as `cdk synth -c requestsPerTarget=500` passes it
	tpl := variant(t, "App").templates["Service"]

	// THEN a second target-tracking policy follows ALB requests per task,
	// labelled with the names the load balancer stack publishes, whole.
	has(t, tpl, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
		"TargetTrackingScalingPolicyConfiguration": map[string]any{
			"PredefinedMetricSpecification": map[string]any{
				"PredefinedMetricType": "ALBRequestCountPerTarget",
				"ResourceLabel": map[string]any{"Fn::Join": []any{"/", []any{
					map[string]any{"Fn::ImportValue": assertions.Match_StringLikeRegexp(jsii.String("LoadBalancerFullName"))},
					map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^TargetGroup")), "TargetGroupFullName"}},
				}}},
			},
			"TargetValue": 500,
		},
	})
	count(t, tpl, "AWS::ApplicationAutoScaling::ScalingPolicy", 2)
}

func TestTimingsAreConsistent(t *testing.T) {
	// The arithmetic explained in timings.go, kept true.
	if got := HealthyThreshold * HealthCheckInterval; got > 20*time.Second {
		t.Errorf("a new task needs %v of passing health checks, want at most 20s", got)
	}
	if stopRouting := UnhealthyThreshold * HealthCheckInterval; DrainDelay < stopRouting+5*time.Second {
		t.Errorf("DrainDelay %v is shorter than the %v the ALB needs to stop routing plus a 5s margin", DrainDelay, stopRouting)
	}
	if HealthCheckTimeout >= HealthCheckInterval {
		t.Errorf("HealthCheckTimeout %v must be shorter than HealthCheckInterval %v", HealthCheckTimeout, HealthCheckInterval)
	}
	if StopTimeout < DrainDelay+ShutdownTimeout || StopTimeout > 120*time.Second {
		t.Errorf("StopTimeout %v must cover DrainDelay+ShutdownTimeout (%v) and stay within Fargate's 120s", StopTimeout, DrainDelay+ShutdownTimeout)
	}
	if DeregistrationDelay >= 120*time.Second {
		t.Errorf("DeregistrationDelay %v must end inside the 120s Spot warning", DeregistrationDelay)
	}
	if HealthCheckGracePeriod < 2*HealthyThreshold*HealthCheckInterval {
		t.Errorf("HealthCheckGracePeriod %v is less than twice the time a task needs to turn healthy", HealthCheckGracePeriod)
	}
}

func TestEveryResourceIsTagged(t *testing.T) {
	// Types CloudFormation cannot tag, or that CDK does not tag, beside the
	// ones the app tag skips on purpose (untaggable).
	notTaggable := append(slices.Clone(untaggable),
		"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::SubnetRouteTableAssociation",
		"AWS::EC2::Route", "AWS::EC2::VPCGatewayAttachment", "AWS::IAM::Policy", "AWS::S3::BucketPolicy",
		"AWS::ECS::ClusterCapacityProviderAssociations", "AWS::ApplicationAutoScaling::ScalingPolicy",
		"AWS::CDK::Metadata", "Custom::VpcRestrictDefaultSG", "AWS::Lambda::Permission", "AWS::SNS::TopicPolicy",
		"AWS::SNS::Subscription",
	)
	for _, v := range []string{"", "Account", "AlarmEmail", "Nat"} {
		s := variant(t, v)
		for _, st := range s.all() {
			name := *st.Node().Id()
			for id, r := range toJSON(t, s.templates[name])["Resources"].(map[string]any) {
				typ := path(r, "Type").(string)
				// CDK's provider for restrictDefaultSecurityGroup is a bare
				// CfnResource that Tags.Of cannot reach.
				if slices.Contains(notTaggable, typ) || strings.HasPrefix(id, "CustomVpcRestrictDefaultSGCustomResourceProvider") {
					continue
				}
				tags, _ := json.Marshal(path(r, "Properties", "Tags"))
				if !strings.Contains(string(tags), `{"Key":"app","Value":"fargo"}`) {
					t.Errorf("variant %q: %s/%s (%s) is not tagged app=fargo: %s", v, name, id, typ, tags)
				}
			}
		}
	}
}

func TestUntaggableTypesCarryNoTags(t *testing.T) {
	for _, v := range []string{"", "Domain", "App"} {
		s := variant(t, v)
		for _, st := range s.all() {
			for _, typ := range untaggable {
				for id, r := range resources(t, s.templates[*st.Node().Id()], typ) {
					if tags := path(r, "Properties", "Tags"); tags != nil {
						t.Errorf("variant %q: %s (%s) has Tags %v, which its CloudFormation schema does not list", v, id, typ, tags)
					}
				}
			}
		}
	}
}

var literalRegion = regexp.MustCompile(`"(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]"`)

func TestEnvironmentAgnosticByDefault(t *testing.T) {
	s := defaults(t)
	for _, st := range s.all() {
		name := *st.Node().Id()
		tpl := toJSON(t, s.templates[name])
		// The access-log mapping lists regions on purpose.
		for _, section := range []string{"Resources", "Outputs"} {
			data, _ := json.Marshal(tpl[section])
			if m := literalRegion.Find(data); m != nil {
				t.Errorf("%s %s contains the literal region %s; without an account the stacks must not name one", name, section, m)
			}
		}
		if !strings.HasPrefix(*st.Account(), "${Token[") || !strings.HasPrefix(*st.Region(), "${Token[") {
			t.Errorf("%s env = %s/%s, want both unresolved", name, *st.Account(), *st.Region())
		}
	}
}

func TestBoundToAccountAndRegion(t *testing.T) {
	// GIVEN credentials, as the CLI passes them
	s := variant(t, "Account")

	// THEN the stacks are bound and the VPC spans maxAzs (3) zones
	for _, st := range s.all() {
		if *st.Account() != account || *st.Region() != "eu-west-1" {
			t.Errorf("%s env = %s/%s, want %s/eu-west-1", *st.StackName(), *st.Account(), *st.Region(), account)
		}
	}
	count(t, s.templates["Network"], "AWS::EC2::Subnet", 6)
}

func TestExistingVpc(t *testing.T) {
	// GIVEN vpcId, looked up in the account's VPCs (testdata/cdk.context.json),
	// a VPC with two public subnets in each of its two AZs
	s := variant(t, "ExistingVpc")

	// THEN there is no Network stack, and the others use the VPC's own
	// subnets by id: public ones for the load balancer and, without NAT,
	// for the tasks, one per AZ (CreateLoadBalancer refuses two subnets in
	// one AZ).
	if s.stacks.Network != nil {
		t.Fatal("a Network stack exists with vpcId")
	}
	has(t, s.templates["LoadBalancer"], "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{
		"Subnets": []any{"subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"},
	})
	has(t, s.templates["Service"], "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{"VpcId": "vpc-0123456789abcdef0"})
	has(t, s.templates["Service"], "AWS::EC2::SecurityGroup", map[string]any{"VpcId": "vpc-0123456789abcdef0"})
	has(t, s.templates["Service"], "AWS::ECS::Service", map[string]any{"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
		"Subnets": []any{"subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"},
	}}})
	for _, st := range s.all() {
		if data := compact(toJSON(t, s.templates[*st.Node().Id()])); strings.Contains(data, "fargo-Network") {
			t.Errorf("%s refers to a Network stack", *st.Node().Id())
		}
	}
}

func TestCustomDomain(t *testing.T) {
	// GIVEN domainName, hostedZoneId and hostedZoneName
	s := variant(t, "Domain")
	tpl := s.templates["LoadBalancer"]

	// THEN a DNS-validated certificate, HTTPS on 443, 80 redirecting to it
	has(t, tpl, "AWS::CertificateManager::Certificate", map[string]any{
		"DomainName":              "app.example.com",
		"ValidationMethod":        "DNS",
		"DomainValidationOptions": []any{map[string]any{"DomainName": "app.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}},
	})
	has(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"Port": 443, "Protocol": "HTTPS",
		"SslPolicy":      "ELBSecurityPolicy-TLS13-1-2-2021-06",
		"Certificates":   []any{map[string]any{"CertificateArn": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Certificate"))}}},
		"DefaultActions": []any{map[string]any{"Type": "fixed-response", "FixedResponseConfig": map[string]any{"StatusCode": "404"}}},
		// HSTS on every HTTPS response, the load balancer's own included.
		"ListenerAttributes": []any{map[string]any{"Key": "routing.http.response.strict_transport_security.header_value", "Value": "max-age=31536000"}},
	})
	// The serving listener keeps its logical id and ARN (the one the
	// Service stack's rules are on) and moves to 443 in place; the port-80
	// redirect is a new listener that waits for it, so HTTP keeps serving
	// until the certificate is valid and HTTPS serves.
	listeners := resources(t, tpl, "AWS::ElasticLoadBalancingV2::Listener")
	serving := firstKey(resources(t, defaults(t).templates["LoadBalancer"], "AWS::ElasticLoadBalancingV2::Listener"))
	if p := path(listeners[serving], "Properties", "Port"); p != 443.0 {
		t.Errorf("listener %s has port %v with the domain, want 443: the serving listener must keep its id", serving, p)
	}
	for id, l := range listeners {
		if path(l, "Properties", "Port") == 80.0 {
			if deps := compact(l["DependsOn"]); !strings.Contains(deps, serving) {
				t.Errorf("redirect listener %s DependsOn %s, want the serving listener %s: port 80 would redirect before HTTPS serves", id, deps, serving)
			}
		}
	}
	has(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"Port": 80, "Protocol": "HTTP",
		"DefaultActions": []any{map[string]any{"Type": "redirect", "RedirectConfig": map[string]any{"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}},
	})
	count(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", 2)
	has(t, tpl, "AWS::Route53::RecordSet", map[string]any{
		"Name": "app.example.com.", "Type": "A", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
		"AliasTarget": map[string]any{"DNSName": assertions.Match_AnyValue(), "HostedZoneId": assertions.Match_AnyValue()},
	})
	// The ALB is IPv4 only, so there is no AAAA record.
	count(t, tpl, "AWS::Route53::RecordSet", 1)
	has(t, tpl, "AWS::EC2::SecurityGroup", map[string]any{
		"SecurityGroupIngress": assertions.Match_ArrayWith(&[]any{map[string]any{"CidrIp": "0.0.0.0/0", "Description": "HTTPS from the internet", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}}),
	})
	mustNotPanic(t, func() {
		tpl.HasOutput(jsii.String("ServiceUrl"), map[string]any{"Value": "https://app.example.com"})
	})
	// The domain is the load balancer stack's business alone: turning it on
	// or off deploys that stack and leaves the others, the Service stack's
	// production rule included, as they are.
	for _, name := range []string{"Network", "Cluster", "Service"} {
		if a, b := compact(toJSON(t, s.templates[name])), compact(toJSON(t, defaults(t).templates[name])); a != b {
			t.Errorf("the custom domain changes the %s stack", name)
		}
	}
}

func TestExistingCertificate(t *testing.T) {
	// GIVEN domainName and certificateArn, without a hosted zone
	tpl := variant(t, "App").templates["LoadBalancer"]

	// THEN HTTPS uses that certificate, and an output says which record to
	// create, since the stacks do not manage the zone.
	has(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"Port": 443, "Protocol": "HTTPS",
		"Certificates": []any{map[string]any{"CertificateArn": "arn:aws:acm:ap-south-2:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}},
	})
	count(t, tpl, "AWS::CertificateManager::Certificate", 0)
	count(t, tpl, "AWS::Route53::RecordSet", 0)
	mustNotPanic(t, func() {
		tpl.HasOutput(jsii.String("ServiceUrl"), map[string]any{"Value": "https://app.example.com"})
		tpl.HasOutput(jsii.String("DnsRecord"), map[string]any{"Value": map[string]any{"Fn::Join": []any{"", []any{
			"app.example.com. CNAME ", map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^LoadBalancer")), "DNSName"}},
		}}}})
	})
}

func TestAlarms(t *testing.T) {
	tpl := defaults(t).templates["Service"]

	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	// Two traffic alarms per target group, five for the service.
	if len(alarms) != 9 {
		t.Errorf("want 9 alarms, found %d", len(alarms))
	}
	for id, a := range alarms {
		if actions := path(a, "Properties", "AlarmActions"); actions != nil {
			t.Errorf("%s has actions %v without alarmEmail", id, actions)
		}
	}
	errorRate := map[string]any{
		"Threshold":          5,
		"ComparisonOperator": "GreaterThanThreshold",
		"TreatMissingData":   "notBreaching",
		"Metrics": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
		})}),
	}
	has(t, tpl, "AWS::CloudWatch::Alarm", merge(errorRate, map[string]any{"AlarmName": "fargo-Target5xx", "EvaluationPeriods": 3}))
	has(t, tpl, "AWS::CloudWatch::Alarm", merge(errorRate, map[string]any{"AlarmName": assertions.Match_Absent(), "EvaluationPeriods": 5}))
	// The metrics' dimensions are the published names, imported whole.
	lbName := map[string]any{"Name": "LoadBalancer", "Value": map[string]any{"Fn::ImportValue": assertions.Match_StringLikeRegexp(jsii.String("LoadBalancerFullName"))}}
	tgName := func(prefix string) map[string]any {
		return map[string]any{"Name": "TargetGroup", "Value": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^" + prefix)), "TargetGroupFullName"}}}
	}
	has(t, tpl, "AWS::CloudWatch::Alarm", merge(errorRate, map[string]any{"AlarmName": "fargo-Target5xx-Alternate", "EvaluationPeriods": 3}))
	for name, group := range map[string]string{"fargo-LatencyP99": "TargetGroup", "fargo-LatencyP99-Alternate": "AlternateTargetGroup"} {
		has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
			"AlarmName": name, "MetricName": "TargetResponseTime", "ExtendedStatistic": "p99",
			"Dimensions": []any{lbName, tgName(group)},
			"Threshold":  1, "EvaluationPeriods": 3, "ComparisonOperator": "GreaterThanThreshold",
		})
	}
	// Unhealthy tasks in either group.
	has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"Threshold": 0, "EvaluationPeriods": 5, "ComparisonOperator": "GreaterThanThreshold",
		"Metrics": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Expression": "MAX([FILL(unhealthyhostcountmaximum0, 0), FILL(unhealthyhostcountmaximum1, 0)])",
		})}),
	})
	has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName": "CPUUtilization", "Namespace": "AWS/ECS", "Threshold": 90, "EvaluationPeriods": 5,
	})
	has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName": "MemoryUtilization", "Namespace": "AWS/ECS", "Threshold": 90, "EvaluationPeriods": 5,
	})
	has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName": "RunningTaskCount", "Namespace": "ECS/ContainerInsights", "Threshold": 2,
		"ComparisonOperator": "LessThanThreshold", "TreatMissingData": "breaching", "EvaluationPeriods": 5,
	})

	// A deploy rolls back on the four traffic alarms, which depend on the
	// target groups' metrics only, and the service waits for them to exist.
	svc := only(t, tpl, "AWS::ECS::Service")
	if got, _ := json.Marshal(path(svc, "Properties", "DeploymentConfiguration", "Alarms")); string(got) != `{"AlarmNames":["fargo-Target5xx","fargo-LatencyP99","fargo-Target5xx-Alternate","fargo-LatencyP99-Alternate"],"Enable":true,"Rollback":true}` {
		t.Errorf("deployment alarms = %s", got)
	}
	deps, _ := json.Marshal(svc["DependsOn"])
	for _, want := range []string{"Target5xxAlarm", "LatencyP99Alarm", "AlternateTarget5xxAlarm", "AlternateLatencyP99Alarm"} {
		if !strings.Contains(string(deps), want) {
			t.Errorf("service DependsOn = %s, want %s", deps, want)
		}
	}

	// Dashboard names are global to the account: the region is part of it.
	dashboard := only(t, tpl, "AWS::CloudWatch::Dashboard")
	if name := compact(path(dashboard, "Properties", "DashboardName")); name != `{"Fn::Join":["-",["fargo",{"Ref":"AWS::Region"}]]}` {
		t.Errorf("DashboardName = %s, want fargo-<region>", name)
	}
	if name := path(only(t, variant(t, "Account").templates["Service"], "AWS::CloudWatch::Dashboard"), "Properties", "DashboardName"); name != "fargo-eu-west-1" {
		t.Errorf("account-bound DashboardName = %v, want fargo-eu-west-1", name)
	}
	body, _ := json.Marshal(path(dashboard, "Properties", "DashboardBody"))
	for _, metric := range []string{"RequestCount", "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", `\"p50\"`, `\"p99\"`,
		"HealthyHostCount", "UnHealthyHostCount", "RunningTaskCount", "DesiredTaskCount", "CPUUtilization", "MemoryUtilization"} {
		if !strings.Contains(string(body), metric) {
			t.Errorf("dashboard lacks %s", metric)
		}
	}
	count(t, tpl, "AWS::SNS::Topic", 0)
}

func TestAlarmEmail(t *testing.T) {
	// GIVEN alarmEmail
	tpl := variant(t, "AlarmEmail").templates["Service"]

	// THEN every alarm notifies an encrypted topic with that subscription
	has(t, tpl, "AWS::SNS::Subscription", map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
	has(t, tpl, "AWS::SNS::Topic", map[string]any{"KmsMasterKeyId": map[string]any{"Fn::GetAtt": assertions.Match_AnyValue()}})
	has(t, tpl, "AWS::KMS::Key", map[string]any{
		"EnableKeyRotation":   true,
		"PendingWindowInDays": 7,
		"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Action":    []any{"kms:Decrypt", "kms:GenerateDataKey*"},
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Resource":  "*",
		}})},
	})
	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	for id, a := range alarms {
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if got, _ := json.Marshal(path(a, "Properties", key)); !strings.Contains(string(got), "AlarmTopic") {
				t.Errorf("%s %s = %s, want the alarm topic", id, key, got)
			}
		}
	}
	// The topic policy (which replaces the default one) lets CloudWatch
	// publish, for these alarms of this account only, besides refusing
	// plain HTTP.
	var wantArns []string
	for id := range alarms {
		wantArns = append(wantArns, compact(map[string]any{"Fn::GetAtt": []any{id, "Arn"}}))
	}
	has(t, tpl, "AWS::SNS::TopicPolicy", map[string]any{"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
		assertions.Match_ObjectLike(&map[string]any{
			"Sid": "AllowAlarmsToPublish", "Effect": "Allow", "Action": "sns:Publish",
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Resource":  map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlarmTopic"))},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
				"ArnLike":      map[string]any{"aws:SourceArn": assertions.Match_AnyValue()},
			},
		}),
	})}})
	for _, st := range path(only(t, tpl, "AWS::SNS::TopicPolicy"), "Properties", "PolicyDocument", "Statement").([]any) {
		if path(st, "Sid") != "AllowAlarmsToPublish" {
			continue
		}
		var got []string
		for _, arn := range path(st, "Condition", "ArnLike", "aws:SourceArn").([]any) {
			got = append(got, compact(arn))
		}
		if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(wantArns))) {
			t.Errorf("the topic lets these alarms publish: %v, want all of them: %v", got, wantArns)
		}
	}
	has(t, tpl, "AWS::SNS::TopicPolicy", map[string]any{"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
		assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}),
	})}})
}

// jsonOf renders v as JSON, strings quoted.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// firstKey returns the first of m's keys in order.
func firstKey[V any](m map[string]V) string {
	return slices.Sorted(maps.Keys(m))[0]
}

// merge returns a copy of a with b's keys added.
func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// TestAccessLogBucketBlocksAllPublicAccess: the access-log bucket keeps all
// four public-access blocks, in every variant: the logs hold every
// client's address and path, and a regenerated golden would accept a
// weakened block without a word.
func TestAccessLogBucketBlocksAllPublicAccess(t *testing.T) {
	want := `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`
	for _, name := range []string{"", "Account", "App"} {
		buckets := resources(t, variant(t, name).templates["LoadBalancer"], "AWS::S3::Bucket")
		if len(buckets) == 0 {
			t.Errorf("variant %q: no bucket in the LoadBalancer stack", name)
		}
		for id, b := range buckets {
			if got := jsonOf(path(b, "Properties", "PublicAccessBlockConfiguration")); got != want {
				t.Errorf("variant %q: bucket %s has PublicAccessBlockConfiguration %s, want %s", name, id, got, want)
			}
		}
	}
}

// TestAccountUniqueNamesFollowOneScheme: the names the stacks write
// literally and that must be unique in the account (alarms, dashboard,
// task-definition family) all start with uniqueName's, <appName> for the
// app's own service and <appName>-<service> for another.
func TestAccountUniqueNamesFollowOneScheme(t *testing.T) {
	if got := uniqueName(Config{AppName: "shop"}); got != "shop" {
		t.Errorf("the app's own service: %q, want shop", got)
	}
	if got := uniqueName(Config{AppName: "shop", Service: "admin"}); got != "shop-admin" {
		t.Errorf("another service: %q, want shop-admin", got)
	}
	s := variant(t, "Account")
	prefix := uniqueName(s.cfg)
	tpl := s.templates["Service"]
	for id, td := range resources(t, tpl, "AWS::ECS::TaskDefinition") {
		if got := path(td, "Properties", "Family"); got != prefix {
			t.Errorf("task definition %s: Family %v, want %s", id, got, prefix)
		}
	}
	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	named := 0
	for id, a := range alarms {
		name, ok := path(a, "Properties", "AlarmName").(string)
		if !ok {
			continue // CloudFormation names it
		}
		named++
		if !strings.HasPrefix(name, prefix+"-") {
			t.Errorf("alarm %s: AlarmName %q, want %s-...", id, name, prefix)
		}
	}
	if named == 0 {
		t.Error("no alarm with a literal name: the deployment alarms need one")
	}
	for id, d := range resources(t, tpl, "AWS::CloudWatch::Dashboard") {
		if got := jsonOf(path(d, "Properties", "DashboardName")); !strings.HasPrefix(got, `"`+prefix+`-`) && !strings.Contains(got, `["`+prefix+`",`) {
			t.Errorf("dashboard %s: DashboardName %s, want %s-<region>", id, got, prefix)
		}
	}
}
