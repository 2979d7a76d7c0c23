package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// noEnv is a getenv without CDK_DEFAULT_ACCOUNT, as without credentials.
func noEnv(string) string { return "" }

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(cdkContext(t), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		AppName: "fargo", MaxAzs: 3, NatGateways: 0, ContainerPort: 5000, HealthCheckPath: "/healthcheck",
		Cpu: 256, MemoryMiB: 512, CpuArchitecture: ARM64, Environment: map[string]string{}, Secrets: map[string]Secret{},
		MinTasks: 2, MaxTasks: 3, OnDemandBaseTasks: 1, CpuTargetPercent: 70,
		ScaleInCooldown: 300e9, ScaleOutCooldown: 60e9, RequestsPerTarget: 0,
		DeploymentStrategy: "canary", CanaryPercent: 5, LinearStepPercent: 20, StepBakeMinutes: 6, BakeMinutes: 5,
		SpotFallback: true, SpotFallbackQuiet: 30 * time.Minute,
		LogRetentionDays: 30, CorsAllowedOrigins: "*", CorsAllowCredentials: false,
		AlarmErrorRatePercent: 5, AlarmLatencyP99: 1e9, AlarmCpuPercent: 90, AlarmMemoryPercent: 90,
		Probe: Probe{Path: "/healthcheck", Status: 200, Body: ""},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestProbeDefaultsToTheHealthCheck(t *testing.T) {
	// Without probe keys, the probe is the health check path answering
	// 200 with any body, which every app that keeps the contract passes,
	// wherever healthCheckPath puts it; probe keys make it stronger.
	for _, tt := range []struct {
		set  map[string]any
		want Probe
	}{
		{map[string]any{"healthCheckPath": "/livez"}, Probe{Path: "/livez", Status: 200}},
		{map[string]any{"healthCheckPath": "/livez", "probePath": "/notes", "probeBody": "[]"}, Probe{Path: "/notes", Status: 200, Body: "[]"}},
	} {
		ctx := cdkContext(t)
		maps.Copy(ctx, tt.set)
		cfg, err := loadConfig(ctx, noEnv)
		if err != nil || cfg.Probe != tt.want {
			t.Errorf("%v: probe %+v, %v; want %+v", tt.set, cfg.Probe, err, tt.want)
		}
	}
}

const (
	secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"
	keyArn    = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
)

func TestConfigErrors(t *testing.T) {
	// Each bad value stops synth with one line naming the key, the value
	// and what is allowed. Values come as strings, as `-c key=value` passes
	// them, or as JSON values, as cdk.json holds them.
	tests := []struct {
		key   string
		value any
		want  string
	}{
		{"appName", "9lives", `invalid context value appName="9lives": want a letter followed by up to 29 letters, digits or hyphens`},
		{"account", "12345", `invalid context value account="12345": want a 12-digit AWS account id, or empty`},
		{"vpcId", "vpc-xyz", `invalid context value vpcId="vpc-xyz": want an existing VPC's id such as vpc-0123456789abcdef0, or empty for the Network stack's own VPC`},
		{"vpcId", "vpc-0123456789abcdef0", `invalid context value vpcId="vpc-0123456789abcdef0": looking the VPC up needs an account and region: run with AWS credentials, or set account and region`},
		{"maxAzs", "1", `invalid context value maxAzs="1": want 2 to 6 (an ALB needs two Availability Zones)`},
		{"maxAzs", "three", `invalid context value maxAzs="three": want a whole number`},
		{"maxAzs", 2.5, `invalid context value maxAzs="2.5": want a whole number`},
		{"natGateways", "4", `invalid context value natGateways="4": want 0 (tasks in public subnets) to maxAzs (3 by default)`},
		{"containerPort", "80", `invalid context value containerPort="80": want 1024 to 65535 (the container runs as a non-root user, which cannot listen below 1024)`},
		{"containerPort", "70000", `invalid context value containerPort="70000": want 1024 to 65535 (the container runs as a non-root user, which cannot listen below 1024)`},
		{"healthCheckPath", "healthz", `invalid context value healthCheckPath="healthz": want an absolute path such as /healthcheck`},
		{"healthCheckPath", "/health?deep=1", `invalid context value healthCheckPath="/health?deep=1": want only letters, digits and - . _ ~ /`},
		{"healthCheckPath", "/", `invalid context value healthCheckPath="/": want a path of its own such as /healthcheck: / is the app's`},
		{"healthCheckPath", "/" + strings.Repeat("a", 1024), `invalid context value healthCheckPath="/` + strings.Repeat("a", 1024) + `": want at most 1024 characters, the load balancer's limit`},
		{"cpu", "300", `invalid context value cpu="300": want a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384`},
		{"memoryMiB", "4096", `invalid context value memoryMiB="4096": want a Fargate memory size for cpu 256 (the default): 512, 1024, 2048; or set cpu to 512, 1024 or 2048, which take 4096`},
		{"cpuArchitecture", "amd64", `invalid context value cpuArchitecture="amd64": want arm64 (Graviton) or x86_64`},
		{"cpuArchitecture", "ARM64", `invalid context value cpuArchitecture="ARM64": want arm64 (Graviton) or x86_64`},
		{"environment", "LOG_LEVEL=debug", `invalid context value environment="LOG_LEVEL=debug": want a JSON object such as {"LOG_LEVEL":"debug"}`},
		{"environment", `{"WORKERS": 4}`, `invalid context value environment="WORKERS": want a string value (quote numbers and booleans)`},
		{"environment", map[string]any{"PORT": "8080"}, `invalid context value environment="PORT": the stacks set this variable themselves (CORS_ALLOWED_ORIGINS, CORS_ALLOW_CREDENTIALS, DRAIN_DELAY, HEALTH_CHECK_PATH, PORT, SHUTDOWN_TIMEOUT); use the matching context key or another name`},
		{"environment", `{"DRAIN_DELAY": "1s"}`, `invalid context value environment="DRAIN_DELAY": the stacks set this variable themselves (CORS_ALLOWED_ORIGINS, CORS_ALLOW_CREDENTIALS, DRAIN_DELAY, HEALTH_CHECK_PATH, PORT, SHUTDOWN_TIMEOUT); use the matching context key or another name`},
		{"environment", `{"1ST": "x"}`, `invalid context value environment="1ST": want a variable name of letters, digits and underscores, not starting with a digit`},
		{"environment", `{"DB_PASSWORD": "hunter2"}`, `invalid context value environment="DB_PASSWORD": this looks like a secret, and plain variables are readable by anyone who may describe the task definition: move it to secrets`},
		{"secrets", `{"DB": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db"}`, `invalid context value secrets="DB=arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db": want a complete Secrets Manager secret ARN, ending in the hyphen and 6 characters AWS adds to the name, optionally followed by :json-key`},
		{"secrets", `{"DB": "arn:aws:s3:::bucket"}`, `invalid context value secrets="DB=arn:aws:s3:::bucket": want a Secrets Manager secret ARN (optionally :json-key), or an SSM parameter path or ARN`},
		// A value where its name belongs is refused, and not repeated.
		{"secrets", `{"DB_PASSWORD": "hunter2"}`, `invalid context value secrets="DB_PASSWORD": want where the secret lives, not its value: an SSM parameter path such as /prod/db-password, or a Secrets Manager secret or SSM parameter ARN`},
		{"secrets", `{"DB_PASSWORD": "prod/db-password"}`, `invalid context value secrets="DB_PASSWORD": want where the secret lives, not its value: an SSM parameter path such as /prod/db-password, or a Secrets Manager secret or SSM parameter ARN`},
		{"secrets", `{"DB": {"from": "/db", "key": "x"}}`, `invalid context value secrets="DB": want {"from": "<secret ARN or parameter>", "kmsKeyArn": "<key ARN>"} (kmsKeyArn optional)`},
		{"secrets", `{"DB": {"from": "/db", "kmsKeyArn": "alias/db"}}`, `invalid context value secrets="DB.kmsKeyArn=alias/db": want a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/<key id> (not an alias)`},
		// CDK panics on a path without its leading slash.
		{"secrets", `{"X": "prod/plain"}`, `invalid context value secrets="X": want where the secret lives, not its value: an SSM parameter path such as /prod/db-password, or a Secrets Manager secret or SSM parameter ARN`},
		{"secrets", `{"SHUTDOWN_TIMEOUT": "/x"}`, `invalid context value secrets="SHUTDOWN_TIMEOUT": the stacks set this variable themselves (CORS_ALLOWED_ORIGINS, CORS_ALLOW_CREDENTIALS, DRAIN_DELAY, HEALTH_CHECK_PATH, PORT, SHUTDOWN_TIMEOUT); use the matching context key or another name`},
		{"minTasks", "0", `invalid context value minTasks="0": want 1 to 100`},
		{"maxTasks", "1", `invalid context value maxTasks="1": want minTasks (2 by default) to 100`},
		{"onDemandBaseTasks", "-1", `invalid context value onDemandBaseTasks="-1": want 0 (all Spot) to maxTasks (3 by default)`},
		{"spotFallback", "yes please", `invalid context value spotFallback="yes please": want true or false`},
		{"spotFallbackQuietMinutes", "4", `invalid context value spotFallbackQuietMinutes="4": want 5 to 180 (minutes on on-demand after a first fallback; repeats wait up to 8 times longer)`},
		{"spotFallbackQuietMinutes", "181", `invalid context value spotFallbackQuietMinutes="181": want 5 to 180 (minutes on on-demand after a first fallback; repeats wait up to 8 times longer)`},
		{"cpuTargetPercent", "95", `invalid context value cpuTargetPercent="95": want 10 to 90`},
		{"scaleInCooldownSeconds", "-5", `invalid context value scaleInCooldownSeconds="-5": want 0 to 3600`},
		{"scaleOutCooldownSeconds", "7200", `invalid context value scaleOutCooldownSeconds="7200": want 0 to 3600`},
		{"requestsPerTarget", "-1", `invalid context value requestsPerTarget="-1": want 0 (off) or a positive number of requests per task per minute`},
		{"deploymentStrategy", "bluegreen", `invalid context value deploymentStrategy="bluegreen": want canary, linear, blueGreen or rolling`},
		{"canaryPercent", "0", `invalid context value canaryPercent="0": want 1 to 50 (percent of production traffic on the new tasks during the canary bake)`},
		{"linearStepPercent", "2", `invalid context value linearStepPercent="2": want 3 to 50 (ECS's minimum step is 3 percent; a single step of 100 is blueGreen)`},
		{"stepBakeMinutes", "2", `invalid context value stepBakeMinutes="2": want 5 to 1440: a shorter bake ends before the deployment alarms can judge the new tasks`},
		{"bakeMinutes", "-1", `invalid context value bakeMinutes="-1": want 0 to 1440`},
		{"requestsPerTarget", "500", `invalid context value requestsPerTarget="500": request-count scaling follows one target group, and deploymentStrategy=canary (the default) moves the traffic between two on every release: use 0 (CPU scaling only), or deploymentStrategy=rolling`},
		{"logRetentionDays", "10", `invalid context value logRetentionDays="10": want one of 1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653`},
		{"region", "eu-west-1", `invalid context value region="eu-west-1": set together with account, which is empty by default (or CDK_DEFAULT_ACCOUNT, which the CLI sets when it has credentials), or leave empty`},
		{"appName", 7.0, `invalid context value appName="7": want a string`},
		{"corsAllowCredentials", "true", `invalid context value corsAllowCredentials="true": want false while corsAllowedOrigins is "*" by default; list the allowed origins in corsAllowedOrigins to use credentials`},
		{"corsAllowCredentials", "maybe", `invalid context value corsAllowCredentials="maybe": want true or false`},
		{"alarmEmail", "ops", `invalid context value alarmEmail="ops": want an e-mail address such as ops@example.com, or empty for alarms without an action`},
		{"alarmErrorRatePercent", "0", `invalid context value alarmErrorRatePercent="0": want 1 to 100`},
		{"alarmLatencyP99Ms", "5", `invalid context value alarmLatencyP99Ms="5": want 10 to 60000`},
		{"alarmCpuPercent", "101", `invalid context value alarmCpuPercent="101": want 1 to 100`},
		{"alarmMemoryPercent", "0", `invalid context value alarmMemoryPercent="0": want 1 to 100`},
		{"probePath", "hello", `invalid context value probePath="hello": want an absolute path such as / or /hello?name=you, without spaces`},
		{"probePath", "/a b", `invalid context value probePath="/a b": want an absolute path such as / or /hello?name=you, without spaces`},
		{"probeStatus", "99", `invalid context value probeStatus="99": want an HTTP status code, 100 to 599`},
		// A typo is not ignored.
		{"minTask", "3", `invalid context value minTask="3": unknown key; did you mean minTasks? (see docs/configuration.md)`},
		{"mintasks", "3", `invalid context value mintasks="3": unknown key; did you mean minTasks? (see docs/configuration.md)`},
		{"Memory_MiB", "1024", `invalid context value Memory_MiB="1024": unknown key; did you mean memoryMiB? (see docs/configuration.md)`},
		{"desiredCount", "3", `invalid context value desiredCount="3": unknown key; did you mean minTasks or maxTasks? The service scales between the two. (see docs/configuration.md)`},
		{"colour", "blue", `invalid context value colour="blue": unknown key; see docs/configuration.md for the keys`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%v", tt.key, tt.value), func(t *testing.T) {
			ctx := cdkContext(t)
			ctx[tt.key] = tt.value
			checkConfigError(t, ctx, noEnv, tt.want)
		})
	}
}

