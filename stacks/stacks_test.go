package stacks

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The intent tests pin every value the README promises. Each names the
// property it checks, so a failure says what changed.

func TestNetworkStack(t *testing.T) {
	// GIVEN the defaults of cdk.json, no account (environment-agnostic)
	tpl := defaults(t).templates["Network"]

	// THEN
	has(t, tpl, "AWS::EC2::VPC", map[string]any{
		"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": true, "EnableDnsSupport": true,
	})
	// CDK caps an environment-agnostic VPC at two AZs: 2 public + 2 private.
	count(t, tpl, "AWS::EC2::Subnet", 4)
	has(t, tpl, "AWS::EC2::Subnet", map[string]any{"MapPublicIpOnLaunch": true})
	count(t, tpl, "AWS::EC2::NatGateway", 0)
	count(t, tpl, "AWS::EC2::EIP", 0)
	has(t, tpl, "AWS::EC2::FlowLog", map[string]any{"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
	has(t, tpl, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 30})
}

func TestNetworkStackWithNatGateway(t *testing.T) {
	// GIVEN one NAT gateway
	s := synth(t, map[string]any{"natGateways": "1"}, nil)

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
	tpl := defaults(t).templates["LoadBalancer"]

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
	has(t, tpl, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"Port": 80, "Protocol": "HTTP",
		"DefaultActions": []any{map[string]any{
			"Type":                "fixed-response",
			"FixedResponseConfig": map[string]any{"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "Service unavailable"},
		}},
	})
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
	for _, want := range []string{
		`"aws:SecureTransport":"false"`,
		`"Service":"logdelivery.elasticloadbalancing.amazonaws.com"`,
		`"Fn::FindInMap":["ElbAccounts",{"Ref":"AWS::Region"},"account"]`,
	} {
		if !strings.Contains(string(policy), want) {
			t.Errorf("access-log bucket policy lacks %s", want)
		}
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
}

func TestClusterStack(t *testing.T) {
	tpl := defaults(t).templates["Cluster"]

	has(t, tpl, "AWS::ECS::Cluster", map[string]any{
		"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
	})
	has(t, tpl, "AWS::ECS::ClusterCapacityProviderAssociations", map[string]any{
		"CapacityProviders": []any{"FARGATE", "FARGATE_SPOT"},
	})
}

func TestServiceStack(t *testing.T) {
	tpl := defaults(t).templates["Service"]

	has(t, tpl, "AWS::ECS::Service", map[string]any{
		// Spot is really used: a strategy, and no LaunchType to override it.
		"CapacityProviderStrategy": []any{
			map[string]any{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 0},
			map[string]any{"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
		},
		"LaunchType":   assertions.Match_Absent(),
		"DesiredCount": assertions.Match_Absent(),
		"DeploymentConfiguration": map[string]any{
			"MinimumHealthyPercent":    100,
			"MaximumPercent":           200,
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
		},
		"HealthCheckGracePeriodSeconds": 30,
		"LoadBalancers":                 []any{map[string]any{"ContainerName": "Web", "ContainerPort": 5000, "TargetGroupArn": assertions.Match_AnyValue()}},
		"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
			"AssignPublicIp": "ENABLED",
		}},
	})
	has(t, tpl, "AWS::ECS::TaskDefinition", map[string]any{
		"Cpu": "256", "Memory": "512",
		"RequiresCompatibilities": []any{"FARGATE"},
		"RuntimePlatform":         map[string]any{"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
		"ContainerDefinitions": []any{map[string]any{
			"Name":                   "Web",
			"PortMappings":           []any{map[string]any{"ContainerPort": 5000}},
			"ReadonlyRootFilesystem": true,
			"User":                   "65532:65532",
			"StopTimeout":            30,
			"Environment": []any{
				map[string]any{"Name": "CORS_ALLOWED_ORIGINS", "Value": "*"},
				map[string]any{"Name": "CORS_ALLOW_CREDENTIALS", "Value": "false"},
				map[string]any{"Name": "DRAIN_DELAY", "Value": "15s"},
				map[string]any{"Name": "PORT", "Value": "5000"},
				map[string]any{"Name": "SHUTDOWN_TIMEOUT", "Value": "10s"},
			},
			"LogConfiguration": map[string]any{"LogDriver": "awslogs"},
		}},
	})
	has(t, tpl, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 30})
	has(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{
		"Port": 5000, "Protocol": "HTTP", "TargetType": "ip",
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
	has(t, tpl, "AWS::ElasticLoadBalancingV2::ListenerRule", map[string]any{
		"Priority":   1,
		"Conditions": []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{"/*"}}}},
		"Actions":    []any{map[string]any{"Type": "forward", "TargetGroupArn": assertions.Match_AnyValue()}},
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
}

func TestServiceAcceptsOnlyTheLoadBalancer(t *testing.T) {
	tpl := defaults(t).templates["Service"]

	sg := only(t, tpl, "AWS::EC2::SecurityGroup")
	if in := path(sg, "Properties", "SecurityGroupIngress"); in != nil {
		t.Errorf("service security group has inline ingress %v, want none", in)
	}
	ingress := resources(t, tpl, "AWS::EC2::SecurityGroupIngress")
	if len(ingress) != 1 {
		t.Fatalf("want one ingress rule on the service, found %d", len(ingress))
	}
	for _, rule := range ingress {
		p := rule["Properties"].(map[string]any)
		src, _ := json.Marshal(p["SourceSecurityGroupId"])
		if p["FromPort"] != 5000.0 || p["ToPort"] != 5000.0 || p["IpProtocol"] != "tcp" || !strings.Contains(string(src), `"StackName":"fargo-LoadBalancer"`) {
			t.Errorf("service ingress = %v, want tcp 5000 from the load balancer's security group", p)
		}
	}
	// The load balancer may reach the tasks on the container port only.
	has(t, tpl, "AWS::EC2::SecurityGroupEgress", map[string]any{"FromPort": 5000, "ToPort": 5000, "IpProtocol": "tcp"})
}

func TestRequestCountScaling(t *testing.T) {
	// GIVEN requestsPerTarget, as `cdk synth -c requestsPerTarget=500` passes it
	s := synth(t, map[string]any{"requestsPerTarget": "500"}, nil)

	// THEN a second target-tracking policy follows ALB requests per task
	has(t, s.templates["Service"], "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
		"TargetTrackingScalingPolicyConfiguration": map[string]any{
			"PredefinedMetricSpecification": map[string]any{"PredefinedMetricType": "ALBRequestCountPerTarget"},
			"TargetValue":                   500,
		},
	})
	count(t, s.templates["Service"], "AWS::ApplicationAutoScaling::ScalingPolicy", 2)
}

func TestTimingsAreConsistent(t *testing.T) {
	// The arithmetic explained in config.go, kept true.
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
	// Resource types CloudFormation cannot tag, or that CDK does not tag.
	untaggable := []string{
		"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::SubnetRouteTableAssociation",
		"AWS::EC2::Route", "AWS::EC2::VPCGatewayAttachment", "AWS::IAM::Policy", "AWS::S3::BucketPolicy",
		"AWS::ECS::ClusterCapacityProviderAssociations", "AWS::ApplicationAutoScaling::ScalableTarget",
		"AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::ElasticLoadBalancingV2::Listener",
		"AWS::ElasticLoadBalancingV2::ListenerRule", "AWS::CDK::Metadata", "Custom::VpcRestrictDefaultSG",
		"AWS::Lambda::Permission",
	}
	s := defaults(t)
	for _, name := range stackNames {
		for id, r := range toJSON(t, s.templates[name])["Resources"].(map[string]any) {
			typ := path(r, "Type").(string)
			// CDK's provider for restrictDefaultSecurityGroup is a bare
			// CfnResource that Tags.Of cannot reach.
			if slices.Contains(untaggable, typ) || strings.HasPrefix(id, "CustomVpcRestrictDefaultSGCustomResourceProvider") {
				continue
			}
			tags, _ := json.Marshal(path(r, "Properties", "Tags"))
			if !strings.Contains(string(tags), `{"Key":"app","Value":"fargo"}`) {
				t.Errorf("%s/%s (%s) is not tagged app=fargo: %s", name, id, typ, tags)
			}
		}
	}
}

var literalRegion = regexp.MustCompile(`"(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]"`)

func TestEnvironmentAgnosticByDefault(t *testing.T) {
	s := defaults(t)
	for _, name := range stackNames {
		tpl := toJSON(t, s.templates[name])
		// The access-log mapping and its condition list regions on purpose.
		for _, section := range []string{"Resources", "Outputs"} {
			data, _ := json.Marshal(tpl[section])
			if m := literalRegion.Find(data); m != nil {
				t.Errorf("%s %s contains the literal region %s; without an account the stacks must not name one", name, section, m)
			}
		}
	}
	for _, st := range s.all() {
		if !strings.HasPrefix(*st.Account(), "${Token[") || !strings.HasPrefix(*st.Region(), "${Token[") {
			t.Errorf("%s env = %s/%s, want both unresolved", *st.Node().Id(), *st.Account(), *st.Region())
		}
	}
}

func TestBoundToAccountAndRegion(t *testing.T) {
	// GIVEN credentials, as the CLI passes them
	s := synth(t, nil, map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"})

	// THEN the stacks are bound and the VPC spans maxAzs (3) zones
	for _, st := range s.all() {
		if *st.Account() != "123456789012" || *st.Region() != "eu-west-1" {
			t.Errorf("%s env = %s/%s, want 123456789012/eu-west-1", *st.StackName(), *st.Account(), *st.Region())
		}
	}
	count(t, s.templates["Network"], "AWS::EC2::Subnet", 6)
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
		"Certificates":   []any{map[string]any{"CertificateArn": assertions.Match_AnyValue()}},
		"DefaultActions": []any{map[string]any{"Type": "fixed-response", "FixedResponseConfig": assertions.Match_ObjectLike(&map[string]any{"StatusCode": "503"})}},
	})
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
	// The service's rule goes on the HTTPS listener.
	rule, _ := json.Marshal(only(t, s.templates["Service"], "AWS::ElasticLoadBalancingV2::ListenerRule"))
	if !strings.Contains(string(rule), "HttpsListener") {
		t.Errorf("listener rule = %s, want it on the HTTPS listener", rule)
	}
}

