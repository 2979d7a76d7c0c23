package stacks

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// GitHub Actions' OpenID Connect issuer, and the audience its tokens carry
// for AWS (aws-actions/configure-aws-credentials asks for this one).
const (
	githubOIDCIssuer   = "token.actions.githubusercontent.com"
	githubOIDCAudience = "sts.amazonaws.com"
	// deployBranch is the only branch whose workflows may assume the role:
	// the one .github/workflows/deploy.yml deploys from.
	deployBranch = "main"
	// defaultQualifier is `cdk bootstrap`'s, in the bootstrap roles' names.
	defaultQualifier = "hnb659fds"
)

// bootstrapRoles are the roles `cdk bootstrap` creates that `cdk deploy`
// assumes: to deploy with CloudFormation, publish file and image assets,
// and look up context such as Availability Zones.
var bootstrapRoles = []string{"deploy", "file-publishing", "image-publishing", "lookup"}

// DeployRoleConfig is what the deploy-role app (cmd/deployrole, `make
// deploy-role`) reads from CDK context.
type DeployRoleConfig struct {
	AppName string
	// Repo is the GitHub repository, owner/name, whose main branch may
	// assume the role.
	Repo string
	// OidcProviderArn reuses the account's GitHub OIDC provider (an account
	// has at most one per issuer); empty creates it.
	OidcProviderArn string
	// Qualifier names the CDK bootstrap roles: cdk-<Qualifier>-deploy-role-….
	Qualifier string
}

var (
	repoPattern        = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	oidcProviderARN    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/` + regexp.QuoteMeta(githubOIDCIssuer) + `$`)
	qualifierPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,10}$`)
	deployRoleDefaults = map[string]string{"githubRepo": "", "githubOidcProviderArn": "", "@aws-cdk/core:bootstrapQualifier": defaultQualifier}
)

// LoadDeployRoleConfig reads and validates DeployRoleConfig from the app's
// context: githubRepo (required), githubOidcProviderArn and CDK's own
// @aws-cdk/core:bootstrapQualifier (optional), and appName as the main app
// reads it.
func LoadDeployRoleConfig(app awscdk.App) (DeployRoleConfig, error) {
	return loadDeployRoleConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
}

func loadDeployRoleConfig(get func(key string) any) (DeployRoleConfig, error) {
	ctx := map[string]any{}
	for _, key := range []string{"appName", "githubRepo", "githubOidcProviderArn", "@aws-cdk/core:bootstrapQualifier"} {
		ctx[key] = get(key)
		if d, ok := deployRoleDefaults[key]; ok && ctx[key] == nil {
			ctx[key] = d
		}
		if d, ok := Defaults[key]; ok && ctx[key] == nil {
			ctx[key] = d
		}
	}
	r := contextReader{ctx: ctx, read: map[string]bool{}}
	c := DeployRoleConfig{
		AppName:         r.str("appName"),
		Repo:            r.str("githubRepo"),
		OidcProviderArn: r.str("githubOidcProviderArn"),
		Qualifier:       r.str("@aws-cdk/core:bootstrapQualifier"),
	}
	bad := func(key string, value any, allowed string) (DeployRoleConfig, error) {
		return DeployRoleConfig{}, &ConfigError{Key: key, Value: value, Allowed: allowed}
	}
	switch {
	case r.err != nil:
		return DeployRoleConfig{}, r.err
	case !appNamePattern.MatchString(c.AppName):
		return bad("appName", c.AppName, "want a letter followed by up to 29 letters, digits or hyphens")
	case !repoPattern.MatchString(c.Repo) || c.Repo[len(c.Repo)-1] == '.':
		return bad("githubRepo", c.Repo, "want the GitHub repository as owner/name, e.g. make deploy-role REPO=octo-org/fargo")
	case c.OidcProviderArn != "" && !oidcProviderARN.MatchString(c.OidcProviderArn):
		return bad("githubOidcProviderArn", c.OidcProviderArn, "want empty (create the provider) or the ARN of the account's provider for "+githubOIDCIssuer+", arn:aws:iam::<account>:oidc-provider/"+githubOIDCIssuer)
	case !qualifierPattern.MatchString(c.Qualifier):
		return bad("@aws-cdk/core:bootstrapQualifier", c.Qualifier, "want the qualifier given to cdk bootstrap: up to 10 letters, digits, _ or -")
	}
	return c, nil
}

