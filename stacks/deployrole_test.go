package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// deployRoleApps are the deploy-role apps the tests read: the provider
// created, and an existing one reused with a custom bootstrap qualifier.
var deployRoleApps = map[string]map[string]any{
	"create": {"githubRepo": "octo-org/fargo"},
	"reuse": {
		"githubRepo":                       "octo-org/fargo",
		"githubOidcProviderArn":            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		"@aws-cdk/core:bootstrapQualifier": "team1",
	},
}

// deployRoleBuilt holds each, synthesized once (jsii is not thread-safe:
// no t.Parallel).
var deployRoleBuilt = map[string]*synthesizedRole{}

type synthesizedRole struct {
	stack    *DeployRoleStack
	template assertions.Template
	// findings (the built-in validator's) and annotations (CDK's and
	// cdk-nag's) are read at synth: the output directory lives only as
	// long as the test that built the app.
	findings, annotations []string
}

func deployRole(t *testing.T, name string) *synthesizedRole {
	t.Helper()
	if s := deployRoleBuilt[name]; s != nil {
		return s
	}
	app := newApp(t, deployRoleApps[name])
	cfg, err := LoadDeployRoleConfig(app)
	if err != nil {
		t.Fatal(err)
	}
	s := &synthesizedRole{}
	mustNotPanic(t, func() {
		s.stack = NewDeployRole(app, cfg)
		s.template = assertions.Template_FromStack(s.stack.Stack, nil)
	})
	s.findings = validationFindings(t, *app.Outdir())
	s.annotations = annotations(t, s.stack.Stack)
	deployRoleBuilt[name] = s
	return s
}

// trust returns the role's trust policy statements.
func trust(t *testing.T, s *synthesizedRole) []any {
	t.Helper()
	role := only(t, s.template, "AWS::IAM::Role")
	statements, _ := path(role, "Properties", "AssumeRolePolicyDocument", "Statement").([]any)
	return statements
}

func TestDeployRoleTrustsOnlyThisRepositorysMainBranch(t *testing.T) {
	for name := range deployRoleApps {
		s := deployRole(t, name)
		statements := trust(t, s)
		if len(statements) != 1 {
			t.Fatalf("%s: %d trust statements, want 1", name, len(statements))
		}
		st := statements[0].(map[string]any)
		want := map[string]any{
			"Effect": "Allow",
			"Action": "sts:AssumeRoleWithWebIdentity",
			// Exactly equal: no StringLike, no wildcard, no other branch,
			// no pull request or environment subject.
			"Condition": map[string]any{"StringEquals": map[string]any{
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub": "repo:octo-org/fargo:ref:refs/heads/main",
			}},
		}
		for k, v := range want {
			if got, _ := json.Marshal(st[k]); string(got) != mustJSON(t, v) {
				t.Errorf("%s: trust %s = %s, want %s", name, k, got, mustJSON(t, v))
			}
		}
		if len(st) != 4 { // Effect, Action, Condition, Principal
			t.Errorf("%s: trust statement has %d keys: %v", name, len(st), st)
		}
	}
}

func TestDeployRoleCreatesTheProviderOrReusesIt(t *testing.T) {
	// GIVEN no provider ARN: one provider for GitHub's issuer and AWS's
	// audience, and the role trusts it
	s := deployRole(t, "create")
	provider := only(t, s.template, "AWS::IAM::OIDCProvider")
	if got := mustJSON(t, provider["Properties"].(map[string]any)["Url"]); got != `"https://token.actions.githubusercontent.com"` {
		t.Errorf("provider Url = %s", got)
	}
	if got := mustJSON(t, path(provider, "Properties", "ClientIdList")); got != `["sts.amazonaws.com"]` {
		t.Errorf("provider ClientIdList = %s", got)
	}
	var id string
	for logical := range resources(t, s.template, "AWS::IAM::OIDCProvider") {
		id = logical
	}
	if got := mustJSON(t, path(trust(t, s)[0], "Principal", "Federated")); got != mustJSON(t, map[string]any{"Ref": id}) {
		t.Errorf("trusted provider = %s, want the stack's own %s", got, id)
	}

	// GIVEN the account's provider: none is created, and the role trusts it
	s = deployRole(t, "reuse")
	count(t, s.template, "AWS::IAM::OIDCProvider", 0)
	if got := path(trust(t, s)[0], "Principal", "Federated"); got != deployRoleApps["reuse"]["githubOidcProviderArn"] {
		t.Errorf("trusted provider = %v, want the given ARN", got)
	}
}