func TestSecretParameterRegion(t *testing.T) {
	// CDK refuses (with a stack trace) a parameter ARN from another region
	// than the stacks' own; environment-agnostic stacks have no region to
	// compare with.
	ctx := cdkContext(t)
	ctx["secrets"] = `{"X": "arn:aws:ssm:us-east-1:123456789012:parameter/prod/x"}`
	checkConfigError(t, ctx, func(k string) string { return bound("eu-west-1")[k] },
		`invalid context value secrets="X=arn:aws:ssm:us-east-1:123456789012:parameter/prod/x": want a parameter in the stacks' region (eu-west-1): CDK reads SSM parameters by ARN from the same region only`)
	if _, err := loadConfig(ctx, noEnv); err != nil {
		t.Errorf("environment-agnostic: %v", err)
	}
}

func TestConfigAccepts(t *testing.T) {
	tests := []struct {
		name  string
		ctx   map[string]any
		check func(Config) bool
	}{
		{"hosted zone id as the AWS CLI prints it", map[string]any{"domainName": "app.example.com", "hostedZoneId": "/hostedzone/Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"},
			func(c Config) bool { return c.HostedZoneId == "Z0123456789ABCDEFGHIJ" }},
		{"e-mail domain in capitals", map[string]any{"alarmEmail": "Ops@Example.COM"},
			func(c Config) bool { return c.AlarmEmail == "Ops@Example.COM" }},
		{"x86_64 from -c", map[string]any{"cpuArchitecture": "x86_64"},
			func(c Config) bool { return c.CpuArchitecture == X86_64 }},
		{"environment from -c as JSON", map[string]any{"environment": `{"LOG_LEVEL": "debug", "GREETING": "hi"}`},
			func(c Config) bool { return c.Environment["LOG_LEVEL"] == "debug" && c.Environment["GREETING"] == "hi" }},
		{"secrets of every kind", map[string]any{"secrets": map[string]any{
			"DB_PASSWORD": secretArn + ":password",
			"API_TOKEN":   map[string]any{"from": "/prod/api-token", "kmsKeyArn": keyArn},
			"SIGNING_KEY": "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/signing-key",
		}}, func(c Config) bool {
			return reflect.DeepEqual(c.Secrets, map[string]Secret{
				"DB_PASSWORD": {SecretArn: secretArn, JSONKey: "password"},
				"API_TOKEN":   {ParameterName: "/prod/api-token", KmsKeyArn: keyArn},
				"SIGNING_KEY": {ParameterArn: "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/signing-key"},
			})
		}},
		{"CDK's own keys", map[string]any{"@aws-cdk/core:newStyleStackSynthesis": true, "aws:cdk:enable-path-metadata": true,
			"availability-zones:account=123456789012:region=eu-west-1": []any{"eu-west-1a"}, "acknowledged-issue-numbers": []any{32775.0}},
			func(c Config) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := cdkContext(t)
			maps.Copy(ctx, tt.ctx)
			cfg, err := loadConfig(ctx, noEnv)
			if err != nil || !tt.check(cfg) {
				t.Errorf("loadConfig = %+v, %v", cfg, err)
			}
		})
	}
}

