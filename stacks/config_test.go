package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(func(k string) any { return cdkContext(t)[k] }, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		AppName: "fargo", MaxAzs: 3, NatGateways: 0, Cpu: 256, MemoryMiB: 512,
		MinTasks: 2, MaxTasks: 3, OnDemandBaseTasks: 1, CpuTargetPercent: 70,
		ScaleInCooldown: 300e9, ScaleOutCooldown: 60e9, RequestsPerTarget: 0,
		LogRetentionDays: 30, CorsAllowedOrigins: "*", CorsAllowCredentials: false,
		AlarmErrorRatePercent: 5, AlarmLatencyP99: 1e9, AlarmCpuPercent: 90, AlarmMemoryPercent: 90,
	}
	if cfg != want {
		t.Errorf("defaults from cdk.json:\n got %+v\nwant %+v", cfg, want)
	}
}

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
		{"maxAzs", "1", `invalid context value maxAzs="1": want 2 to 6 (an ALB needs two Availability Zones)`},
		{"maxAzs", "three", `invalid context value maxAzs="three": want a whole number`},
		{"maxAzs", 2.5, `invalid context value maxAzs="2.5": want a whole number`},
		{"natGateways", "4", `invalid context value natGateways="4": want 0 (tasks in public subnets) to maxAzs (3)`},
		{"cpu", "300", `invalid context value cpu="300": want a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384`},
		{"memoryMiB", "4096", `invalid context value memoryMiB="4096": want a Fargate memory size for cpu 256: 512, 1024, 2048`},
		{"minTasks", "0", `invalid context value minTasks="0": want 1 to 100`},
		{"maxTasks", "1", `invalid context value maxTasks="1": want minTasks (2) to 100`},
		{"onDemandBaseTasks", "-1", `invalid context value onDemandBaseTasks="-1": want 0 (all Spot) to maxTasks (3)`},
		{"cpuTargetPercent", "95", `invalid context value cpuTargetPercent="95": want 10 to 90`},
		{"scaleInCooldownSeconds", "-5", `invalid context value scaleInCooldownSeconds="-5": want 0 to 3600`},
		{"scaleOutCooldownSeconds", "7200", `invalid context value scaleOutCooldownSeconds="7200": want 0 to 3600`},
		{"requestsPerTarget", "-1", `invalid context value requestsPerTarget="-1": want 0 (off) or a positive number of requests per task per minute`},
		{"logRetentionDays", "10", `invalid context value logRetentionDays="10": want one of 1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653`},
		{"corsAllowedOrigins", "example.com", `invalid context value corsAllowedOrigins="example.com": want "*" or a comma-separated list of origins such as https://app.example.com`},
		{"corsAllowedOrigins", "https://a.example.com/path", `invalid context value corsAllowedOrigins="https://a.example.com/path": want "*" or a comma-separated list of origins such as https://app.example.com`},
		{"region", "eu-west-1", `invalid context value region="eu-west-1": set together with account (or CDK_DEFAULT_ACCOUNT), or leave empty`},
		{"cpu", nil, `invalid context value cpu="": the key is missing: add it to the context section of cdk.json (see README, Configuration)`},
		{"appName", 7.0, `invalid context value appName="7": want a string`},
		{"corsAllowCredentials", "true", `invalid context value corsAllowCredentials="true": want false while corsAllowedOrigins is "*"; list the allowed origins to use credentials`},
		{"corsAllowCredentials", "maybe", `invalid context value corsAllowCredentials="maybe": want true or false`},
		{"alarmEmail", "ops", `invalid context value alarmEmail="ops": want an e-mail address such as ops@example.com, or empty for alarms without an action`},
		{"alarmErrorRatePercent", "0", `invalid context value alarmErrorRatePercent="0": want 1 to 100`},
		{"alarmLatencyP99Ms", "5", `invalid context value alarmLatencyP99Ms="5": want 10 to 60000`},
		{"alarmCpuPercent", "101", `invalid context value alarmCpuPercent="101": want 1 to 100`},
		{"alarmMemoryPercent", "0", `invalid context value alarmMemoryPercent="0": want 1 to 100`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%v", tt.key, tt.value), func(t *testing.T) {
			ctx := cdkContext(t)
			ctx[tt.key] = tt.value
			checkConfigError(t, ctx, tt.want)
		})
	}
}