func TestDeployRoleMayOnlyAssumeTheBootstrapRoles(t *testing.T) {
	for name, qualifier := range map[string]string{"create": "hnb659fds", "reuse": "team1"} {
		s := deployRole(t, name)
		// No managed policies, no policy resources: only the inline one.
		count(t, s.template, "AWS::IAM::Policy", 0)
		count(t, s.template, "AWS::IAM::ManagedPolicy", 0)
		role := only(t, s.template, "AWS::IAM::Role")
		if mp := path(role, "Properties", "ManagedPolicyArns"); mp != nil {
			t.Errorf("%s: managed policies %v", name, mp)
		}
		policies, _ := path(role, "Properties", "Policies").([]any)
		var statements []any
		for _, p := range policies {
			s, _ := path(p, "PolicyDocument", "Statement").([]any)
			statements = append(statements, s...)
		}
		var want []any
		for _, r := range []string{"deploy", "file-publishing", "image-publishing", "lookup"} {
			want = append(want, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-" + qualifier + "-" + r + "-role-${AWS::AccountId}-${AWS::Region}"})
		}
		wantStatement := map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": want}
		if len(statements) != 1 || mustJSON(t, statements[0]) != mustJSON(t, wantStatement) {
			t.Errorf("%s: permissions\n%s\nwant exactly\n%s", name, mustJSON(t, statements), mustJSON(t, wantStatement))
		}
		// The same, said as a rule: no wildcard in any action or resource.
		if j := mustJSON(t, policies); strings.Contains(j, "*") {
			t.Errorf("%s: a wildcard in the role's policies: %s", name, j)
		}
	}
}

func TestDeployRoleValidatorAndCdkNagFindNothing(t *testing.T) {
	for name := range deployRoleApps {
		s := deployRole(t, name)
		for _, f := range s.findings {
			t.Errorf("%s: %s", name, f)
		}
		for _, a := range s.annotations {
			t.Errorf("%s: %s", name, a)
		}
	}
}

func TestDeployRoleOutputsAndName(t *testing.T) {
	s := deployRole(t, "create")
	if got := *s.stack.StackName(); got != "fargo-DeployRole" {
		t.Errorf("stack name %s, want fargo-DeployRole", got)
	}
	outputs := toJSON(t, s.template)["Outputs"].(map[string]any)
	for _, o := range []string{"DeployRoleArn", "OidcProviderArn"} {
		if outputs[o] == nil {
			t.Errorf("no output %s", o)
		}
	}
}

// The role is never part of `make deploy`: the app of main.go has the four
// stacks and no IAM OIDC provider or role that GitHub could assume.
func TestDeployRoleIsNotInTheMainApp(t *testing.T) {
	s := defaults(t)
	var ids []string
	for _, c := range *s.app.Node().Children() {
		if *awscdk.Stack_IsStack(c) {
			ids = append(ids, *c.Node().Id())
		}
	}
	if !slices.Equal(ids, stackNames) {
		t.Errorf("main app stacks = %v, want %v", ids, stackNames)
	}
	for _, tpl := range s.templates {
		count(t, tpl, "AWS::IAM::OIDCProvider", 0)
		if j := mustJSON(t, toJSON(t, tpl)); strings.Contains(j, "sts:AssumeRoleWithWebIdentity") {
			t.Error("a role of the main app trusts a web identity")
		}
	}
}

func TestDeployRoleConfigErrors(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"appName": "fargo", "githubRepo": "octo-org/fargo"}
	}
	tests := []struct {
		key   string
		value any
		want  string
	}{
		{"githubRepo", nil, `invalid context value githubRepo="": want the GitHub repository as owner/name, e.g. make deploy-role REPO=octo-org/fargo`},
		{"githubRepo", "fargo", `invalid context value githubRepo="fargo": want the GitHub repository as owner/name`},
		{"githubRepo", "octo-org/*", `invalid context value githubRepo="octo-org/*"`},
		{"githubRepo", "octo-org/fargo:ref:refs/heads/*", `invalid context value githubRepo="octo-org/fargo:ref:refs/heads/*"`},
		{"githubRepo", "-octo/fargo", `invalid context value githubRepo="-octo/fargo"`},
		{"githubRepo", "octo-org/fargo.", `invalid context value githubRepo="octo-org/fargo."`},
		{"githubOidcProviderArn", "arn:aws:iam::123456789012:oidc-provider/accounts.google.com", `invalid context value githubOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/accounts.google.com": want empty (create the provider) or the ARN of the account's provider for token.actions.githubusercontent.com`},
		{"@aws-cdk/core:bootstrapQualifier", "much-too-long", `invalid context value @aws-cdk/core:bootstrapQualifier="much-too-long": want the qualifier given to cdk bootstrap`},
		{"appName", "9lives", `invalid context value appName="9lives"`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%v", tt.key, tt.value), func(t *testing.T) {
			ctx := base()
			ctx[tt.key] = tt.value
			_, err := loadDeployRoleConfig(func(k string) any { return ctx[k] })
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error = %v\nwant one line starting %s", err, tt.want)
			}
		})
	}
	// And the good ones pass, including the GovCloud partition.
	ctx := base()
	ctx["githubRepo"] = "Octo-Org/my.repo_2"
	ctx["githubOidcProviderArn"] = "arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
	if _, err := loadDeployRoleConfig(func(k string) any { return ctx[k] }); err != nil {
		t.Error(err)
	}
}

// Every context key the deploy-role app reads is documented in
// docs/ci.md, the deploy-from-CI guide.
func TestDeployRoleKeysAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	var keys []string
	ctx := map[string]any{"appName": "fargo", "githubRepo": "octo-org/fargo"}
	if _, err := loadDeployRoleConfig(func(k string) any { keys = append(keys, k); return ctx[k] }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != "appName" && !strings.Contains(section, "`"+k+"`") {
			t.Errorf("context key %q is not in docs/ci.md", k)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
