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

// noResponse is what the listener answers a request that no service's
// rule matches: 404, the plain HTTP answer for "nothing lives at this
// path", rather than 503, which says the service exists but is down, would
// page nobody's load balancer 5xx alarm for a mistyped URL or a scanner,
// and would tell retrying clients to come back.
const noResponse = 404

// LoadBalancerStackProps configures the load balancer stack.
type LoadBalancerStackProps struct {
	awscdk.StackProps
	Config Config
	// Vpc is the Network stack's VPC; nil with vpcId.
	Vpc awsec2.IVpc
}

// LoadBalancerStack is the shared ingress: the internet-facing Application
// Load Balancer, its security group, its access-log bucket and its
// listeners, and, with a custom domain, the certificate and the DNS record.
// It holds no target group: each Service stack brings its own, with the
// listener rules that send it traffic, so more than one service can sit
// behind the one load balancer.
//
// Whatever the configuration, a Service stack reads the same values from
// it (the serving listener, with the security group it brings, and the
// load balancer's metrics name), so toggling the custom domain changes
// this stack only.
type LoadBalancerStack struct {
	awscdk.Stack
	// Listener is the serving listener, where services add their rules:
	// HTTP on 80, or HTTPS on 443 with a custom domain. It is one listener
	// whose port and protocol the domain changes in place, so that its ARN,
	// and every rule on it, outlives the toggle.
	Listener awselasticloadbalancingv2.IApplicationListener
	// LoadBalancerFullName is the dimension of the ALB's CloudWatch
	// metrics and of request-count scaling, published ready-made so that no
	// consumer derives it from an ARN.
	LoadBalancerFullName *string
}

// NewLoadBalancerStack creates the ALB over the public subnets.
func NewLoadBalancerStack(scope constructs.Construct, id string, props *LoadBalancerStackProps) *LoadBalancerStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config
	vpc := vpcIn(stack, props.Vpc, cfg)

	sg := awsec2.NewSecurityGroup(stack, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         vpc,
		Description: jsii.String("Internet-facing load balancer"),
		// Egress goes only to the tasks: each Service stack opens it to its
		// own tasks' security group on its container port.
		AllowAllOutbound: jsii.Bool(false),
	})
	// Those rules are resources of the Service stacks, and CDK drops its
	// placeholder rule from this group as soon as one is added anywhere:
	// without an inline rule EC2 would keep its default allow-all egress.
	// The placeholder (ICMP type 252 code 86 to 255.255.255.255/32, which
	// matches no packet) keeps the group closed to everything else, and it
	// never changes, so CloudFormation never rewrites this group's egress
	// and never removes the Service stacks' rules.
	sg.Node().DefaultChild().(awsec2.CfnSecurityGroup).AddPropertyOverride(jsii.String("SecurityGroupEgress"), []any{map[string]any{
		"CidrIp":      "255.255.255.255/32",
		"Description": "Disallow all traffic",
		"FromPort":    252,
		"IpProtocol":  "icmp",
		"ToPort":      86,
	}})
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

	// The serving listener keeps the construct id it had when it was the
	// HTTP listener, so that deployments without a domain keep their
	// listener through the upgrade.
	listenerProps := &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:     jsii.Number(80),
		Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		Open:     jsii.Bool(false),
		DefaultAction: awselasticloadbalancingv2.ListenerAction_FixedResponse(jsii.Number(noResponse), &awselasticloadbalancingv2.FixedResponseOptions{
			ContentType: jsii.String("text/plain"),
			MessageBody: jsii.String("Not Found"),
		}),
	}
	url := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("http://"), alb.LoadBalancerDnsName()})
	var listener awselasticloadbalancingv2.ApplicationListener
	if cfg.HasDomain() {
		listener = addHTTPS(stack, alb, sg, listenerProps, cfg)
		url = jsii.String("https://" + cfg.DomainName)
	} else {
		listener = alb.AddListener(jsii.String("HttpListener"), listenerProps)
	}

	awscdk.NewCfnOutput(stack, jsii.String("ServiceUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Public URL of the service"),
		Value:       url,
	})
	awscdk.NewCfnOutput(stack, jsii.String("HealthCheckUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("The health path, as the target groups check it (make smoke)"),
		Value:       awscdk.Fn_Join(jsii.String(""), &[]*string{url, jsii.String(cfg.HealthCheckPath)}),
	})
	return &LoadBalancerStack{
		Stack:                stack,
		Listener:             listener,
		LoadBalancerFullName: alb.LoadBalancerFullName(),
	}
}

// hsts is the Strict-Transport-Security header the HTTPS listener adds to
// every response: browsers then use HTTPS only for a year (the shortest
// max-age that HSTS preload lists accept), without the port-80 redirect's
// first plain request. It is set on the listener, not in the service,
// because the listener is where TLS ends and it covers the load balancer's
// own answers (the 404 and 503s) too; includeSubDomains and preload are
// left out, as they bind names this app does not own.
const hsts = "max-age=31536000"

// addHTTPS serves cfg.DomainName over HTTPS on the serving listener, and
// adds a port-80 listener that only redirects to it. The certificate is
// certificateArn's, or a new one that ACM validates through DNS records in
// the hosted zone, which is imported by id and name so that synth needs no
// AWS lookup and which then also gets the alias record. Without a zone, an
// output says which DNS record to create.
//
// Turning the domain on changes the serving listener from HTTP:80 to
// HTTPS:443 in place, once the certificate is valid, so port 80 keeps
// serving until HTTPS does; the redirect listener comes after it, on the
// port it has just left.
func addHTTPS(stack awscdk.Stack, alb awselasticloadbalancingv2.ApplicationLoadBalancer, sg awsec2.SecurityGroup, props *awselasticloadbalancingv2.BaseApplicationListenerProps, cfg Config) awselasticloadbalancingv2.ApplicationListener {
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
	props.Port = jsii.Number(443)
	props.Protocol = awselasticloadbalancingv2.ApplicationProtocol_HTTPS
	props.Certificates = &[]awselasticloadbalancingv2.IListenerCertificate{cert}
	props.SslPolicy = awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS
	listener := alb.AddListener(jsii.String("HttpListener"), props)
	listener.SetAttribute(jsii.String("routing.http.response.strict_transport_security.header_value"), jsii.String(hsts))
	redirect := alb.AddListener(jsii.String("RedirectListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:     jsii.Number(80),
		Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		Open:     jsii.Bool(false),
		DefaultAction: awselasticloadbalancingv2.ListenerAction_Redirect(&awselasticloadbalancingv2.RedirectOptions{
			Protocol:  jsii.String("HTTPS"),
			Port:      jsii.String("443"),
			Permanent: jsii.Bool(true),
		}),
	})
	// Port 80 is free only once the serving listener has moved to 443.
	redirect.Node().AddDependency(listener)
	if zone == nil {
		awscdk.NewCfnOutput(stack, jsii.String("DnsRecord"), &awscdk.CfnOutputProps{
			Description: jsii.String("Create this record in your DNS: the stacks do not manage the domain's zone"),
			Value: awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String(cfg.DomainName + ". CNAME "), alb.LoadBalancerDnsName(),
			}),
		})
		return listener
	}
	awsroute53.NewARecord(stack, jsii.String("AliasRecord"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(cfg.DomainName + "."),
		Target:     awsroute53.RecordTarget_FromAlias(awsroute53targets.NewLoadBalancerTarget(alb, nil)),
	})
	return listener
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
