package stacks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

// repoRoot is where cdk.json and the Dockerfile live.
const repoRoot = ".."

// stackNames are the construct ids of the four stacks, in deploy order.
var stackNames = []string{"Network", "LoadBalancer", "Cluster", "Service"}

// account is the account the account-bound apps use; their Availability
// Zones and the existing VPC come from testdata/cdk.context.json, as the
// CLI would read them from cdk.context.json, so no AWS call is made.
const account = "123456789012"

// bound returns the environment the CLI passes with credentials for
// account in region: a real `cdk deploy` always has them.
func bound(region string) map[string]string {
	return map[string]string{"CDK_DEFAULT_ACCOUNT": account, "CDK_DEFAULT_REGION": region}
}

// appVariant is an app that several tests read: context overrides (as -c
// passes them) and the environment variables the CLI would pass.
type appVariant struct {
	context map[string]any
	env     map[string]string
}

// variants are the apps that several tests read, by name: the Defaults
// environment-agnostic (what `make synth` writes without
// credentials) and account-bound (what `make deploy` deploys), and the
// configurations the README and docs/ show.
var variants = map[string]appVariant{
	"":        {},
	"Account": {env: bound("eu-west-1")},
	"Domain": {context: map[string]any{
		"domainName":     "app.example.com",
		"hostedZoneId":   "Z0123456789ABCDEFGHIJ",
		"hostedZoneName": "example.com",
	}},
	"AlarmEmail": {context: map[string]any{"alarmEmail": "ops@example.com"}},
	"Nat":        {context: map[string]any{"natGateways": "1"}},
	// An app of the user's own, in a region opened after August 2022, with
	// its certificate and secrets.
	"App": {env: bound("ap-south-2"), context: map[string]any{
		"containerPort":     "8080",
		"healthCheckPath":   "/health/ready",
		"environment":       `{"GREETING": "hello", "LOG_LEVEL": "debug"}`,
		"secrets":           `{"DB_PASSWORD": "arn:aws:secretsmanager:ap-south-2:123456789012:secret:prod/db-AbCdEf:password", "API_TOKEN": {"from": "/prod/api-token", "kmsKeyArn": "arn:aws:kms:ap-south-2:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}}`,
		"domainName":        "app.example.com",
		"certificateArn":    "arn:aws:acm:ap-south-2:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
		"requestsPerTarget": "500",
		// Request-count scaling follows one target group: rolling only.
		"deploymentStrategy": "rolling",
	}},
	"ExistingVpc": {env: bound("eu-west-1"), context: map[string]any{"vpcId": "vpc-0123456789abcdef0"}},
	// The other deployment strategies, account-bound so that cfn-lint
	// checks them as they deploy (App is rolling).
	"Linear":    {env: bound("eu-west-1"), context: map[string]any{"deploymentStrategy": "linear"}},
	"BlueGreen": {env: bound("eu-west-1"), context: map[string]any{"deploymentStrategy": "blueGreen"}},
}

// built holds each variant, synthesized once and shared by the tests that
// only read it (jsii is not thread-safe: no t.Parallel here).
var built = map[string]*synthesized{}

func TestMain(m *testing.M) {
	// go test ./stacks outside make: the Node make would use.
	if note := testhelp.JSIINode(); note != "" {
		fmt.Fprintln(os.Stderr, note)
	}
	leaks := guardStderr()
	code := m.Run()
	jsii.Close()
	for _, s := range built {
		os.RemoveAll(s.outdir)
	}
	if found := leaks(); len(found) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: CDK printed %d finding(s) on stderr during the stacks tests, first: %s\nA test that plants a finding must keep it in its app (quietProbe) and check it there; a finding about your cdk.json shows in make synth too.\n", len(found), found[0])
		code = 1
	}
	os.Exit(code)
}

// cdkFinding matches the first line of a finding as CDK prints it at
// synth: an annotation ("[Warning at /Service/...]") or an entry of the
// validation report ("WARNING ...", "ERROR ...").
var cdkFinding = regexp.MustCompile(`^(\[(Warning|Error) at |(WARNING|ERROR) )`)

// guardStderr passes what the test binary writes to os.Stderr through
// (jsii copies its Node process's stderr there) and keeps each line that
// looks like a CDK finding, labelled. The tests synthesize their own
// configurations, and some plant findings on purpose: printed, those would
// read, in a failing run's output, as if they were about the user's
// config, so TestMain fails the run on any. The returned function stops
// the copy and returns the findings seen.
func guardStderr() func() []string {
	r, w, err := os.Pipe()
	if err != nil {
		return func() []string { return nil }
	}
	real := os.Stderr
	os.Stderr = w
	var found []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if cdkFinding.MatchString(line) {
				found = append(found, line)
				line = "[printed by a stacks test's synth] " + line
			}
			fmt.Fprintln(real, line)
		}
		io.Copy(real, r)
	}()
	return func() []string {
		os.Stderr = real
		w.Close()
		<-done
		return found
	}
}

