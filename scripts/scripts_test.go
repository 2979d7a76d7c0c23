// Package scripts holds the shell scripts that the Makefile runs around the
// CDK CLI; its tests run them against fake aws, cdk and docker commands and
// a local HTTP server.
package scripts

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake writes an executable shell script named name into dir.
func fake(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/usr/bin/env bash\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// run runs a script with the fakes in bin first on PATH and the given
// environment, from dir, and returns its exit code, stdout and stderr.
func run(t *testing.T, dir, bin string, env []string, script string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, abs, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(env, "PATH="+bin+":"+os.Getenv("PATH"))...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in 20s", script)
	}
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// writeOutputs writes a cdk-outputs.json as `cdk deploy --outputs-file`
// does.
func writeOutputs(t *testing.T, dir, url string) {
	t.Helper()
	data := fmt.Sprintf(`{"fargo-LoadBalancer": {"ServiceUrl": %q, "HealthCheckUrl": %q}, "fargo-Service": {"LogGroupName": "fargo-Service-LogGroup"}}`, url, url+"/healthcheck")
	if err := os.WriteFile(filepath.Join(dir, "cdk-outputs.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOutput(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t, dir, dir, nil, "output.sh", "ServiceUrl")
	if code != 1 || stderr != "no cdk-outputs.json: run make deploy first (it writes the stacks' outputs there)\n" {
		t.Errorf("without the file: exit %d, stderr %q", code, stderr)
	}
	writeOutputs(t, dir, "http://lb.example")
	if code, stdout, _ := run(t, dir, dir, nil, "output.sh", "LogGroupName"); code != 0 || stdout != "fargo-Service-LogGroup\n" {
		t.Errorf("LogGroupName: exit %d, %q", code, stdout)
	}
	code, _, stderr = run(t, dir, dir, nil, "output.sh", "ClusterName")
	if code != 1 || stderr != "no output ClusterName in cdk-outputs.json: deploy all stacks with make deploy, which rewrites it\n" {
		t.Errorf("missing output: exit %d, stderr %q", code, stderr)
	}
}

// TestOutputPerService: SERVICE picks a service's own stack, and without
// it no other service's output is taken for the app's own, whichever
// stack comes first in the file.
func TestOutputPerService(t *testing.T) {
	dir := t.TempDir()
	data := `{"fargo-Service-api": {"LogGroupName": "api-logs"}, "fargo-LoadBalancer": {"ServiceUrl": "http://lb"}, "fargo-Service": {"LogGroupName": "own-logs"}}`
	if err := os.WriteFile(filepath.Join(dir, "cdk-outputs.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ env, name, want string }{
		{"", "LogGroupName", "own-logs\n"},
		{"SERVICE=api", "LogGroupName", "api-logs\n"},
		{"SERVICE=api", "ServiceUrl", "http://lb\n"},
	} {
		var env []string
		if tt.env != "" {
			env = []string{tt.env}
		}
		if code, stdout, stderr := run(t, dir, dir, env, "output.sh", tt.name); code != 0 || stdout != tt.want {
			t.Errorf("%s %s: exit %d, %q %q, want %q", tt.env, tt.name, code, stdout, stderr, tt.want)
		}
	}
	if code, _, stderr := run(t, dir, dir, []string{"SERVICE=web"}, "output.sh", "LogGroupName"); code == 0 || !strings.Contains(stderr, "no stack of service web") {
		t.Errorf("SERVICE=web: exit %d, %q", code, stderr)
	}
}

func TestSmoke(t *testing.T) {
	// The health check fails until it has been asked sickFor times.
	var sickFor, healthChecks atomic.Int32
	page := "<h1>HELLO WORLD</h1>"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthcheck":
			if healthChecks.Add(1) <= sickFor.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `"Healthy"`)
		case "/":
			fmt.Fprint(w, page)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeOutputs(t, dir, srv.URL)
	// The probe of hello world, whatever the user's contract.json says.
	hello := filepath.Join(t.TempDir(), "contract.json")
	if err := os.WriteFile(hello, []byte(`{"probePath": "/", "probeStatus": 200, "probeBody": "HELLO WORLD"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	fast := []string{"SMOKE_WAIT=2", "SMOKE_INTERVAL=0.2", "CONTRACT=" + hello}

	t.Run("healthy", func(t *testing.T) {
		code, stdout, stderr := run(t, dir, dir, fast, "smoke.sh")
		if code != 0 || !strings.Contains(stdout, "GET "+srv.URL+"/: ok") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
	})
	t.Run("warming up", func(t *testing.T) {
		healthChecks.Store(0)
		sickFor.Store(2)
		defer sickFor.Store(0)
		code, stdout, stderr := run(t, dir, dir, fast, "smoke.sh")
		if code != 0 || healthChecks.Load() != 3 {
			t.Errorf("exit %d after %d health checks, want 0 after 3\n%s%s", code, healthChecks.Load(), stdout, stderr)
		}
	})
	t.Run("never healthy", func(t *testing.T) {
		healthChecks.Store(0)
		sickFor.Store(1 << 30)
		defer sickFor.Store(0)
		code, _, stderr := run(t, dir, dir, fast, "smoke.sh")
		if want := "GET " + srv.URL + "/healthcheck: 503 after 2s, want 200 (make logs shows the service's side)\n"; code != 1 || stderr != want {
			t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
		}
	})
	t.Run("another app's page", func(t *testing.T) {
		code, _, stderr := run(t, dir, dir, fast, "smoke.sh")
		if code != 0 {
			t.Fatalf("default body: exit %d: %s", code, stderr)
		}
		code, stdout, stderr := run(t, dir, dir, append(fast, "SMOKE_BODY=Welcome"), "smoke.sh")
		if want := `GET ` + srv.URL + `/: status 200, body "<h1>HELLO WORLD</h1>"; want 200 with "Welcome" in the body (probePath, probeStatus and probeBody in cdk.json, or SMOKE_PATH, SMOKE_STATUS and SMOKE_BODY)` + "\n"; code != 1 || stderr != want {
			t.Errorf("exit %d, stderr %q, want %q\n%s", code, stderr, want, stdout)
		}
		if code, _, stderr := run(t, dir, dir, append(fast, "SMOKE_PATH=/nope"), "smoke.sh"); code != 1 || !strings.Contains(stderr, `/nope: status 404, body "404 page not found"`) {
			t.Errorf("SMOKE_PATH=/nope: exit %d, stderr %q", code, stderr)
		}
		if code, _, stderr := run(t, dir, dir, append(fast, "SMOKE_PATH=/nope", "SMOKE_STATUS=404", "SMOKE_BODY="), "smoke.sh"); code != 0 {
			t.Errorf("SMOKE_STATUS=404 on /nope: exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("the app's probe from contract.json", func(t *testing.T) {
		contract := filepath.Join(t.TempDir(), "contract.json")
		os.WriteFile(contract, []byte(`{"probePath": "/nope", "probeStatus": 404, "probeBody": "not found"}`), 0o644)
		if code, stdout, stderr := run(t, dir, dir, append(fast, "CONTRACT="+contract), "smoke.sh"); code != 0 || !strings.Contains(stdout, "/nope: ok") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		code, _, stderr := run(t, dir, dir, append(fast, "CONTRACT="+filepath.Join(dir, "none.json")), "smoke.sh")
		if code != 1 || !strings.Contains(stderr, "none.json: run make snapshots") {
			t.Errorf("without contract.json: exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("not deployed", func(t *testing.T) {
		code, _, stderr := run(t, t.TempDir(), dir, fast, "smoke.sh")
		if code != 1 || !strings.HasPrefix(stderr, "no cdk-outputs.json: run make deploy first") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestLogs(t *testing.T) {
	bin, dir := t.TempDir(), t.TempDir()
	fake(t, bin, "aws", `if [[ $1 == --version ]]; then echo "$VERSION" >&2; exit 0; fi
echo "aws $*"`)
	v2 := []string{"VERSION=aws-cli/2.17.0 Python/3.12.6 Linux/6.1 exe/x86_64"}
	code, _, stderr := run(t, dir, bin, v2, "logs.sh")
	if code != 1 || stderr != "no cdk-outputs.json: run make deploy first (it writes the stacks' outputs there)\n" {
		t.Errorf("without cdk-outputs.json: exit %d, stderr %q", code, stderr)
	}
	writeOutputs(t, dir, "http://lb.example")
	if code, stdout, stderr := run(t, dir, bin, v2, "logs.sh"); code != 0 || stdout != "aws logs tail fargo-Service-LogGroup --follow --since 10m\n" {
		t.Errorf("v2: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = run(t, dir, bin, []string{"VERSION=aws-cli/1.33.0 Python/3.11.2 Linux/6.1 botocore/1.35.0"}, "logs.sh")
	if want := "make logs: needs the AWS CLI version 2 for aws logs tail; found aws-cli/1.33.0: install version 2\n"; code != 1 || stderr != want {
		t.Errorf("v1: exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestPreflight(t *testing.T) {
	bin := t.TempDir()
	// The CLI's `cdk list --long --json`, for the environment in $ACCOUNT.
	fake(t, bin, "cdk", `[[ "$*" == "list --long --json -c maxAzs=2" ]] || { echo "cdk: unexpected arguments: $*" >&2; exit 2; }
for s in Network LoadBalancer; do echo "{\"id\":\"$s\",\"environment\":{\"account\":\"$ACCOUNT\",\"region\":\"$REGION\"}}"; done | paste -sd, | sed 's/^/[/; s/$/]/'`)
	// A docker whose BuildKit works unless $BUILDKIT is "missing", as with
	// a Docker 23+ client without the buildx plugin.
	fake(t, bin, "docker", `case $1 in
info) [[ $DAEMON == up ]] ;;
build) [[ $DOCKER_BUILDKIT == 1 && $BUILDKIT != missing && "$*" == "build --platform linux/amd64 --quiet -" ]] && grep -q 'FROM --platform=$BUILDPLATFORM' && echo sha256:probe ;;
image) echo "$*" >> "$LOG" ;;
esac`)
	log := filepath.Join(t.TempDir(), "docker.log")
	base := []string{"ACCOUNT=123456789012", "REGION=eu-west-1", "DAEMON=up", "LOG=" + log}
	tests := []struct {
		name   string
		env    []string
		code   int
		stdout string
		stderr string
	}{
		{"ready", nil, 0,
			"make deploy: AWS account 123456789012, region eu-west-1 (AWS_REGION, your profile's region or -c region=... choose it; see README, Deploy)\n", ""},
		{"no credentials", []string{"ACCOUNT=unknown-account", "REGION=unknown-region"}, 1, "",
			"make deploy: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run it again\n"},
		{"no docker daemon", []string{"DAEMON=down"}, 1, "make deploy: AWS account",
			"make deploy: Docker is not running (docker info failed): start it, or install Docker; cdk deploy builds the image with it\n"},
		{"no BuildKit", []string{"BUILDKIT=missing"}, 1, "make deploy: AWS account",
			"make deploy: Docker cannot build with BuildKit, which the Dockerfile needs: install Docker's buildx plugin (docker-buildx-plugin from Docker's packages, docker-buildx on Debian and Ubuntu) or use Docker Desktop\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(append([]string{}, base...), tt.env...)
			code, stdout, stderr := run(t, t.TempDir(), bin, env, "preflight.sh", "cdk", "-c", "maxAzs=2")
			if code != tt.code || !strings.HasPrefix(stdout, tt.stdout) || stderr != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q…, stderr %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
	// The probe image is removed again.
	if data, _ := os.ReadFile(log); string(data) != "image rm sha256:probe\n" {
		t.Errorf("docker image calls: %q, want the probe removed once", data)
	}
}

func TestEcsServiceLinkedRole(t *testing.T) {
	bin := t.TempDir()
	// Each service's role answers as MODE says; an unknown service fails.
	fake(t, bin, "aws", `case "$*" in
"iam create-service-linked-role --aws-service-name ecs.amazonaws.com") role=AWSServiceRoleForECS ;;
"iam create-service-linked-role --aws-service-name ecs.application-autoscaling.amazonaws.com") role=AWSServiceRoleForApplicationAutoScaling_ECSService ;;
*) exit 2 ;;
esac
case $MODE in
new) echo "{\"Role\": {\"RoleName\": \"$role\"}}" ;;
exists) echo "An error occurred (InvalidInput) when calling the CreateServiceLinkedRole operation: Service role name $role has been taken in this account, please try a different suffix." >&2; exit 254 ;;
ecs-exists) if [[ $role == AWSServiceRoleForECS ]]; then echo "An error occurred (InvalidInput) when calling the CreateServiceLinkedRole operation: Service role name $role has been taken in this account, please try a different suffix." >&2; exit 254; fi; echo "{}" ;;
*) echo "An error occurred (AccessDenied) when calling the CreateServiceLinkedRole operation: not authorized" >&2; exit 254 ;;
esac`)
	for mode, want := range map[string]struct {
		code           int
		stdout, stderr string
	}{
		"new":        {0, "ECS service-linked role: created\nApplication Auto Scaling (ECS) service-linked role: created\n", ""},
		"exists":     {0, "ECS service-linked role: already there\nApplication Auto Scaling (ECS) service-linked role: already there\n", ""},
		"ecs-exists": {0, "ECS service-linked role: already there\nApplication Auto Scaling (ECS) service-linked role: created\n", ""},
		"denied":     {1, "", "An error occurred (AccessDenied) when calling the CreateServiceLinkedRole operation: not authorized\n"},
	} {
		code, stdout, stderr := run(t, t.TempDir(), bin, []string{"MODE=" + mode}, "ecs-service-linked-role.sh")
		if code != want.code || stdout != want.stdout || stderr != want.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %+v", mode, code, stdout, stderr, want)
		}
	}
	// Without the AWS CLI: one line saying what to install or run.
	empty := t.TempDir()
	for _, tool := range []string{"bash", "env"} {
		p, _ := exec.LookPath(tool)
		os.Symlink(p, filepath.Join(empty, tool))
	}
	cmd := exec.Command("./ecs-service-linked-role.sh")
	cmd.Env = []string{"PATH=" + empty}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.HasPrefix(string(out), "make bootstrap: the AWS CLI (aws) is needed") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("without aws: %v, %q", err, out)
	}
}

func TestPlan(t *testing.T) {
	bin := t.TempDir()
	// The fake cdk writes an assembly where --output (or cdk.out) says; the
	// fake plan prints what it compares.
	fake(t, bin, "cdk", `out=cdk.out; args=()