func TestDomainConfigErrors(t *testing.T) {
	const together = "; set hostedZoneId and hostedZoneName together, with domainName"
	const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	tests := []struct {
		name                              string
		domain, zoneID, zoneName, certArn string
		env                               func(string) string
		want                              string
	}{
		{"domain only", "app.example.com", "", "", "", noEnv, `invalid context value domainName="app.example.com": want hostedZoneId and hostedZoneName (ACM then issues the certificate), or certificateArn (a certificate you already have), or neither key and no domainName`},
		{"zone only", "", "Z0123456789ABCDEFGHIJ", "example.com", "", noEnv, `invalid context value domainName="": want the DNS name to serve over HTTPS, such as app.example.com: hostedZoneId, hostedZoneName and certificateArn need it`},
		{"certificate only", "", "", "", cert, noEnv, `invalid context value domainName="": want the DNS name to serve over HTTPS, such as app.example.com: hostedZoneId, hostedZoneName and certificateArn need it`},
		{"zone id without name", "app.example.com", "Z0123456789ABCDEFGHIJ", "", "", noEnv, `invalid context value hostedZoneName="": want the hosted zone's DNS name such as example.com` + together},
		{"bad zone id", "app.example.com", "0123", "example.com", "", noEnv, `invalid context value hostedZoneId="0123": want a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (or /hostedzone/Z…, as the AWS CLI prints it)` + together},
		{"outside zone", "app.example.org", "Z0123456789ABCDEFGHIJ", "example.com", "", noEnv, `invalid context value domainName="app.example.org": want a name inside hostedZoneName "example.com"`},
		{"suffix is not a zone", "app.notexample.com", "Z0123456789ABCDEFGHIJ", "example.com", "", noEnv, `invalid context value domainName="app.notexample.com": want a name inside hostedZoneName "example.com"`},
		{"not a name", "https://app.example.com", "Z0123456789ABCDEFGHIJ", "example.com", "", noEnv, `invalid context value domainName="https://app.example.com": want a lower-case DNS name such as app.example.com`},
		{"not a certificate", "app.example.com", "", "", "arn:aws:acm:eu-west-1:123456789012:cert/x", noEnv, `invalid context value certificateArn="arn:aws:acm:eu-west-1:123456789012:cert/x": want an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/<uuid>`},
		{"certificate of another region", "app.example.com", "", "", cert, accountEnv("us-east-1"), `invalid context value certificateArn="` + cert + `": want a certificate in the stacks' region us-east-1: a load balancer uses certificates of its own region only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := cdkContext(t)
			ctx["domainName"], ctx["hostedZoneId"], ctx["hostedZoneName"], ctx["certificateArn"] = tt.domain, tt.zoneID, tt.zoneName, tt.certArn
			checkConfigError(t, ctx, tt.env, tt.want)
		})
	}
}

// TestCorsOriginsTable runs the table that the origin package and the
// service test too: synth accepts and rejects exactly what a task would.
func TestCorsOriginsTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "origin", "testdata", "origins.json"))
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Good []string          `json:"good"`
		Bad  map[string]string `json:"bad"`
	}
	if err := json.Unmarshal(data, &table); err != nil || len(table.Good) == 0 || len(table.Bad) == 0 {
		t.Fatalf("origins.json: %v", err)
	}
	for _, v := range table.Good {
		ctx := cdkContext(t)
		ctx["corsAllowedOrigins"] = v
		if _, err := loadConfig(ctx, noEnv); err != nil {
			t.Errorf("corsAllowedOrigins=%q: %v, want it accepted", v, err)
		}
	}
	for v, reason := range table.Bad {
		ctx := cdkContext(t)
		ctx["corsAllowedOrigins"] = v
		_, err := loadConfig(ctx, noEnv)
		if err == nil || !strings.Contains(err.Error(), ": "+reason+"; want ") {
			t.Errorf("corsAllowedOrigins=%q: %v, want it rejected: %s", v, err, reason)
		}
	}
}

// checkConfigError asserts that loading ctx fails with exactly want, on
// one line.
func checkConfigError(t *testing.T, ctx map[string]any, getenv func(string) string, want string) {
	t.Helper()
	_, err := loadConfig(ctx, getenv)
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

// accountEnv is what the CLI passes to the app with credentials for
// account 123456789012 in region.
func accountEnv(region string) func(string) string {
	return func(k string) string {
		return map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": region}[k]
	}
}

func TestConfigStopsSynthBeforeAnything(t *testing.T) {
	// The error comes from LoadConfig, before any construct exists, so the
	// CLI writes nothing.
	app := newApp(t, map[string]any{"minTasks": "5"})
	if _, err := LoadConfig(app, noEnv); err == nil {
		t.Fatal("LoadConfig accepted minTasks=5 > maxTasks=3")
	}
	if n := len(*app.Node().Children()); n != 0 {
		t.Errorf("app has %d children after a config error, want 0", n)
	}
	// It reads the whole context, so an unknown key from -c is seen too.
	app = newApp(t, map[string]any{"minTask": "5"})
	if _, err := LoadConfig(app, noEnv); err == nil || !strings.Contains(err.Error(), "did you mean minTasks?") {
		t.Errorf("LoadConfig with minTask: %v", err)
	}
}

func TestConfigAccountFromEnvironment(t *testing.T) {
	cfg, err := loadConfig(cdkContext(t), accountEnv("eu-west-1"))
	if err != nil || cfg.Account != "123456789012" || cfg.Region != "eu-west-1" {
		t.Errorf("with CDK_DEFAULT_ACCOUNT: %+v, %v", cfg, err)
	}
	// The CLI sets CDK_DEFAULT_REGION even without credentials: alone it
	// must not bind the stacks.
	cfg, err = loadConfig(cdkContext(t), func(k string) string { return map[string]string{"CDK_DEFAULT_REGION": "eu-west-1"}[k] })
	if err != nil || cfg.Account != "" || cfg.Region != "" {
		t.Errorf("with CDK_DEFAULT_REGION only: %+v, %v", cfg, err)
	}
	// -c region= picks the region for the credentials' account.
	ctx := cdkContext(t)
	ctx["region"] = "ap-south-2"
	cfg, err = loadConfig(ctx, accountEnv("eu-west-1"))
	if err != nil || cfg.Account != "123456789012" || cfg.Region != "ap-south-2" {
		t.Errorf("with -c region=ap-south-2: %+v, %v", cfg, err)
	}
}

// userKeys returns the app's keys: those of Defaults.
func userKeys(t *testing.T) []string {
	t.Helper()
	keys := slices.Sorted(maps.Keys(Defaults))
	for _, k := range keys {
		if !userKey.MatchString(k) {
			t.Errorf("default %q: an app key must match userKey, or rejectUnknown would not see its typos", k)
		}
	}
	return keys
}

func TestEveryKeyIsRead(t *testing.T) {
	// A value of the wrong type for every key fails on that key: each
	// default is read, with its type.
	for _, k := range userKeys(t) {
		ctx := cdkContext(t)
		ctx[k] = map[string]any{"X": 1.0}
		if _, err := loadConfig(ctx, noEnv); err == nil || !strings.HasPrefix(err.Error(), "invalid context value "+k+"=") {
			t.Errorf("%s={\"X\": 1}: %v, want an error naming %s", k, err, k)
		}
	}
}

func TestCdkJSONHoldsOnlyWhatTheUserChanges(t *testing.T) {
	// A cdk.json without any app key synthesizes the Defaults, and a key
	// set to null is the default too.
	ctx := cdkContext(t)
	ctx["cpu"] = nil
	if cfg, err := loadConfig(ctx, noEnv); err != nil || cfg.Cpu != 256 {
		t.Errorf("without app keys: %+v, %v", cfg, err)
	}
}

// TestEveryKeyIsDocumented: every key LoadConfig reads has a row in the
// generated Configuration reference (docs/docs_test.go writes it from the
// source of Defaults; this checks the keys the running code has).
func TestEveryKeyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Rows of the configuration table start with the key in backticks.
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z0-9]+)` \\|").FindAllSubmatch(doc, -1) {
		documented[string(m[1])] = true
	}
	for _, k := range userKeys(t) {
		if !documented[k] {
			t.Errorf("context key %q is missing from docs/configuration.md: give it a comment in Defaults and run go test ./docs -run TestConfigurationReference -update", k)
		}
	}
}

func TestNearestKey(t *testing.T) {
	known := []string{"minTasks", "maxTasks", "maxAzs", "cpu", "vpcId"}
	for key, want := range map[string]string{
		"minTask": "minTasks", "MAXAZS": "maxAzs", "maxTask": "maxTasks", "vpcID": "vpcId", "cpus": "cpu", "colour": "",
	} {
		if got := nearest(key, known); got != want {
			t.Errorf("nearest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestCrossKeyErrors(t *testing.T) {
	// A check between two keys names the key the user set, and says when
	// the other one's value is its default rather than theirs.
	tests := []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"minTasks": "5"}, `invalid context value minTasks="5": maxTasks is 3 by default: set maxTasks to 5 or more too`},
		{map[string]any{"minTasks": "5", "maxTasks": "3"}, `invalid context value maxTasks="3": want minTasks (5) to 100`},
		{map[string]any{"cpu": "1024"}, `invalid context value cpu="1024": memoryMiB is 512 by default, and cpu 1024 takes 2048 to 8192 in steps of 1024: set memoryMiB too`},
		{map[string]any{"cpu": "1024", "memoryMiB": "512"}, `invalid context value memoryMiB="512": want a Fargate memory size for cpu 1024: 2048 to 8192 in steps of 1024`},
		{map[string]any{"memoryMiB": "30720"}, `invalid context value memoryMiB="30720": want a Fargate memory size for cpu 256 (the default): 512, 1024, 2048; or set cpu to 4096, which take 30720`},
		{map[string]any{"onDemandBaseTasks": "5"}, `invalid context value onDemandBaseTasks="5": want 0 (all Spot) to maxTasks, which is 3 by default: set maxTasks to 5 or more too`},
		{map[string]any{"onDemandBaseTasks": "5", "maxTasks": "4"}, `invalid context value onDemandBaseTasks="5": want 0 (all Spot) to maxTasks (4)`},
		{map[string]any{"natGateways": "3", "maxAzs": "2"}, `invalid context value natGateways="3": want 0 (tasks in public subnets) to maxAzs (2)`},
		{map[string]any{"requestsPerTarget": "500", "deploymentStrategy": "linear"}, `invalid context value requestsPerTarget="500": request-count scaling follows one target group, and deploymentStrategy=linear moves the traffic between two on every release: use 0 (CPU scaling only), or deploymentStrategy=rolling`},
		{map[string]any{"corsAllowCredentials": "true", "corsAllowedOrigins": "*"}, `invalid context value corsAllowCredentials="true": want false while corsAllowedOrigins is "*"; list the allowed origins in corsAllowedOrigins to use credentials`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.set), func(t *testing.T) {
			ctx := cdkContext(t)
			maps.Copy(ctx, tt.set)
			checkConfigError(t, ctx, noEnv, tt.want)
		})
	}
}