func TestDomainConfigErrors(t *testing.T) {
	const together = "; set domainName, hostedZoneId and hostedZoneName together, or none of them"
	tests := []struct {
		name                     string
		domain, zoneID, zoneName string
		want                     string
	}{
		{"domain only", "app.example.com", "", "", `invalid context value hostedZoneName="": want the hosted zone's DNS name such as example.com` + together},
		{"zone only", "", "Z0123456789ABCDEFGHIJ", "example.com", `invalid context value domainName="": want a lower-case DNS name such as app.example.com` + together},
		{"bad zone id", "app.example.com", "0123", "example.com", `invalid context value hostedZoneId="0123": want a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ` + together},
		{"outside zone", "app.example.org", "Z0123456789ABCDEFGHIJ", "example.com", `invalid context value domainName="app.example.org": want a name inside hostedZoneName "example.com"`},
		{"suffix is not a zone", "app.notexample.com", "Z0123456789ABCDEFGHIJ", "example.com", `invalid context value domainName="app.notexample.com": want a name inside hostedZoneName "example.com"`},
		{"not a name", "https://app.example.com", "Z0123456789ABCDEFGHIJ", "example.com", `invalid context value domainName="https://app.example.com": want a lower-case DNS name such as app.example.com` + together},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := cdkContext(t)
			ctx["domainName"], ctx["hostedZoneId"], ctx["hostedZoneName"] = tt.domain, tt.zoneID, tt.zoneName
			checkConfigError(t, ctx, tt.want)
		})
	}
}

// checkConfigError asserts that loading ctx fails with exactly want, on
// one line.
func checkConfigError(t *testing.T, ctx map[string]any, want string) {
	t.Helper()
	_, err := loadConfig(func(k string) any { return ctx[k] }, func(string) string { return "" })
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

func TestConfigStopsSynthBeforeAnything(t *testing.T) {
	// The error comes from LoadConfig, before any construct exists, so the
	// CLI writes nothing.
	app := newApp(t, map[string]any{"minTasks": "5"})
	if _, err := LoadConfig(app, func(string) string { return "" }); err == nil {
		t.Fatal("LoadConfig accepted minTasks=5 > maxTasks=3")
	}
	if n := len(*app.Node().Children()); n != 0 {
		t.Errorf("app has %d children after a config error, want 0", n)
	}
}

func TestConfigAccountFromEnvironment(t *testing.T) {
	ctx := cdkContext(t)
	env := map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}
	cfg, err := loadConfig(func(k string) any { return ctx[k] }, func(k string) string { return env[k] })
	if err != nil || cfg.Account != "123456789012" || cfg.Region != "eu-west-1" {
		t.Errorf("with CDK_DEFAULT_ACCOUNT: %+v, %v", cfg, err)
	}
	// The CLI sets CDK_DEFAULT_REGION even without credentials: alone it
	// must not bind the stacks.
	delete(env, "CDK_DEFAULT_ACCOUNT")
	cfg, err = loadConfig(func(k string) any { return ctx[k] }, func(k string) string { return env[k] })
	if err != nil || cfg.Account != "" || cfg.Region != "" {
		t.Errorf("with CDK_DEFAULT_REGION only: %+v, %v", cfg, err)
	}
}

// keysRead returns every context key LoadConfig reads.
func keysRead(t *testing.T) []string {
	t.Helper()
	ctx := cdkContext(t)
	var keys []string
	if _, err := loadConfig(func(k string) any { keys = append(keys, k); return ctx[k] }, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestEveryKeyIsInCdkJSON(t *testing.T) {
	ctx := cdkContext(t)
	for _, k := range keysRead(t) {
		if _, ok := ctx[k]; !ok {
			t.Errorf("cdk.json has no default for context key %q", k)
		}
	}
}

func TestEveryKeyIsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Rows of the configuration table start with the key in backticks.
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z0-9]+)` \\|").FindAllSubmatch(readme, -1) {
		documented[string(m[1])] = true
	}
	keys := keysRead(t)
	if !slices.Contains(keys, "appName") {
		t.Fatalf("keysRead = %v: the recorder is broken", keys)
	}
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("context key %q is missing from the README's configuration table", k)
		}
	}
}