// synthesized is one app, built and synthesized like `cdk synth` does.
type synthesized struct {
	app    awscdk.App
	cfg    Config
	stacks *Stacks
	outdir string
	// templates are the stacks' templates by construct id.
	templates map[string]assertions.Template
}

// userContext returns the context section of cdk.json as the user set it:
// the CDK feature flags and the app keys the user changed. Only the
// deployment tests (deployment_test.go) read the app keys.
func userContext(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cdkJSON); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return cdkJSON.Context
}

// cdkContext returns cdk.json's context without the app keys: the CDK
// feature flags. The project's own tests start from it, the shipped
// Defaults and their own overrides, so that they pass whatever the user
// configured. A bare awscdk.NewApp does not read cdk.json, and without its
// feature flags the templates would differ from what `cdk synth` writes.
func cdkContext(t testing.TB) map[string]any {
	t.Helper()
	ctx := userContext(t)
	maps.DeleteFunc(ctx, func(key string, _ any) bool { return userKey.MatchString(key) })
	return ctx
}

// newApp returns an app with cdk.json's feature flags plus overrides, the
// way `cdk synth -c key=value` would see them over the Defaults, writing
// to a directory that lives as long as the test.
func newApp(t testing.TB, overrides map[string]any) awscdk.App {
	t.Helper()
	return newAppIn(t, t.TempDir(), overrides)
}

func newAppIn(t testing.TB, outdir string, overrides map[string]any) awscdk.App {
	t.Helper()
	return appWith(t, outdir, cdkContext(t), overrides)
}

// appWith returns an app with the context base, testdata/cdk.context.json's
// lookups and overrides.
func appWith(t testing.TB, outdir string, base, overrides map[string]any) awscdk.App {
	t.Helper()
	ctx := maps.Clone(base)
	maps.Copy(ctx, testContext(t))
	maps.Copy(ctx, overrides)
	// Tests check the image's build context, not a copy of it.
	ctx["aws:cdk:disable-asset-staging"] = true
	var app awscdk.App
	mustNotPanic(t, func() {
		app = awscdk.NewApp(&awscdk.AppProps{
			Context: &ctx,
			Outdir:  jsii.String(outdir),
		})
	})
	return app
}

// testContext is testdata/cdk.context.json: the lookups the CLI would have
// cached for the test account.
func testContext(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "cdk.context.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ctx map[string]any
	if err := json.Unmarshal(data, &ctx); err != nil {
		t.Fatalf("testdata/cdk.context.json: %v", err)
	}
	return ctx
}

// synth builds and synthesizes the whole app for the given context
// overrides and environment variables (instead of the process's own, so
// that a developer's CDK_DEFAULT_ACCOUNT cannot change the result). Each
// edit runs on the stacks before synthesis, as an escape hatch would.
func synth(t testing.TB, overrides map[string]any, env map[string]string, edits ...func(*Stacks)) *synthesized {
	t.Helper()
	return synthIn(t, t.TempDir(), overrides, env, edits...)
}

func synthIn(t testing.TB, outdir string, overrides map[string]any, env map[string]string, edits ...func(*Stacks)) *synthesized {
	t.Helper()
	return synthApp(t, newAppIn(t, outdir, overrides), env, edits...)
}

