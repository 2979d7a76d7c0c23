package stacks

import (
	"regexp"
	"strings"

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
	// deployEnvironment is the GitHub environment of the deploy job in
	// .github/workflows/deploy.yml, and the default of the one whose jobs
	// may assume the role (githubEnvironment, make deploy-role ENV=...). A job that names an environment gets a token whose subject
	// is the environment, not the branch: so a scheduled, workflow_run or
	// pull_request_target workflow on main that names none cannot assume
	// the role. Which branches may use the environment is the
	// environment's deployment branch policy, set once on GitHub (main
	// only, docs/ci.md).
	deployEnvironment = "production"
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
	// Repo is the GitHub repository, owner/name, whose deploy job may
	// assume the role; OwnerID and RepoID are GitHub's numeric ids of its
	// owner and of the repository, which never change and are never
	// reused.
	Repo, OwnerID, RepoID string
	// OidcProviderArn reuses the account's GitHub OIDC provider (an account
	// has at most one per issuer); empty creates it.
	OidcProviderArn string
	// Qualifier names the CDK bootstrap roles: cdk-<Qualifier>-deploy-role-….
	Qualifier string
	// Environment is the GitHub environment whose jobs may assume the
	// role: production, or another environment of the promotion workflow
	// (staging), each with a role of its own.
	Environment string
}