while (($#)); do case $1 in --output) out=$2; shift ;; synth|--quiet) ;; *) args+=("$1") ;; esac; shift; done
mkdir -p "$out"; echo "{\"args\": \"${args[*]}\"}" > "$out/manifest.json"`)
	fake(t, bin, "fakeplan", `echo "before: $(cat "$1/manifest.json")"; echo "after: $(cat "$2/manifest.json")"`)
	env := []string{"PLAN=fakeplan"}
	cdk := filepath.Join(bin, "cdk")

	// Against a saved assembly: only the new side is synthesized, with the
	// change's arguments.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "saved"), 0o755)
	os.WriteFile(filepath.Join(dir, "saved", "manifest.json"), []byte(`{"saved": true}`), 0o644)
	code, stdout, stderr := run(t, dir, bin, env, "plan.sh", cdk, "saved", "-c", "natGateways=0")
	if want := "before: {\"saved\": true}\nafter: {\"args\": \"-c natGateways=0\"}\n"; code != 0 || stdout != want {
		t.Errorf("saved assembly: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, want)
	}

	// make plan ENV=...: the plan reads that environment of both sides.
	fake(t, bin, "envplan", `echo "$*"`)
	code, stdout, stderr = run(t, dir, bin, []string{"PLAN=envplan", "PLAN_ENV=production"}, "plan.sh", cdk, "saved")
	if want := "-env production saved cdk.out\n"; code != 0 || stdout != want {
		t.Errorf("PLAN_ENV: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, want)
	}

	// Against a git revision: synthesized in a temporary worktree, without
	// the change's arguments, and the worktree is gone afterwards.
	repo := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "base"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	code, stdout, stderr = run(t, repo, bin, env, "plan.sh", cdk, "main", "-c", "natGateways=0")
	if want := "before: {\"args\": \"\"}\nafter: {\"args\": \"-c natGateways=0\"}\n"; code != 0 || stdout != want {
		t.Errorf("git revision: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, want)
	}
	if out, _ := exec.Command("git", "-C", repo, "worktree", "list").Output(); strings.Count(string(out), "\n") != 1 {
		t.Errorf("worktrees left: %s", out)
	}

	// Neither, or nothing: one line saying what BASE may be.
	for base, want := range map[string]string{
		"":        "make plan: say what to compare with: BASE=cdk.out.deployed (saved by make deploy) or BASE=main (a git revision)\n",
		"nowhere": "make plan: BASE=nowhere is neither a synthesized cloud assembly (a directory with manifest.json) nor a git revision\n",
	} {
		code, stdout, stderr := run(t, repo, bin, env, "plan.sh", cdk, base)
		if code != 2 || stdout != "" || stderr != want {
			t.Errorf("BASE=%q: exit %d, stdout %q, stderr %q; want %q", base, code, stdout, stderr, want)
		}
	}
}

// TestLiveRule: make live-rule passes only a production rule that is the
// template's, writes the template's action back (FIX=1) only when all the
// weight is on the primary group, and never when it is on the other one.
func TestLiveRule(t *testing.T) {
	bin, dir := t.TempDir(), t.TempDir()
	outputs := `{"fargo-LoadBalancer": {"ServiceUrl": "http://lb.example"}, "fargo-Service": {"ServiceName": "fargo", "LogGroupName": "fargo-Service-LogGroup"}}`
	if err := os.WriteFile(filepath.Join(dir, "cdk-outputs.json"), []byte(outputs), 0o644); err != nil {
		t.Fatal(err)
	}
	modified := filepath.Join(dir, "modified")
	fake(t, bin, "aws", `case "$1 $2" in
"cloudformation describe-stack-resources")
  [[ $4 == fargo-Service ]] || exit 254
  echo '{"StackResources": [{"LogicalResourceId": "ProductionRuleD96592E2", "PhysicalResourceId": "arn:rule"},
    {"LogicalResourceId": "TargetGroup3D7CD9B8", "PhysicalResourceId": "arn:blue"},
    {"LogicalResourceId": "AlternateTargetGroup66004475", "PhysicalResourceId": "arn:green"}]}' ;;