// DeployRoleStackProps configures the deploy role stack.
type DeployRoleStackProps struct {
	awscdk.StackProps
	Config DeployRoleConfig
}

// DeployRoleStack owns the IAM role that GitHub Actions assumes, through
// GitHub's OpenID Connect provider and without long-lived keys, to run
// `cdk deploy` from the repository's main branch, and the provider itself
// unless the account has one already. The role may do one thing: assume
// the CDK bootstrap roles of its own account and region, which hold the
// permissions to publish assets and deploy through CloudFormation.
type DeployRoleStack struct {
	awscdk.Stack
	// Role is what the deploy workflow assumes (AWS_ROLE_ARN).
	Role awsiam.IRole
}

// NewDeployRoleStack creates the role and, if needed, the OIDC provider.
func NewDeployRoleStack(scope constructs.Construct, id string, props *DeployRoleStackProps) *DeployRoleStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.Config

	providerArn := jsii.String(cfg.OidcProviderArn)
	if cfg.OidcProviderArn == "" {
		provider := awsiam.NewOidcProviderNative(stack, jsii.String("GitHubOidcProvider"), &awsiam.OidcProviderNativeProps{
			Url:       jsii.String("https://" + githubOIDCIssuer),
			ClientIds: jsii.Strings(githubOIDCAudience),
			// IAM trusts GitHub's certificate through its own root CAs;
			// thumbprints would only need updating when GitHub's change.
		})
		providerArn = provider.OidcProviderArn()
	}

	var roleArns []*string
	for _, r := range bootstrapRoles {
		roleArns = append(roleArns, awscdk.Fn_Sub(jsii.String(
			"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-"+cfg.Qualifier+"-"+r+"-role-${AWS::AccountId}-${AWS::Region}"), nil))
	}
	role := awsiam.NewRole(stack, jsii.String("DeployRole"), &awsiam.RoleProps{
		Description: jsii.String("GitHub Actions of " + cfg.Repo + ", branch " + deployBranch + " only: cdk deploy through the CDK bootstrap roles"),
		// Exactly one repository and branch, and tokens minted for AWS.
		AssumedBy: awsiam.NewWebIdentityPrincipal(providerArn, &map[string]any{
			"StringEquals": map[string]any{
				githubOIDCIssuer + ":aud": githubOIDCAudience,
				githubOIDCIssuer + ":sub": "repo:" + cfg.Repo + ":ref:refs/heads/" + deployBranch,
			},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"AssumeCdkBootstrapRoles": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("sts:AssumeRole"),
					Resources: &roleArns,
				})},
			}),
		},
	})

	awscdk.NewCfnOutput(stack, jsii.String("DeployRoleArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("Set as the repository variable AWS_ROLE_ARN"),
		Value:       role.RoleArn(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("OidcProviderArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("GitHub's OIDC provider in this account"),
		Value:       providerArn,
	})
	return &DeployRoleStack{Stack: stack, Role: role}
}

// NewDeployRole adds the deploy role stack, <appName>-DeployRole, to app,
// tags it and applies cdk-nag's AWS Solutions checks, as New does for the
// four stacks. It is a separate app (cmd/deployrole), never part of
// `make deploy`.
func NewDeployRole(app awscdk.App, cfg DeployRoleConfig) *DeployRoleStack {
	s := NewDeployRoleStack(app, "DeployRole", &DeployRoleStackProps{
		StackProps: awscdk.StackProps{
			StackName:   jsii.String(cfg.AppName + "-DeployRole"),
			Description: jsii.String("Role that GitHub Actions of " + cfg.Repo + " assume to deploy " + cfg.AppName),
		},
		Config: cfg,
	})
	awscdk.Tags_Of(app).Add(jsii.String("app"), jsii.String(cfg.AppName), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(false),
	}), nil)
	return s
}
