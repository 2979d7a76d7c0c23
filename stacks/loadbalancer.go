package stacks

import (
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// accessLogPrefix is the key prefix of the ALB access logs in their bucket.
const accessLogPrefix = "alb"

// targetGroupPort is only the target group's default for targets that
// register without a port. ECS registers every task with containerPort, and
// the health check goes to the port a target registered with, so this stays
// fixed: a containerPort change must not replace the target group, which the
// Service stack imports.
const targetGroupPort = 80

// LoadBalancerStackProps configures the load balancer stack.
type LoadBalancerStackProps struct {
	awscdk.StackProps
	Config Config
	// Vpc is the Network stack's VPC; nil with vpcId.
	Vpc awsec2.IVpc
}

// LoadBalancerStack owns the internet-facing Application Load Balancer, its
// security group, its access-log bucket, its listeners and the target group
// they forward to, and, with a custom domain, the certificate and the DNS
// record. The service stack registers its tasks in the target group.
//
// Whatever the configuration, the Service stack reads the same values from
// it (the target group, with the security group its listeners bring, and
// the metrics' names), so toggling the custom domain changes this stack
// only.
type LoadBalancerStack struct {
	awscdk.Stack
	// TargetGroup receives all the listeners' traffic: HTTPS on 443 with a
	// custom domain, else HTTP on 80.
	TargetGroup awselasticloadbalancingv2.IApplicationTargetGroup
	// LoadBalancerFullName and TargetGroupFullName are the dimensions of
	// the ALB's CloudWatch metrics and of request-count scaling, published
	// ready-made so that no consumer derives them from an ARN.
	LoadBalancerFullName *string
	TargetGroupFullName  *string
}

// NewLoadBalancerStack creates the ALB over the public subnets.
func NewLoadBalancerStack(scope constructs.Construct, id string, props *LoadBalancerStackProps) *LoadBalancerStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	vpc := vpcIn(stack, props.Vpc, cfg)

	sg := awsec2.NewSecurityGroup(stack, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         vpc,
		Description: jsii.String("Internet-facing load balancer"),
		// Egress goes only to the tasks: the service stack opens it when it
		// registers them.
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(80)), jsii.String("HTTP from the internet"), nil)
	suppress(sg, "AwsSolutions-EC23", "The internet-facing load balancer of a public web service: its listener ports are open to the world by design, and the tasks accept traffic only from this security group.")

	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:            vpc,
		InternetFacing: jsii.Bool(true),
		SecurityGroup:  sg,
		// One subnet per AZ: an existing VPC may have several public
		// subnets in one AZ, and CreateLoadBalancer refuses that.
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC, OnePerAz: jsii.Bool(true)},
		DropInvalidHeaderFields: jsii.Bool(true),
		IdleTimeout:             seconds(IdleTimeout),
	})
	enableAccessLogs(stack, alb, cfg)

	targetGroup := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("TargetGroup"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
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
	})

	url := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("http://"), alb.LoadBalancerDnsName()})
	if cfg.HasDomain() {
		addHTTPS(stack, alb, sg, targetGroup, cfg)
		url = jsii.String("https://" + cfg.DomainName)
	} else {
		alb.AddListener(jsii.String("HttpListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:                jsii.Number(80),
			Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			Open:                jsii.Bool(false),
			DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targetGroup},
		})
	}

	awscdk.NewCfnOutput(stack, jsii.String("ServiceUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Public URL of the service"),
		Value:       url,
	})
	awscdk.NewCfnOutput(stack, jsii.String("HealthCheckUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("The health path, as the target group checks it (make smoke)"),
		Value:       awscdk.Fn_Join(jsii.String(""), &[]*string{url, jsii.String(cfg.HealthCheckPath)}),
	})
	return &LoadBalancerStack{
		Stack:                stack,
		TargetGroup:          targetGroup,
		LoadBalancerFullName: alb.LoadBalancerFullName(),
		TargetGroupFullName:  targetGroup.TargetGroupFullName(),
	}
}