"elbv2 describe-rules") echo "$RULE" ;;
"elbv2 modify-rule") echo "$*" >>"$MODIFIED" ;;
*) exit 254 ;;
esac`)
	weighted := func(blue, green int) string {
		return fmt.Sprintf(`{"Rules": [{"Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "arn:blue", "Weight": %d}, {"TargetGroupArn": "arn:green", "Weight": %d}]}}]}]}`, blue, green)
	}
	for _, c := range []struct {
		name, rule, fix string
		code            int
		modify          string // the modify-rule call, or ""
	}{
		{"the template's", `{"Rules": [{"Actions": [{"Type": "forward", "TargetGroupArn": "arn:blue"}]}]}`, "", 0, ""},
		{"weight on the primary", weighted(100, 0), "", 1, ""},
		{"weight on the primary, fixed", weighted(100, 0), "1", 0, "elbv2 modify-rule --rule-arn arn:rule --actions Type=forward,TargetGroupArn=arn:blue\n"},
		{"weight on the alternate", weighted(0, 100), "1", 1, ""},
		{"weight on both", weighted(95, 5), "1", 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(modified)
			code, stdout, stderr := run(t, dir, bin, []string{"RULE=" + c.rule, "FIX=" + c.fix, "MODIFIED=" + modified}, "live-rule.sh")
			got, _ := os.ReadFile(modified)
			if code != c.code || string(got) != c.modify {
				t.Errorf("exit %d (want %d), modify-rule %q (want %q)\nstdout %s\nstderr %s", code, c.code, got, c.modify, stdout, stderr)
			}
		})
	}
}