// synthApp builds the stacks into app and synthesizes them.
func synthApp(t testing.TB, app awscdk.App, env map[string]string, edits ...func(*Stacks)) *synthesized {
	t.Helper()
	cfg, err := LoadConfig(app, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	s := &synthesized{app: app, cfg: cfg, outdir: *app.Outdir(), templates: map[string]assertions.Template{}}
	mustNotPanic(t, func() {
		s.stacks = New(app, cfg, mustImages(t, imageRoot(app), cfg))
		for _, edit := range edits {
			edit(s.stacks)
		}
		for _, st := range s.all() {
			s.templates[templateKey(s.stacks, st)] = assertions.Template_FromStack(st, nil)
		}
	})
	return s
}

// templateKey is the stack's construct id, after its environment's name
// and a slash when the app has environments (the adopted one's too).
func templateKey(all *Stacks, st awscdk.Stack) string {
	for env, e := range all.Environments {
		for _, s := range stacksOf(e) {
			if *s.Node().Path() == *st.Node().Path() {
				return env + "/" + *st.Node().Id()
			}
		}
	}
	return *st.Node().Id()
}

// all returns the stacks in deploy order: four, or three with vpcId; with
// environments, each environment's, by the environment's name.
func (s *synthesized) all() []awscdk.Stack {
	return stacksOf(s.stacks)
}

func stacksOf(st *Stacks) []awscdk.Stack {
	var all []awscdk.Stack
	if st.Environments != nil {
		for _, env := range slices.Sorted(maps.Keys(st.Environments)) {
			all = append(all, stacksOf(st.Environments[env])...)
		}
		return all
	}
	if st.Network != nil {
		all = append(all, st.Network.Stack)
	}
	all = append(all, st.LoadBalancer.Stack, st.Cluster.Stack, st.Service.Stack)
	for _, svc := range st.Services {
		all = append(all, svc.Stack)
	}
	return all
}

// environment returns environment env of s, an app with environments, as
// an app of its own: its Config and stacks, its templates by construct id.
func (s *synthesized) environment(t testing.TB, env string) *synthesized {
	t.Helper()
	e := &synthesized{app: s.app, outdir: s.outdir, stacks: s.stacks.Environments[env], templates: map[string]assertions.Template{}}
	for _, c := range s.cfg.Environments {
		if c.EnvName == env {
			e.cfg = c
		}
	}
	if e.stacks == nil || e.cfg.EnvName == "" {
		t.Fatalf("no environment %q", env)
	}
	for key, tpl := range s.templates {
		if id, ok := strings.CutPrefix(key, env+"/"); ok {
			e.templates[id] = tpl
		}
	}
	return e
}

// imageRootKey is a test-only context key: the repository whose images an
// app builds, when it is not this one (the services fixture's).
const imageRootKey = "fargo:test:imageRoot"

// imageRoot is where app's images are built from: this repository, or the
// directory imageRootKey names.
func imageRoot(app awscdk.App) string {
	if dir, ok := app.Node().TryGetContext(jsii.String(imageRootKey)).(string); ok {
		return dir
	}
	return repoRoot
}

// mustImages returns the images NewImages makes from root.
func mustImages(t testing.TB, root string, cfg Config) *Images {
	t.Helper()
	images, err := NewImages(root, cfg)
	if err != nil {
		t.Fatalf("NewImages: %v", err)
	}
	return images
}

// defaults returns the shared app built from the Defaults alone.
func defaults(t *testing.T) *synthesized { return variant(t, "") }

// variant returns the shared app of the named variant.
func variant(t *testing.T, name string) *synthesized {
	t.Helper()
	if built[name] == nil {
		dir, err := os.MkdirTemp("", "cdk.out-")
		if err != nil {
			t.Fatal(err)
		}
		v, ok := variants[name]
		if !ok {
			t.Fatalf("no variant %q", name)
		}
		built[name] = synthIn(t, dir, v.context, v.env)
	}
	return built[name]
}

// mustNotPanic turns a jsii panic (how CDK reports a failed assertion or a
// synth error) into a test failure, so that one failure does not abort the
// whole test binary.
func mustNotPanic(t testing.TB, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", r)
		}
	}()
	f()
}

// has asserts that tpl has a resource of type typ whose properties match
// props (assertions.Match_ObjectLike semantics).
func has(t *testing.T, tpl assertions.Template, typ string, props map[string]any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	tpl.HasResourceProperties(jsii.String(typ), props)
}

// count asserts how many resources of type typ tpl has.
func count(t *testing.T, tpl assertions.Template, typ string, n int) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	tpl.ResourceCountIs(jsii.String(typ), jsii.Number(n))
}

// resources returns the resources of type typ in tpl, by logical id.
func resources(t *testing.T, tpl assertions.Template, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	mustNotPanic(t, func() {
		for id, r := range *tpl.FindResources(jsii.String(typ), nil) {
			out[id] = *r
		}
	})
	return out
}

// only returns the single resource of type typ in tpl.
func only(t *testing.T, tpl assertions.Template, typ string) map[string]any {
	t.Helper()
	rs := resources(t, tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s, found %d", typ, len(rs))
	}
	for _, r := range rs {
		return r
	}
	return nil
}

// toJSON returns the template as plain Go values.
func toJSON(t testing.TB, tpl assertions.Template) map[string]any {
	t.Helper()
	var out map[string]any
	mustNotPanic(t, func() { out = *tpl.ToJSON() })
	return out
}

// path walks a decoded JSON value along keys and indexes.
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		default:
			panic(fmt.Sprintf("path key %v", k))
		}
	}
	return v
}