// addHTTPS serves cfg.DomainName over HTTPS; port 80 only redirects. The
// certificate is certificateArn's, or a new one that ACM validates through
// DNS records in the hosted zone, which is imported by id and name so that
// synth needs no AWS lookup and which then also gets the alias record.
// Without a zone, an output says which DNS record to create.
func addHTTPS(stack awscdk.Stack, alb awselasticloadbalancingv2.ApplicationLoadBalancer, sg awsec2.SecurityGroup, targetGroup awselasticloadbalancingv2.IApplicationTargetGroup, cfg Config) {
	var zone awsroute53.IHostedZone
	if cfg.HasHostedZone() {
		zone = awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("HostedZone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String(cfg.HostedZoneId),
			ZoneName:     jsii.String(cfg.HostedZoneName),
		})
	}
	var cert awselasticloadbalancingv2.IListenerCertificate
	if cfg.CertificateArn != "" {
		cert = awselasticloadbalancingv2.ListenerCertificate_FromArn(jsii.String(cfg.CertificateArn))
	} else {
		cert = awselasticloadbalancingv2.ListenerCertificate_FromCertificateManager(awscertificatemanager.NewCertificate(stack, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
			DomainName: jsii.String(cfg.DomainName),
			Validation: awscertificatemanager.CertificateValidation_FromDns(zone),
		}))
	}
	sg.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from the internet"), nil)
	alb.AddListener(jsii.String("HttpListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:     jsii.Number(80),
		Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		Open:     jsii.Bool(false),
		DefaultAction: awselasticloadbalancingv2.ListenerAction_Redirect(&awselasticloadbalancingv2.RedirectOptions{
			Protocol:  jsii.String("HTTPS"),
			Port:      jsii.String("443"),
			Permanent: jsii.Bool(true),
		}),
	})
	alb.AddListener(jsii.String("HttpsListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:                jsii.Number(443),
		Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTPS,
		Certificates:        &[]awselasticloadbalancingv2.IListenerCertificate{cert},
		SslPolicy:           awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS,
		Open:                jsii.Bool(false),
		DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targetGroup},
	})
	if zone == nil {
		awscdk.NewCfnOutput(stack, jsii.String("DnsRecord"), &awscdk.CfnOutputProps{
			Description: jsii.String("Create this record in your DNS: the stacks do not manage the domain's zone"),
			Value: awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String(cfg.DomainName + ". CNAME "), alb.LoadBalancerDnsName(),
			}),
		})
		return
	}
	awsroute53.NewARecord(stack, jsii.String("AliasRecord"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(cfg.DomainName + "."),
		Target:     awsroute53.RecordTarget_FromAlias(awsroute53targets.NewLoadBalancerTarget(alb, nil)),
	})
}

// enableAccessLogs sends the ALB's access logs to an encrypted, TLS-only
// bucket that expires them after logRetentionDays. The bucket policy lets
// the writer that accessLogWriters names put objects under the prefix.
//
// The attributes are set here rather than with CDK's LogAccessLogs, which
// panics in an environment-agnostic stack and also grants
// delivery.logs.amazonaws.com, which AWS's guide to ALB access logs does
// not ask for.
func enableAccessLogs(stack awscdk.Stack, alb awselasticloadbalancingv2.ApplicationLoadBalancer, cfg Config) {
	bucket := awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED, // the only encryption ALB log delivery supports
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration: awscdk.Duration_Days(jsii.Number(cfg.LogRetentionDays)),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	suppress(bucket, "AwsSolutions-S1", "This bucket holds the load balancer's access logs; logging access to the log bucket itself would need yet another bucket.")
	logObjects := bucket.ArnForObjects(jsii.String(accessLogPrefix + "/AWSLogs/" + *awscdk.Aws_ACCOUNT_ID() + "/*"))
	for _, writer := range accessLogWriters(stack) {
		bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Principals: &[]awsiam.IPrincipal{writer},
			Actions:    jsii.Strings("s3:PutObject"),
			Resources:  &[]*string{logObjects},
		}))
	}

	alb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	alb.SetAttribute(jsii.String("access_logs.s3.bucket"), bucket.BucketName())
	alb.SetAttribute(jsii.String("access_logs.s3.prefix"), jsii.String(accessLogPrefix))
	// The ALB checks that it may write to the bucket when the attribute is set.
	alb.Node().AddDependency(bucket.Policy())
}

// logDelivery is the service principal that writes ALB access logs in the
// regions opened since August 2022, which have no regional ELB account.
const logDelivery = "logdelivery.elasticloadbalancing.amazonaws.com"

// accessLogWriters returns who writes the ALB's access logs. AWS documents
// one writer per region: the regional ELB account in the regions opened
// before August 2022, the log-delivery service principal in the others.
//
// With a known region (every real deploy) that is the one statement. In an
// environment-agnostic stack both are granted, the account looked up at
// deploy time in a mapping built from CDK's region facts. CloudFormation
// resolves Fn::FindInMap even in a branch Fn::If does not take, so a plain
// lookup would fail in every region missing from the map ("Unable to get
// mapping"); the lookup's DefaultValue (AWS::LanguageExtensions, which CDK
// adds) names this account instead, which grants nothing new.
func accessLogWriters(stack awscdk.Stack) []awsiam.IPrincipal {
	if region := stack.Region(); !*awscdk.Token_IsUnresolved(region) {
		if account := elbAccount(*region); account != "" {
			return []awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(account))}
		}
		return []awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(logDelivery), nil)}
	}
	accounts := regioninfo.RegionInfo_RegionMap(regioninfo.FactName_ELBV2_ACCOUNT())
	mapping := awscdk.NewCfnMapping(stack, jsii.String("ElbAccounts"), nil)
	for _, r := range slices.Sorted(maps.Keys(*accounts)) {
		mapping.SetValue(jsii.String(r), jsii.String("account"), (*accounts)[r])
	}
	account := mapping.FindInMap(awscdk.Aws_REGION(), jsii.String("account"), awscdk.Aws_ACCOUNT_ID())
	return []awsiam.IPrincipal{
		awsiam.NewServicePrincipal(jsii.String(logDelivery), nil),
		awsiam.NewAccountPrincipal(account),
	}
}

// elbAccount is the regional ELB account that writes access logs in
// region, or "" where the log-delivery service principal does.
func elbAccount(region string) string {
	if a := regioninfo.RegionInfo_Get(jsii.String(region)).Elbv2Account(); a != nil {
		return *a
	}
	return ""
}