// envCdkJSON is a cdk.json with two environments, production adopting the
// existing deployment.
const envCdkJSON = `{"context": {"environments": {
  "staging": {"account": "111111111111", "region": "eu-west-1"},
  "production": {"account": "222222222222", "region": "us-east-1", "adopt": true}}}}`

// TestEnv: which environment a make target acts on, and the selector of
// its stacks.
func TestEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(envCdkJSON), 0o644)
	for _, c := range []struct {
		env, stdout, stderr string
		code                int
	}{
		{"staging", "staging staging/* 111111111111 eu-west-1\n", "", 0},
		{"production", "production --all 222222222222 us-east-1\n", "", 0},
		{"", "", "make deploy: say which environment: ENV=production or ENV=staging (cdk.json has 2: production, staging)\n", 2},
		{"prod", "", "make deploy: no environment prod in cdk.json; it has production, staging\n", 2},
	} {
		code, stdout, stderr := run(t, dir, t.TempDir(), nil, "env.sh", "deploy", c.env)
		if code != c.code || stdout != c.stdout || stderr != c.stderr {
			t.Errorf("ENV=%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.env, code, stdout, stderr, c.code, c.stdout, c.stderr)
		}
	}
	// One environment: ENV may be left out.
	os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(`{"context": {"environments": {"staging": {"account": "111111111111", "region": "eu-west-1"}}}}`), 0o644)
	if code, stdout, _ := run(t, dir, t.TempDir(), nil, "env.sh", "smoke", ""); code != 0 || stdout != "staging staging/* 111111111111 eu-west-1\n" {
		t.Errorf("the only environment: exit %d, stdout %q", code, stdout)
	}
	// No environments: nothing, and the targets act as before.
	os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(`{"context": {"appName": "fargo"}}`), 0o644)
	if code, stdout, _ := run(t, dir, t.TempDir(), nil, "env.sh", "deploy", ""); code != 0 || stdout != "" {
		t.Errorf("without environments: exit %d, stdout %q", code, stdout)
	}
	if code, _, stderr := run(t, dir, t.TempDir(), nil, "env.sh", "deploy", "staging"); code != 2 || !strings.Contains(stderr, "ENV=staging, but cdk.json has no environments key") {
		t.Errorf("ENV without environments: exit %d, stderr %q", code, stderr)
	}
}

