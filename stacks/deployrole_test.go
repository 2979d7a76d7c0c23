package stacks

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/rhysd/actionlint"
)

// deployRoleApps are the deploy-role apps the tests read: the provider
// created, and an existing one reused with a custom bootstrap qualifier.
var deployRoleApps = map[string]map[string]any{
	"create": {"githubRepo": "octo-org@1234567/fargo@890123456"},
	"reuse": {
		"githubRepo":                       "octo-org@1234567/fargo@890123456",
		"githubOidcProviderArn":            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		"@aws-cdk/core:bootstrapQualifier": "team1",
	},
}

// envRoleApps are deploy-role apps for another environment than
// production, as make deploy-role ENV=... makes them.
var envRoleApps = map[string]map[string]any{
	"staging": {"githubRepo": "octo-org@1234567/fargo@890123456", "githubEnvironment": "staging"},
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
	ctx, ok := deployRoleApps[name]
	if !ok {
		ctx = envRoleApps[strings.TrimPrefix(name, "env:")]
	}
	app := newApp(t, ctx)
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

func TestDeployRoleTrustsOnlyThisRepositorysDeployEnvironment(t *testing.T) {
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
			// Exactly equal: no StringLike, no wildcard, no branch, no
			// pull request, no other environment; GitHub's two subject
			// formats for the one repository.
			"Condition": map[string]any{"StringEquals": map[string]any{
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub": []string{
					"repo:octo-org@1234567/fargo@890123456:environment:production",
					"repo:octo-org/fargo:environment:production",
				},
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

// allows reports whether the trust statement st lets a token with these
// claims assume the role, as IAM evaluates its StringEquals condition: every
// key matches, a list of values matching if any value is exactly equal.
func allows(st map[string]any, claims map[string]string) bool {
	cond, _ := path(st, "Condition").(map[string]any)
	if len(cond) != 1 || cond["StringEquals"] == nil {
		return false
	}
	for key, want := range cond["StringEquals"].(map[string]any) {
		claim, ok := claims[strings.TrimPrefix(key, "token.actions.githubusercontent.com:")]
		values, isList := want.([]any)
		if !isList {
			values = []any{want}
		}
		if !ok || !slices.Contains(values, any(claim)) {
			return false
		}
	}
	return true
}

// The tokens GitHub mints, in each subject format, and whether the role
// must accept them.
func TestDeployRoleTrustPolicyPerSubjectFormat(t *testing.T) {
	tests := []struct {
		format, sub string
		allowed     bool
	}{
		{"immutable, the deploy environment", "repo:octo-org@1234567/fargo@890123456:environment:production", true},
		{"name-only, the deploy environment", "repo:octo-org/fargo:environment:production", true},
		{"immutable, another environment", "repo:octo-org@1234567/fargo@890123456:environment:staging", false},
		{"name-only, another environment", "repo:octo-org/fargo:environment:staging", false},
		{"immutable, main without an environment (schedule, workflow_run)", "repo:octo-org@1234567/fargo@890123456:ref:refs/heads/main", false},
		{"name-only, main without an environment", "repo:octo-org/fargo:ref:refs/heads/main", false},
		{"immutable, a pull request", "repo:octo-org@1234567/fargo@890123456:pull_request", false},
		{"immutable, the name recycled: other ids", "repo:octo-org@7654321/fargo@111111111:environment:production", false},
		{"immutable, another repository of the owner", "repo:octo-org@1234567/other@890123457:environment:production", false},
		{"name-only, another repository", "repo:octo-org/other:environment:production", false},
		{"name-only with one id", "repo:octo-org@1234567/fargo:environment:production", false},
	}
	for name := range deployRoleApps {
		st := trust(t, deployRole(t, name))[0].(map[string]any)
		for _, tt := range tests {
			if got := allows(st, map[string]string{"aud": "sts.amazonaws.com", "sub": tt.sub}); got != tt.allowed {
				t.Errorf("%s: %s: the role accepts %s: %v, want %v", name, tt.format, tt.sub, got, tt.allowed)
			}
		}
		// A token minted for another audience is refused whatever its
		// subject.
		if allows(st, map[string]string{"aud": "https://github.com/octo-org", "sub": tests[0].sub}) {
			t.Errorf("%s: the role accepts a token for another audience", name)
		}
	}
}

// The production deploy jobs, with environments (production) and without
// (deploy), are the ones that name the environment the role trusts; the
// promotion's checks are scripts/workflow_test.go's.
func TestDeployWorkflowUsesTheTrustedEnvironment(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", "deploy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, errs := actionlint.Parse(src)
	if len(errs) > 0 {
		t.Fatalf("deploy.yml: %v", errs[0])
	}
	for _, id := range []string{"deploy", "production"} {
		job := wf.Jobs[id]
		if job == nil {
			t.Fatalf("deploy.yml has no %s job", id)
		}
		if job.Environment == nil || job.Environment.Name == nil || job.Environment.Name.Value != deployEnvironment {
			t.Errorf("deploy.yml: the %s job's environment is not %q, the one the role trusts", id, deployEnvironment)
		}
	}
	for id, other := range wf.Jobs {
		if id != "deploy" && id != "production" && other.Environment != nil && other.Environment.Name != nil && other.Environment.Name.Value == deployEnvironment {
			t.Errorf("deploy.yml: job %s names the %s environment too", id, deployEnvironment)
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
		return map[string]any{"appName": "fargo", "githubRepo": "octo-org@1234567/fargo@890123456"}
	}
	tests := []struct {
		key   string
		value any
		want  string
	}{
		{"githubRepo", nil, `invalid context value githubRepo="": want the GitHub repository with its owner's and its own ids, owner@owner-id/name@repo-id, as gh api repos/OWNER/NAME --jq`},
		// The ids are required: without them the role could not trust a
		// new repository's tokens.
		{"githubRepo", "octo-org/fargo", `invalid context value githubRepo="octo-org/fargo": want the GitHub repository with its owner's and its own ids`},
		{"githubRepo", "octo-org@1234567/fargo", `invalid context value githubRepo="octo-org@1234567/fargo"`},
		{"githubRepo", "fargo@890123456", `invalid context value githubRepo="fargo@890123456"`},
		// Never a wildcard, over names or ids.
		{"githubRepo", "octo-org@*/fargo@*", `invalid context value githubRepo="octo-org@*/fargo@*"`},
		{"githubRepo", "octo-org@1234567/*@890123456", `invalid context value githubRepo="octo-org@1234567/*@890123456"`},
		{"githubRepo", "octo-org@1234567/fargo@890123456:ref:refs/heads/*", `invalid context value githubRepo="octo-org@1234567/fargo@890123456:ref:refs/heads/*"`},
		{"githubRepo", "octo-org@01234567/fargo@890123456", `invalid context value githubRepo="octo-org@01234567/fargo@890123456"`},
		{"githubRepo", "-octo@1234567/fargo@890123456", `invalid context value githubRepo="-octo@1234567/fargo@890123456"`},
		{"githubRepo", "octo-org@1234567/fargo.@890123456", `invalid context value githubRepo="octo-org@1234567/fargo.@890123456"`},
		{"githubOidcProviderArn", "arn:aws:iam::123456789012:oidc-provider/accounts.google.com", `invalid context value githubOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/accounts.google.com": want empty (create the provider) or the ARN of the account's provider for token.actions.githubusercontent.com`},
		{"@aws-cdk/core:bootstrapQualifier", "much-too-long", `invalid context value @aws-cdk/core:bootstrapQualifier="much-too-long": want the qualifier given to cdk bootstrap`},
		{"appName", "9lives", `invalid context value appName="9lives"`},
		{"githubEnvironment", "Staging", `invalid context value githubEnvironment="Staging": want empty (production) or the GitHub environment`},
		{"githubEnvironment", "staging:*", `invalid context value githubEnvironment="staging:*"`},
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
	ctx["githubRepo"] = "Octo-Org@1/my.repo_2@99999999999"
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
	ctx := map[string]any{"appName": "fargo", "githubRepo": "octo-org@1234567/fargo@890123456"}
	if _, err := loadDeployRoleConfig(func(k string) any { keys = append(keys, k); return ctx[k] }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != "appName" && !strings.Contains(section, "`"+k+"`") {
			t.Errorf("context key %q is not in docs/ci.md", k)
		}
	}
}

// Without ENV, make deploy-role makes today's role: the same stack name
// and, byte for byte, the template that stacks/testdata/DeployRole.template.json
// holds (written by the version before environments). ENV empty, as make
// passes it when not given, and ENV=production are the configuration of
// no githubEnvironment at all.
func TestDeployRoleWithoutEnvironmentIsUnchanged(t *testing.T) {
	golden := filepath.Join("testdata", "DeployRole.template.json")
	for _, name := range []string{"create"} {
		s := deployRole(t, name)
		if got := *s.stack.StackName(); got != "fargo-DeployRole" {
			t.Errorf("%s: stack name %s, want fargo-DeployRole", name, got)
		}
		got, err := json.MarshalIndent(toJSON(t, s.template), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if flag.Lookup("update").Value.String() == "true" {
			if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != string(got)+"\n" {
			t.Errorf("%s: the deploy role's template differs from %s", name, golden)
		}
	}
	base := map[string]any{"appName": "fargo", "githubRepo": "octo-org@1234567/fargo@890123456"}
	implicit, err := loadDeployRoleConfig(func(k string) any { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"", "production"} {
		base["githubEnvironment"] = env
		explicit, err := loadDeployRoleConfig(func(k string) any { return base[k] })
		if err != nil || explicit != implicit {
			t.Errorf("ENV=%s gives %+v (%v), without ENV %+v", env, explicit, err, implicit)
		}
	}
}

// Another environment gets a role of its own, in a stack of its own name,
// that trusts its own environment's jobs and no other's.
func TestDeployRolePerEnvironment(t *testing.T) {
	s := deployRole(t, "env:staging")
	if got := *s.stack.StackName(); got != "fargo-staging-DeployRole" {
		t.Errorf("stack name %s, want fargo-staging-DeployRole", got)
	}
	st := trust(t, s)[0].(map[string]any)
	for sub, want := range map[string]bool{
		"repo:octo-org@1234567/fargo@890123456:environment:staging":    true,
		"repo:octo-org/fargo:environment:staging":                      true,
		"repo:octo-org@1234567/fargo@890123456:environment:production": false,
		"repo:octo-org/fargo:environment:production":                   false,
		"repo:octo-org/fargo:ref:refs/heads/main":                      false,
	} {
		if got := allows(st, map[string]string{"aud": "sts.amazonaws.com", "sub": sub}); got != want {
			t.Errorf("staging's role accepts %s: %v, want %v", sub, got, want)
		}
	}
	// And production's refuses staging's jobs.
	prod := trust(t, deployRole(t, "create"))[0].(map[string]any)
	if allows(prod, map[string]string{"aud": "sts.amazonaws.com", "sub": "repo:octo-org/fargo:environment:staging"}) {
		t.Error("production's role accepts the staging environment's jobs")
	}
	for _, f := range append(s.findings, s.annotations...) {
		t.Errorf("staging: %s", f)
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
