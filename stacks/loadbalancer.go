package stacks

import (
	"maps"
	"slices"
	"time"

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

// IdleTimeout is the ALB's idle timeout (the AWS default, set so that it is
// visible); the service keeps idle connections open for longer.
const IdleTimeout = 60 * time.Second

// accessLogPrefix is the key prefix of the ALB access logs in their bucket.
const accessLogPrefix = "alb"

// LoadBalancerStackProps configures the load balancer stack.
type LoadBalancerStackProps struct {
	awscdk.StackProps
	Config Config
	Vpc    awsec2.IVpc
}

// LoadBalancerStack owns the internet-facing Application Load Balancer, its
// security group, its access-log bucket and its listener, and, with a
// custom domain, the certificate and the DNS record. The listener's default
// action is a fixed 503; the service stack adds the rule that forwards to
// its tasks.
type LoadBalancerStack struct {
	awscdk.Stack
	// SecurityGroup is the ALB's security group: tasks accept traffic only
	// from it.
	SecurityGroup awsec2.ISecurityGroup
	// Listener takes the public traffic that the service's rule forwards:
	// HTTPS on 443 with a custom domain, else HTTP on 80.
	Listener awselasticloadbalancingv2.IApplicationListener
}

// NewLoadBalancerStack creates the ALB over the public subnets.
func NewLoadBalancerStack(scope constructs.Construct, id string, props *LoadBalancerStackProps) *LoadBalancerStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config

	sg := awsec2.NewSecurityGroup(stack, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         props.Vpc,
		Description: jsii.String("Internet-facing load balancer"),
		// Egress goes only to the tasks: the service stack opens it when it
		// registers them.
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(80)), jsii.String("HTTP from the internet"), nil)
	suppress(sg, "AwsSolutions-EC23", "The internet-facing load balancer of a public web service: its listener ports are open to the world by design, and the tasks accept traffic only from this security group.")

	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:                     props.Vpc,
		InternetFacing:          jsii.Bool(true),
		SecurityGroup:           sg,
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		DropInvalidHeaderFields: jsii.Bool(true),
		IdleTimeout:             seconds(IdleTimeout),
	})
	enableAccessLogs(stack, alb, cfg)

	var listener awselasticloadbalancingv2.ApplicationListener
	url := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("http://"), alb.LoadBalancerDnsName()})
	if cfg.HasDomain() {
		listener = addHTTPS(stack, alb, sg, cfg)
		url = jsii.String("https://" + cfg.DomainName)
	} else {
		listener = alb.AddListener(jsii.String("HttpListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:          jsii.Number(80),
			Protocol:      awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			Open:          jsii.Bool(false),
			DefaultAction: noService(),
		})
	}

	awscdk.NewCfnOutput(stack, jsii.String("ServiceUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Public URL of the service"),
		Value:       url,
	})
	return &LoadBalancerStack{Stack: stack, SecurityGroup: sg, Listener: listener}
}

// noService answers requests that no rule forwards, which until the service
// stack adds its rule is every request.
func noService() awselasticloadbalancingv2.ListenerAction {
	return awselasticloadbalancingv2.ListenerAction_FixedResponse(jsii.Number(503), &awselasticloadbalancingv2.FixedResponseOptions{
		ContentType: jsii.String("text/plain"),
		MessageBody: jsii.String("Service unavailable"),
	})
}

// addHTTPS serves cfg.DomainName over HTTPS with a DNS-validated ACM
// certificate and an alias record in the hosted zone, which is imported by
// id and name so that synth needs no AWS lookup. Port 80 only redirects.
func addHTTPS(stack awscdk.Stack, alb awselasticloadbalancingv2.ApplicationLoadBalancer, sg awsec2.SecurityGroup, cfg Config) awselasticloadbalancingv2.ApplicationListener {
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("HostedZone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(cfg.HostedZoneId),
		ZoneName:     jsii.String(cfg.HostedZoneName),
	})
	cert := awscertificatemanager.NewCertificate(stack, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
		DomainName: jsii.String(cfg.DomainName),
		Validation: awscertificatemanager.CertificateValidation_FromDns(zone),
	})
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
	awsroute53.NewARecord(stack, jsii.String("AliasRecord"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(cfg.DomainName + "."),
		Target:     awsroute53.RecordTarget_FromAlias(awsroute53targets.NewLoadBalancerTarget(alb, nil)),
	})
	return alb.AddListener(jsii.String("HttpsListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:          jsii.Number(443),
		Protocol:      awselasticloadbalancingv2.ApplicationProtocol_HTTPS,
		Certificates:  &[]awselasticloadbalancingv2.IListenerCertificate{awselasticloadbalancingv2.ListenerCertificate_FromCertificateManager(cert)},
		SslPolicy:     awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS,
		Open:          jsii.Bool(false),
		DefaultAction: noService(),
	})
}

// enableAccessLogs sends the ALB's access logs to an encrypted, TLS-only
// bucket that expires them after logRetentionDays.
//
// CDK's LogAccessLogs needs a concrete region (it panics in an
// environment-agnostic stack), so the attributes and the bucket policy are
// written here, for any region, as AWS documents them: the
// logdelivery.elasticloadbalancing.amazonaws.com service principal, which
// regions opened since August 2022 require, and, for the regions opened
// before, the regional ELB account, looked up at deploy time in a mapping
// built from CDK's region facts. In the other regions the second statement
// names this account itself, which grants nothing new.
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

	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logdelivery.elasticloadbalancing.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{logObjects},
	}))

	accounts := regioninfo.RegionInfo_RegionMap(regioninfo.FactName_ELBV2_ACCOUNT())
	regions := slices.Sorted(maps.Keys(*accounts))
	mapping := awscdk.NewCfnMapping(stack, jsii.String("ElbAccounts"), nil)
	var inRegion []awscdk.ICfnConditionExpression
	for _, r := range regions {
		mapping.SetValue(jsii.String(r), jsii.String("account"), (*accounts)[r])
		inRegion = append(inRegion, awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String(r)))
	}
	hasElbAccount := awscdk.NewCfnCondition(stack, jsii.String("RegionHasElbAccount"), &awscdk.CfnConditionProps{
		Expression: anyOf(inRegion),
	})
	elbAccount := awscdk.Token_AsString(awscdk.Fn_ConditionIf(hasElbAccount.LogicalId(),
		mapping.FindInMap(awscdk.Aws_REGION(), jsii.String("account"), nil),
		awscdk.Aws_ACCOUNT_ID()), nil)
	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(elbAccount)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{logObjects},
	}))

	alb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	alb.SetAttribute(jsii.String("access_logs.s3.bucket"), bucket.BucketName())
	alb.SetAttribute(jsii.String("access_logs.s3.prefix"), jsii.String(accessLogPrefix))
	// The ALB checks that it may write to the bucket when the attribute is set.
	alb.Node().AddDependency(bucket.Policy())
}

// anyOf joins conditions with Fn::Or, which takes at most ten at a time.
func anyOf(conds []awscdk.ICfnConditionExpression) awscdk.ICfnConditionExpression {
	if len(conds) == 1 {
		return conds[0]
	}
	const max = 10
	if len(conds) <= max {
		return awscdk.Fn_ConditionOr(conds...)
	}
	var groups []awscdk.ICfnConditionExpression
	for chunk := range slices.Chunk(conds, max) {
		groups = append(groups, anyOf(chunk))
	}
	return anyOf(groups)
}