// TestPreflightEnvironment: make deploy ENV=... checks that the
// credentials are the environment's account, naming the environment.
func TestPreflightEnvironment(t *testing.T) {
	bin := t.TempDir()
	fake(t, bin, "cdk", `[[ "$*" == "list -c maxAzs=2" ]] || { echo "cdk: unexpected arguments: $*" >&2; exit 2; }`)
	fake(t, bin, "aws", `[[ "$*" == "sts get-caller-identity --query Account --output text" ]] || exit 2
[[ -n $CALLER ]] || { echo "Unable to locate credentials. You can configure credentials by running \"aws configure\"." >&2; exit 255; }
echo "$CALLER"`)
	fake(t, bin, "docker", `case $1 in info) ;; build) echo sha256:probe ;; esac`)
	base := []string{"FARGO_ENV=production", "FARGO_ACCOUNT=222222222222", "FARGO_REGION=us-east-1"}
	for _, c := range []struct {
		caller, stdout, stderr string
		code                   int
	}{
		{"", "", "make deploy ENV=production: environment production deploys to account 222222222222, region us-east-1: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) to that account's, then run it again\n", 1},
		{"111111111111", "", "make deploy ENV=production: environment production deploys to account 222222222222, region us-east-1, but the credentials are account 111111111111's: set AWS_PROFILE to account 222222222222's, then run it again\n", 1},
		{"222222222222", "make deploy ENV=production: environment production deploys to account 222222222222, region us-east-1 (its entry in cdk.json's environments chooses them; see docs/environments.md)\n", "", 0},
	} {
		code, stdout, stderr := run(t, t.TempDir(), bin, append(base, "CALLER="+c.caller), "preflight.sh", "cdk", "-c", "maxAzs=2")
		if code != c.code || stdout != c.stdout || stderr != c.stderr {
			t.Errorf("credentials of %q: exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", c.caller, code, stdout, stderr, c.code, c.stdout, c.stderr)
		}
	}
}