var (
	// repoPattern is the repository with its ids, as GitHub's immutable
	// subject claim names it: owner@owner-id/name@repo-id.
	repoPattern      = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9-]{0,38})@([1-9][0-9]{0,19})/([A-Za-z0-9._-]{0,99}[A-Za-z0-9_-])@([1-9][0-9]{0,19})$`)
	oidcProviderARN  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/` + regexp.QuoteMeta(githubOIDCIssuer) + `$`)
	qualifierPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,10}$`)
	// environmentPattern fits both a GitHub environment's name and a part
	// of a stack name, <appName>-<env>-DeployRole.
	environmentPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	deployRoleDefaults = map[string]string{"githubRepo": "", "githubOidcProviderArn": "", "@aws-cdk/core:bootstrapQualifier": defaultQualifier, "githubEnvironment": deployEnvironment}
)

// LoadDeployRoleConfig reads and validates DeployRoleConfig from the app's
// context: githubRepo (required, owner@owner-id/name@repo-id),
// githubOidcProviderArn and CDK's own
// @aws-cdk/core:bootstrapQualifier (optional), githubEnvironment (optional,
// production when empty), and appName as the main app reads it.
func LoadDeployRoleConfig(app awscdk.App) (DeployRoleConfig, error) {
	return loadDeployRoleConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
}

func loadDeployRoleConfig(get func(key string) any) (DeployRoleConfig, error) {
	ctx := map[string]any{}
	for _, key := range []string{"appName", "githubRepo", "githubOidcProviderArn", "@aws-cdk/core:bootstrapQualifier", "githubEnvironment"} {
		ctx[key] = get(key)
		// make deploy-role passes ENV= as it is, empty when not given.
		if d, ok := deployRoleDefaults[key]; ok && (ctx[key] == nil || key == "githubEnvironment" && ctx[key] == "") {
			ctx[key] = d
		}
		if d, ok := Defaults[key]; ok && ctx[key] == nil {
			ctx[key] = d
		}
	}
	r := contextReader{ctx: ctx, read: map[string]bool{}}
	c := DeployRoleConfig{
		AppName:         r.str("appName"),
		OidcProviderArn: r.str("githubOidcProviderArn"),
		Qualifier:       r.str("@aws-cdk/core:bootstrapQualifier"),
		Environment:     r.str("githubEnvironment"),
	}
	repo := r.str("githubRepo")
	if m := repoPattern.FindStringSubmatch(repo); m != nil {
		c.Repo, c.OwnerID, c.RepoID = m[1]+"/"+m[3], m[2], m[4]
	}
	bad := func(key string, value any, allowed string) (DeployRoleConfig, error) {
		return DeployRoleConfig{}, &ConfigError{Key: key, Value: value, Allowed: allowed}
	}
	switch {
	case r.err != nil:
		return DeployRoleConfig{}, r.err
	case !appNamePattern.MatchString(c.AppName):
		return bad("appName", c.AppName, "want a letter followed by up to 29 letters, digits or hyphens")
	case c.Repo == "":
		return bad("githubRepo", repo, `want the GitHub repository with its owner's and its own ids, owner@owner-id/name@repo-id, as gh api repos/OWNER/NAME --jq '"\(.owner.login)@\(.owner.id)/\(.name)@\(.id)"' prints it, e.g. make deploy-role REPO=octo-org@1234567/fargo@890123456`)
	case c.OidcProviderArn != "" && !oidcProviderARN.MatchString(c.OidcProviderArn):
		return bad("githubOidcProviderArn", c.OidcProviderArn, "want empty (create the provider) or the ARN of the account's provider for "+githubOIDCIssuer+", arn:aws:iam::<account>:oidc-provider/"+githubOIDCIssuer)
	case !qualifierPattern.MatchString(c.Qualifier):
		return bad("@aws-cdk/core:bootstrapQualifier", c.Qualifier, "want the qualifier given to cdk bootstrap: up to 10 letters, digits, _ or -")
	case !environmentPattern.MatchString(c.Environment):
		return bad("githubEnvironment", c.Environment, "want empty (production) or the GitHub environment of the jobs that deploy with this role, e.g. staging: a lower-case letter followed by up to 19 lower-case letters, digits or hyphens")
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
// `cdk deploy` from the repository's deploy job, and the provider itself
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
		Description: jsii.String("GitHub Actions of " + cfg.Repo + ", environment " + cfg.Environment + " only: cdk deploy through the CDK bootstrap roles"),
		// Exactly one repository and environment, and tokens minted for
		// AWS (IAM reads only aud and sub of GitHub's tokens).
		AssumedBy: awsiam.NewWebIdentityPrincipal(providerArn, &map[string]any{
			"StringEquals": map[string]any{
				githubOIDCIssuer + ":aud": githubOIDCAudience,
				githubOIDCIssuer + ":sub": deploySubjects(cfg),
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

// deploySubjects are the subject claims of the deploy job's token that the
// role trusts, each exactly. GitHub sends one of two forms: the immutable
// one, repo:owner@owner-id/name@repo-id:…, for repositories created,
// renamed or transferred after 18 June 2026 and for those that opted in;
// the name-only one, repo:owner/name:…, for older repositories. Both are
// trusted: the name-only form cannot be minted for a recycled name, since
// a repository that takes the name is new, or renamed, and so gets the
// immutable form with other ids.
func deploySubjects(cfg DeployRoleConfig) []string {
	owner, name, _ := strings.Cut(cfg.Repo, "/")
	context := ":environment:" + cfg.Environment
	return []string{
		"repo:" + owner + "@" + cfg.OwnerID + "/" + name + "@" + cfg.RepoID + context,
		"repo:" + cfg.Repo + context,
	}
}

// NewDeployRole adds the deploy role stack to app, tags it and applies
// cdk-nag's AWS Solutions checks, as New does for the four stacks. It is
// a separate app (cmd/deployrole), never part of `make deploy`. The stack
// is <appName>-DeployRole for production, as before environments, so that
// an existing role keeps its name and template, and
// <appName>-<env>-DeployRole for another environment, which may share the
// account.
func NewDeployRole(app awscdk.App, cfg DeployRoleConfig) *DeployRoleStack {
	stackName, description := cfg.AppName+"-DeployRole", "Role that GitHub Actions of "+cfg.Repo+" assume to deploy "+cfg.AppName
	if cfg.Environment != deployEnvironment {
		stackName = cfg.AppName + "-" + cfg.Environment + "-DeployRole"
		description += " to " + cfg.Environment
	}
	s := NewDeployRoleStack(app, "DeployRole", &DeployRoleStackProps{
		StackProps: awscdk.StackProps{
			StackName:   jsii.String(stackName),
			Description: jsii.String(description),
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