func TestUnknownKeyHints(t *testing.T) {
	// Aliases other tools use, and misspellings, point at the key.
	known := userKeys(t)
	for key, want := range map[string]string{
		"memory": "memoryMiB", "MemoryMiB": "memoryMiB", "memory_mib": "memoryMiB", "memoryMB": "memoryMiB", "vCpu": "cpu",
		"env": "environment", "variables": "environment", "secret": "secrets",
		"port": "containerPort", "containerPortNumber": "containerPort",
		"healthCheck": "healthCheckPath", "healthcheck": "healthCheckPath", "health": "healthCheckPath",
		"desiredCount": "minTasks or maxTasks", "replicas": "minTasks or maxTasks", "minCapacity": "minTasks",
		"vpc": "vpcId", "domain": "domainName", "email": "alarmEmail", "strategy": "deploymentStrategy",
		"arch": "cpuArchitecture", "architecture": "cpuArchitecture", "spot": "onDemandBaseTasks or spotFallback",
		"name": "appName", "cors": "corsAllowedOrigins", "retention": "logRetentionDays", "certificate": "certificateArn",
		"zone": "hostedZoneId or hostedZoneName", "probe": "probeBody, probePath or probeStatus", "awsRegion": "region",
		"colour": "", "alarm": "",
	} {
		keys, _ := suggest(key, known)
		if got := orList(keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
	// Each alias names keys that exist, and is needed: without it the
	// other rules would suggest something else.
	for alias, a := range keyAliases {
		for _, k := range a.keys {
			if Defaults[k] == nil {
				t.Errorf("alias %q names %q, which is not a key", alias, k)
			}
		}
		delete(keyAliases, alias)
		if without, _ := suggest(alias, known); slices.Equal(without, a.keys) {
			t.Errorf("alias %q: the key, a typo or a word in a key finds %v already; drop it from keyAliases", alias, a.keys)
		}
		keyAliases[alias] = a
	}
}