// TestMakeDeployEnvironment runs make deploy ENV=production with a fake
// CDK CLI and no credentials: the preflight stops it, naming the
// environment, before the CLI deploys anything; and make deploy without
// ENV refuses with the list.
func TestMakeDeployEnvironment(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	dir, bin := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(envCdkJSON), 0o644)
	scripts, _ := filepath.Abs(".")
	os.Symlink(scripts, filepath.Join(dir, "scripts"))
	cli := filepath.Join(dir, ".cdk-cli")
	os.MkdirAll(filepath.Join(cli, "node_modules", ".bin"), 0o755)
	os.WriteFile(filepath.Join(cli, "package.json"), nil, 0o644)
	os.WriteFile(filepath.Join(cli, "package-lock.json"), nil, 0o644)
	log := filepath.Join(dir, "cdk.log")
	time.Sleep(10 * time.Millisecond)
	fake(t, filepath.Join(cli, "node_modules", ".bin"), "cdk", `echo "cdk $*" >> `+log+`; mkdir -p cdk.out`)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), nil, 0o644)
	fake(t, bin, "aws", `echo "Unable to locate credentials." >&2; exit 255`)
	makefile, _ := filepath.Abs("../Makefile")
	mk := func(args ...string) (int, string) {
		cmd := exec.Command("make", append([]string{"-s", "-f", makefile, "NODE="}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		code := 0
		if err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		return code, string(out)
	}
	code, out := mk("deploy", "ENV=production")
	if want := "make deploy ENV=production: environment production deploys to account 222222222222, region us-east-1: no AWS credentials"; code == 0 || !strings.Contains(out, want) {
		t.Errorf("make deploy ENV=production without credentials: exit %d, output %q; want %q", code, out, want)
	}
	if data, _ := os.ReadFile(log); strings.Contains(string(data), "deploy") {
		t.Errorf("the CLI deployed without credentials: %s", data)
	}
	code, out = mk("deploy")
	if want := "make deploy: say which environment: ENV=production or ENV=staging"; code == 0 || !strings.Contains(out, want) {
		t.Errorf("make deploy without ENV: exit %d, output %q; want %q", code, out, want)
	}
	// With credentials of the account, staging deploys its Stage's stacks
	// and writes its own outputs.
	fake(t, bin, "aws", `echo 111111111111`)
	fake(t, bin, "docker", `case $1 in info) ;; build) echo sha256:probe ;; esac`)
	os.Remove(log)
	if code, out := mk("deploy", "ENV=staging"); code != 0 {
		t.Fatalf("make deploy ENV=staging: exit %d: %s", code, out)
	}
	data, _ := os.ReadFile(log)
	if want := "cdk deploy staging/* --outputs-file cdk-outputs.staging.json\n"; !strings.HasSuffix(string(data), want) {
		t.Errorf("make deploy ENV=staging ran %q, want it to end with %q", data, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "cdk.out.deployed", "staging")); err != nil {
		t.Errorf("make deploy ENV=staging kept no assembly for make plan ENV=staging: %v", err)
	}
}