func TestAlarms(t *testing.T) {
	tpl := defaults(t).templates["Service"]

	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	if len(alarms) != 7 {
		t.Errorf("want 7 alarms, found %d", len(alarms))
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
	has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"AlarmName": "fargo-LatencyP99", "MetricName": "TargetResponseTime", "ExtendedStatistic": "p99",
		"Threshold": 1, "EvaluationPeriods": 3, "ComparisonOperator": "GreaterThanThreshold",
	})
	has(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName": "UnHealthyHostCount", "Statistic": "Maximum", "Threshold": 0, "EvaluationPeriods": 5,
		"ComparisonOperator": "GreaterThanThreshold",
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

	// A deploy rolls back on the two traffic alarms, which depend on the
	// target group only, and the service waits for them to exist.
	svc := only(t, tpl, "AWS::ECS::Service")
	if got, _ := json.Marshal(path(svc, "Properties", "DeploymentConfiguration", "Alarms")); string(got) != `{"AlarmNames":["fargo-Target5xx","fargo-LatencyP99"],"Enable":true,"Rollback":true}` {
		t.Errorf("deployment alarms = %s", got)
	}
	deps, _ := json.Marshal(svc["DependsOn"])
	for _, want := range []string{"Target5xxAlarm", "LatencyP99Alarm"} {
		if !strings.Contains(string(deps), want) {
			t.Errorf("service DependsOn = %s, want %s", deps, want)
		}
	}

	dashboard := only(t, tpl, "AWS::CloudWatch::Dashboard")
	if name := path(dashboard, "Properties", "DashboardName"); name != "fargo" {
		t.Errorf("DashboardName = %v, want fargo", name)
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
	for id, a := range resources(t, tpl, "AWS::CloudWatch::Alarm") {
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if got, _ := json.Marshal(path(a, "Properties", key)); !strings.Contains(string(got), "AlarmTopic") {
				t.Errorf("%s %s = %s, want the alarm topic", id, key, got)
			}
		}
	}
}

// merge returns a copy of a with b's keys added.
func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
