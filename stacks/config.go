package stacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// Config is everything a user can change without editing Go. It is read from
// CDK context: Defaults holds every key's shipped value, and a key in
// cdk.json's context or `cdk synth -c key=value` overrides it.
type Config struct {
	AppName string
	// Account and Region bind the stacks to one environment. Both empty
	// (and no CDK_DEFAULT_ACCOUNT) keeps them environment-agnostic.
	Account string
	Region  string

	// VpcId, when set, is an existing VPC to deploy into instead of the
	// Network stack's own.
	VpcId       string
	MaxAzs      int
	NatGateways int

	ContainerPort   int
	HealthCheckPath string
	Cpu             int
	MemoryMiB       int
	// CpuArchitecture is what the tasks run on and the image is built for.
	CpuArchitecture Architecture
	// Environment holds the app's plain variables; Secrets the variables
	// ECS reads from Secrets Manager or SSM Parameter Store at task start.
	Environment map[string]string
	Secrets     map[string]Secret

	MinTasks          int
	MaxTasks          int
	OnDemandBaseTasks int
	CpuTargetPercent  int
	ScaleInCooldown   time.Duration
	ScaleOutCooldown  time.Duration
	// RequestsPerTarget adds ALB request-count tracking when above zero.
	RequestsPerTarget int
	// SpotFallback moves the service to on-demand Fargate while Fargate
	// Spot has no capacity for it, for SpotFallbackQuiet at first (see
	// stacks/fallback.go).
	SpotFallback      bool
	SpotFallbackQuiet time.Duration

	// DeploymentStrategy is how a release replaces the running tasks (see
	// deploy.go): canary, linear, blueGreen or rolling. CanaryPercent is the
	// share of production traffic a canary gets first, LinearStepPercent
	// the share each linear step adds, StepBakeMinutes how long each
	// partial share bakes, and BakeMinutes how long the old tasks stay
	// ready for a rollback once the new ones take all the traffic.
	DeploymentStrategy string
	CanaryPercent      int
	LinearStepPercent  int
	StepBakeMinutes    int
	BakeMinutes        int

	LogRetentionDays   int
	CorsAllowedOrigins string
	// CorsAllowCredentials lets browsers send cookies cross-origin; only
	// with an explicit origin list.
	CorsAllowCredentials bool

	// DomainName turns on HTTPS, with a certificate that CertificateArn
	// names or that ACM issues through the HostedZoneId/HostedZoneName zone,
	// which then also holds the alias record.
	DomainName     string
	HostedZoneId   string
	HostedZoneName string
	CertificateArn string

	// AlarmEmail, when set, receives every alarm through an SNS topic.
	AlarmEmail            string
	AlarmErrorRatePercent int
	AlarmLatencyP99       time.Duration
	AlarmCpuPercent       int
	AlarmMemoryPercent    int

	// Probe is a request that shows the deployed app works: make smoke,
	// make integ and the e2e tests send it (not the stacks). Without
	// probePath it is the health check path, which any app that keeps the
	// contract answers 200 (docs/contract.md).
	Probe Probe

	// Service is the name of the service this Config is for, from the
	// services key; empty for the app's own service.
	Service string
	// Services are the app's other services (the app's own Config only),
	// sorted by name.
	Services []Service

	// EnvName is the environment this Config is for, from the
	// environments key; empty without it. Adopted marks the environment
	// that is the existing single deployment: its stacks keep today's
	// names and sit outside a Stage (docs/environments.md).
	EnvName string
	Adopted bool
	// Environments are the app's environments, each resolved whole (the
	// top-level Config only), sorted by name; none without the key.
	Environments []Config
}

// Probe is one request that shows the app works: GET Path must answer
// Status, with Body somewhere in the body unless Body is empty.
type Probe struct {
	Path   string
	Status int
	Body   string
}

// Defaults are the shipped values of every context key, in the JSON types
// cdk.json would hold them. A user's cdk.json needs only the keys they
// change. The comment above each entry is its row in the generated
// reference, docs/configuration.md (go test ./docs -run
// TestConfigurationReference -update writes it; the test fails on a key
// without a comment).
var Defaults = map[string]any{
	// Names the stacks (`<appName>-Network`, ...) and tags every resource that takes tags with
	// `app`; a letter, then up to 29 letters, digits or hyphens. A new name is a second deployment
	// beside the first.
	"appName": "fargo",
	// The 12-digit account the stacks are bound to; empty takes `CDK_DEFAULT_ACCOUNT` when the CLI
	// has credentials, else the stacks are environment-agnostic.
	"account": "",
	// The AWS region the stacks are bound to; empty takes the CLI's (see
	// docs/deploy.md#which-account-and-region).
	"region": "",
	// An existing VPC's id to deploy into instead of the Network stack's own, or empty; choose it
	// before the first deploy (see docs/existing-vpc.md).
	"vpcId": "",
	// Availability Zones of the VPC, 2–6; an environment-agnostic VPC gets 2 whatever this says.
	"maxAzs": 3,
	// 0–`maxAzs`. 0: tasks run in public subnets with public IPs, reachable only from the ALB; 1
	// or more: tasks move to private subnets behind that many NAT gateways (about $33 a month
	// each).
	"natGateways": 0,
	// The port the container listens on (its `PORT`), 1024–65535, registered in the target group
	// and opened from the ALB only.
	"containerPort": 5000,
	// The target group's health check and the container's `HEALTH_CHECK_PATH`: an absolute path
	// without query. Changing it on a running service takes two steps (see
	// docs/deploy-strategies.md).
	"healthCheckPath": "/healthcheck",
	// Task CPU units: a Fargate CPU value (256 … 16384).
	"cpu": 256,
	// Task memory in MiB: a size Fargate accepts for `cpu`.
	"memoryMiB": 512,
	// `arm64` or `x86_64`: the tasks' CPU and the platform the image is built for. arm64 is
	// Graviton, 20 % cheaper per vCPU-hour and GB-hour (see docs/cost.md); the `Dockerfile`
	// cross-compiles, so any workstation builds either without an emulator. Choose `x86_64` only
	// for an image that needs it (a binary in it that exists only for x86, say). Switching builds
	// and pushes the other image (the platform is part of its tag) and replaces the tasks with a
	// new deployment.
	"cpuArchitecture": "arm64",
	// The app's plain settings, an object of variable names and string values, added to the
	// container's environment; the names the stacks set (`PORT`, `HEALTH_CHECK_PATH`,
	// `DRAIN_DELAY`, `SHUTDOWN_TIMEOUT`, `CORS_*`) and secret-looking ones (`*PASSWORD*`,
	// `*TOKEN*`, `*SECRET*`, `*API_KEY*`, …) are refused (see Environment and secrets, below).
	"environment": map[string]any{},
	// The app's secrets, an object of variable names and where each secret lives, read by ECS at
	// task start and set as the container's variables (see Environment and secrets, below).
	"secrets": map[string]any{},
	// Auto scaling minimum, 1–100.
	"minTasks": 2,
	// Auto scaling maximum, `minTasks`–100.
	"maxTasks": 3,
	// This many tasks run on FARGATE (on demand), every task above them on FARGATE_SPOT;
	// 0–`maxTasks`. Raise it up to `maxTasks` for fewer or no Spot tasks.
	"onDemandBaseTasks": 1,
	// `true` or `false`. When ECS cannot place the service's Spot tasks for lack of capacity, move
	// every task to on-demand FARGATE for a while (see docs/spot-fallback.md); `false` leaves the
	// service waiting for Spot.
	"spotFallback": true,
	// Minutes on on-demand after a first fallback, 5–180; each fallback within a day of the last
	// return to Spot doubles it, up to 8 times.
	"spotFallbackQuietMinutes": 30,
	// Target of the average-CPU tracking policy, 10–90 %.
	"cpuTargetPercent": 70,
	// Wait after a scale-in before the next one, 0–3600 s.
	"scaleInCooldownSeconds": 300,
	// Wait after a scale-out before the next one, 0–3600 s.
	"scaleOutCooldownSeconds": 60,
	// Adds ALB requests-per-task-per-minute tracking at this target: 0 (off) or more; above 0 with
	// `deploymentStrategy` `rolling` only (it follows one target group, and the native strategies
	// move traffic between two).
	"requestsPerTarget": 0,
	// How a release replaces the running tasks: `canary`, `linear`, `blueGreen` or `rolling` (see
	// docs/deploy-strategies.md).
	"deploymentStrategy": "canary",
	// `canary`: share of production traffic the new tasks get for `stepBakeMinutes` before they
	// get it all, 1–50 %.
	"canaryPercent": 5,
	// `linear`: share of production traffic added every `stepBakeMinutes`, 3–50 %.
	"linearStepPercent": 20,
	// `canary`/`linear`: how long each partial share runs before the next step, 5–1440 minutes; 5
	// is the shortest in which the deployment alarms (3 one-minute periods, plus up to 2 minutes
	// for the metrics to arrive) can fire, and the default adds a minute of margin.
	"stepBakeMinutes": 6,
	// `canary`/`linear`/`blueGreen`: how long the old tasks keep running, ready for an instant
	// rollback, once the new ones take all the traffic, 0–1440 minutes.
	"bakeMinutes": 5,
	// Retention of the service logs and VPC flow logs, and expiry of the ALB access logs: a
	// CloudWatch Logs retention in days (1, 3, 5, 7, 14, 30, 60, 90, …, 3653).
	"logRetentionDays": 30,
	// The service's `CORS_ALLOWED_ORIGINS`: `*` or comma-separated origins as browsers send them
	// (`https://app.example.com`: lower case, no trailing slash, path, wildcard or default port);
	// synth and the service check it with the same code (`origin/`).
	"corsAllowedOrigins": "*",
	// The service's `CORS_ALLOW_CREDENTIALS`: `true` lets browsers send cookies cross-origin, only
	// with listed origins.
	"corsAllowCredentials": false,
	// A DNS name to serve HTTPS on, with `hostedZoneId` and `hostedZoneName` or with
	// `certificateArn` (see docs/custom-domain.md); empty serves HTTP on port 80.
	"domainName": "",
	// The Route 53 hosted zone (`Z…`, or `/hostedzone/Z…` as the AWS CLI prints it) that validates
	// a new certificate and holds the alias record.
	"hostedZoneId": "",
	// The DNS name of the `hostedZoneId` zone.
	"hostedZoneName": "",
	// An existing ACM certificate for `domainName`, by ARN, in the stacks' region, instead of one
	// that ACM issues through the zone.
	"certificateArn": "",
	// An e-mail address that receives every alarm and its recovery through an encrypted SNS topic;
	// empty: the alarms exist without an action (see docs/alarms.md).
	"alarmEmail": "",
	// The 5xx share of requests that fires the error-rate alarms, 1–100 %.
	"alarmErrorRatePercent": 5,
	// The p99 target response time that fires the latency alarms, 10–60000 ms.
	"alarmLatencyP99Ms": 1000,
	// The average service CPU that fires the CPU alarm, 1–100 %.
	"alarmCpuPercent": 90,
	// The average service memory that fires the memory alarm, 1–100 %.
	"alarmMemoryPercent": 90,
	// A request that shows the app works, an absolute path (query allowed), or empty for the
	// health check path: `make smoke`, `make integ` and the e2e tests send `GET` to it; the stacks
	// do not use it. Set it to a page of your app for a stronger check than the health path.
	"probePath": "",
	// The status `probePath` must answer, 100–599.
	"probeStatus": 200,
	// Text that `probePath`'s answer must contain, or empty for any body. Set it with `probePath`.
	"probeBody": "",
	// The app's other services behind the same load balancer: a name → `package` or `directory`,
	// `hosts` and/or `paths`, `priority`, and any per-service key; each its own stack and image
	// (see docs/services.md).
	"services": map[string]any{},
	// The app's environments, such as staging and production: a name → `account`, `region`, any
	// other key to override there (not `appName` or `cpuArchitecture`), `services` overrides and
	// `adopt`; each its own copy of the stacks, `<appName>-<env>-Network`, ... (see
	// docs/environments.md).
	"environments": map[string]any{},
}

// Secret is where ECS reads one secret variable of the container: a
// Secrets Manager secret (SecretArn, optionally one JSONKey of it) or an
// SSM parameter (ParameterName in the stacks' account and region, or
// ParameterArn). KmsKeyArn is the customer-managed key that encrypts it,
// if any: the execution role may then decrypt with that key.
type Secret struct {
	SecretArn     string
	JSONKey       string
	ParameterName string
	ParameterArn  string
	KmsKeyArn     string
}

// HasDomain reports whether the service is served over HTTPS on DomainName.
func (c Config) HasDomain() bool { return c.DomainName != "" }

// HasHostedZone reports whether the domain's Route 53 zone is given, so that
// the stacks can validate a certificate and write the alias record.
func (c Config) HasHostedZone() bool { return c.HostedZoneId != "" }

// TasksInPublicSubnets reports whether tasks run in public subnets with a
// public IP, which is the case without NAT gateways: they still accept
// traffic only from the load balancer's security group.
func (c Config) TasksInPublicSubnets() bool { return c.NatGateways == 0 }

// stackEnvironment is what the stacks tell the container about itself: the
// port and health path the target group uses, the stop timings, CORS. The
// app's own Environment may not redefine any of it.
func (c Config) stackEnvironment() map[string]string {
	return map[string]string{
		"PORT":                   strconv.Itoa(c.ContainerPort),
		"HEALTH_CHECK_PATH":      c.HealthCheckPath,
		"DRAIN_DELAY":            DrainDelay.String(),
		"SHUTDOWN_TIMEOUT":       ShutdownTimeout.String(),
		"CORS_ALLOWED_ORIGINS":   c.CorsAllowedOrigins,
		"CORS_ALLOW_CREDENTIALS": strconv.FormatBool(c.CorsAllowCredentials),
	}
}

// containerEnvironment is the container's whole plain environment.
func (c Config) containerEnvironment() map[string]string {
	env := maps.Clone(c.Environment)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, c.stackEnvironment())
	return env
}

// retentionDays maps the retention periods CloudWatch Logs accepts, in days,
// to their CDK names.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// LogRetention is the CDK form of LogRetentionDays.
func (c Config) LogRetention() awslogs.RetentionDays { return retentionDays[c.LogRetentionDays] }

// Architecture is the tasks' CPU architecture, as cpuArchitecture names it.
// Fargate runs both on demand and on Spot (ARM64 Spot since September
// 2024); ARM64 (Graviton) costs 20 % less per vCPU-hour and GB-hour
// (docs/cost.md).
type Architecture string

// The values of cpuArchitecture.
const (
	ARM64  Architecture = "arm64"
	X86_64 Architecture = "x86_64"
)

// TaskArchitecture is the task definition's RuntimePlatform.CpuArchitecture.
func (a Architecture) TaskArchitecture() awsecs.CpuArchitecture {
	if a == X86_64 {
		return awsecs.CpuArchitecture_X86_64()
	}
	return awsecs.CpuArchitecture_ARM64()
}

// ImagePlatform is the platform the image asset is built for; the
// Dockerfile cross-compiles for it (GOARCH) on the build machine's own.
func (a Architecture) ImagePlatform() awsecrassets.Platform {
	if a == X86_64 {
		return awsecrassets.Platform_LINUX_AMD64()
	}
	return awsecrassets.Platform_LINUX_ARM64()
}

// ConfigError names the context key, the value and what is allowed, on one
// line, so that a failed synth says exactly what to fix.
type ConfigError struct {
	Key     string
	Value   any
	Allowed string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid context value %s=%q: %s", e.Key, fmt.Sprint(e.Value), e.Allowed)
}

// LoadConfig reads and validates Config from the app's context, and takes
// the account and region from CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION (passed
// in by the caller) when the context does not set them.
func LoadConfig(app awscdk.App, getenv func(string) string) (Config, error) {
	// GetAllContext names every key, but hands nested objects back in
	// jsii's wire form ({"$jsii.map": …}); TryGetContext returns plain values.
	all, _ := app.Node().GetAllContext(nil).(map[string]any)
	ctx := make(map[string]any, len(all))
	for key := range all {
		ctx[key] = app.Node().TryGetContext(jsii.String(key))
	}
	return loadConfig(ctx, getenv)
}

// loadConfig reads Config from ctx (the app's context) over Defaults, and
// each environment's from its layers (see resolve).
func loadConfig(ctx map[string]any, getenv func(string) string) (Config, error) {
	c, err := loadEnvironment(ctx, nil, "", getenv)
	if err != nil {
		return Config{}, err
	}
	if c.Environments, err = readEnvironments(ctx, getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// loadEnvironment reads the app's own Config and its services' in one
// environment: env holds the environment's overrides (nil for the top
// level) and name its name.
func loadEnvironment(ctx, env map[string]any, name string, getenv func(string) string) (Config, error) {
	prefix := ""
	if name != "" {
		prefix = "environments." + name + "."
	}
	merged, given := resolve(ctx, env, "", nil, nil)
	c, err := readConfig(merged, given, getenv, prefix)
	if err != nil {
		return Config{}, err
	}
	c.EnvName = name
	if c.Services, err = readServices(ctx, env, c, getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// resolve is where every value of one service in one environment comes
// from, in one place, lowest first (the table in docs/environments.md):
//
//  1. the shipped Defaults;
//  2. the top-level keys of ctx;
//  3. the environment's keys (env);
//  4. the service's entry in services (entry);
//  5. the environment's override of that service (envEntry).
//
// The more specific layer wins: an environment is a setting of every
// service in it, a service's entry its own choice everywhere, and the
// environment's override of the service the narrowest of all. service is
// empty for the app's own service, which has layers 1-3 only. Another
// service does not inherit ownOnly keys from layers 2 and 3. given
// reports the keys a layer above the Defaults sets, for messages that
// tell a default from a choice.
func resolve(ctx, env map[string]any, service string, entry, envEntry map[string]any) (map[string]any, func(string) bool) {
	merged := maps.Clone(Defaults)
	set := map[string]bool{}
	apply := func(layer map[string]any, skip ...string) {
		for k, v := range layer {
			if v != nil && !slices.Contains(skip, k) {
				merged[k] = v
				set[k] = true
			}
		}
	}
	inherited := []string{}
	if service != "" {
		inherited = ownOnly
	}
	apply(ctx, inherited...)
	apply(env, append([]string{"services", "adopt"}, inherited...)...)
	apply(entry, serviceKeys...)
	apply(envEntry)
	return merged, func(k string) bool { return set[k] }
}

// readConfig reads and validates one service's Config from merged, the
// context over Defaults; given reports the keys the user set. prefix starts
// every key an error names: "services.<name>." for another service, empty
// for the app's own.
func readConfig(merged map[string]any, given func(string) bool, getenv func(string) string, prefix string) (Config, error) {
	r := contextReader{ctx: merged, read: map[string]bool{"services": true, "environments": true}, prefix: prefix}
	c := Config{
		AppName:               r.str("appName"),
		Account:               r.str("account"),
		Region:                r.str("region"),
		VpcId:                 r.str("vpcId"),
		MaxAzs:                r.int("maxAzs"),
		NatGateways:           r.int("natGateways"),
		ContainerPort:         r.int("containerPort"),
		HealthCheckPath:       r.str("healthCheckPath"),
		Cpu:                   r.int("cpu"),
		MemoryMiB:             r.int("memoryMiB"),
		CpuArchitecture:       Architecture(r.str("cpuArchitecture")),
		Environment:           r.environment("environment"),
		MinTasks:              r.int("minTasks"),
		MaxTasks:              r.int("maxTasks"),
		OnDemandBaseTasks:     r.int("onDemandBaseTasks"),
		CpuTargetPercent:      r.int("cpuTargetPercent"),
		ScaleInCooldown:       time.Duration(r.int("scaleInCooldownSeconds")) * time.Second,
		ScaleOutCooldown:      time.Duration(r.int("scaleOutCooldownSeconds")) * time.Second,
		RequestsPerTarget:     r.int("requestsPerTarget"),
		DeploymentStrategy:    r.str("deploymentStrategy"),
		CanaryPercent:         r.int("canaryPercent"),
		LinearStepPercent:     r.int("linearStepPercent"),
		StepBakeMinutes:       r.int("stepBakeMinutes"),
		BakeMinutes:           r.int("bakeMinutes"),
		SpotFallback:          r.bool("spotFallback"),
		SpotFallbackQuiet:     time.Duration(r.int("spotFallbackQuietMinutes")) * time.Minute,
		LogRetentionDays:      r.int("logRetentionDays"),
		CorsAllowedOrigins:    r.str("corsAllowedOrigins"),
		CorsAllowCredentials:  r.bool("corsAllowCredentials"),
		DomainName:            r.str("domainName"),
		HostedZoneId:          strings.TrimPrefix(r.str("hostedZoneId"), "/hostedzone/"),
		HostedZoneName:        r.str("hostedZoneName"),
		CertificateArn:        r.str("certificateArn"),
		AlarmEmail:            r.str("alarmEmail"),
		AlarmErrorRatePercent: r.int("alarmErrorRatePercent"),
		AlarmLatencyP99:       time.Duration(r.int("alarmLatencyP99Ms")) * time.Millisecond,
		AlarmCpuPercent:       r.int("alarmCpuPercent"),
		AlarmMemoryPercent:    r.int("alarmMemoryPercent"),
		Probe: Probe{
			Path:   r.str("probePath"),
			Status: r.int("probeStatus"),
			Body:   r.str("probeBody"),
		},
	}
	// The CLI always sets CDK_DEFAULT_REGION (us-east-1 when nothing is
	// configured) but CDK_DEFAULT_ACCOUNT only with credentials, so the
	// account alone decides whether the stacks are bound to an environment.
	if c.Account == "" {
		c.Account = getenv("CDK_DEFAULT_ACCOUNT")
	}
	if c.Account != "" && c.Region == "" {
		c.Region = getenv("CDK_DEFAULT_REGION")
	}
	if c.Probe.Path == "" {
		c.Probe.Path = c.HealthCheckPath
	}
	// Secrets last: which parameters CDK accepts depends on the region.
	c.Secrets = r.secrets("secrets", c.Region)
	if r.err == nil {
		r.rejectUnknown()
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if err := c.validate(given); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Key = prefix + ce.Key
		}
		return Config{}, err
	}
	return c, nil
}

// contextReader reads typed values from CDK context, remembers which keys it
// read and keeps the first error. Values from cdk.json arrive as JSON types;
// values from `cdk synth -c key=value` always arrive as strings.
type contextReader struct {
	ctx  map[string]any
	read map[string]bool
	err  error
	// prefix starts the keys that errors name (see readConfig).
	prefix string
}

func (r *contextReader) fail(key string, v any, allowed string) {
	if r.err == nil {
		r.err = &ConfigError{Key: r.prefix + key, Value: v, Allowed: allowed}
	}
}

func (r *contextReader) raw(key string) (any, bool) {
	r.read[key] = true
	v := r.ctx[key]
	if v == nil {
		r.fail(key, "", "the key is missing: add it to the context section of cdk.json (see "+configDoc+")")
		return nil, false
	}
	return v, true
}

func (r *contextReader) str(key string) string {
	v, ok := r.raw(key)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(key, v, "want a string")
	}
	return strings.TrimSpace(s)
}

func (r *contextReader) bool(key string) bool {
	v, ok := r.raw(key)
	if !ok {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	r.fail(key, v, "want true or false")
	return false
}

func (r *contextReader) int(key string) int {
	v, ok := r.raw(key)
	if !ok {
		return 0
	}
	switch v := v.(type) {
	case int:
		return v
	case float64:
		if v == float64(int(v)) {
			return int(v)
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n
		}
	}
	r.fail(key, v, "want a whole number")
	return 0
}

// object reads a JSON object: as JSON from cdk.json, or as a JSON string
// from -c key='{"NAME":"value"}'.
func (r *contextReader) object(key, example string) map[string]any {
	v, ok := r.raw(key)
	if !ok {
		return nil
	}
	if s, isString := v.(string); isString {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			v = nil
		}
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		r.fail(key, compact(r.ctx[key]), "want a JSON object such as "+example)
	}
	return m
}

// environment reads the app's plain variables.
func (r *contextReader) environment(key string) map[string]string {
	out := map[string]string{}
	for name, v := range r.object(key, `{"LOG_LEVEL":"debug"}`) {
		s, ok := v.(string)
		if !ok {
			r.fail(key, name, "want a string value (quote numbers and booleans)")
		}
		out[name] = s
	}
	return out
}

// secrets reads the app's secret variables: each value is where the secret
// lives, or {"from": where, "kmsKeyArn": key}. region is the stacks' region,
// empty when they are environment-agnostic.
func (r *contextReader) secrets(key, region string) map[string]Secret {
	out := map[string]Secret{}
	for name, v := range r.object(key, `{"DB_PASSWORD":"arn:aws:secretsmanager:…:secret:db-AbCdEf"}`) {
		var from, kmsKey string
		switch v := v.(type) {
		case string:
			from = v
		case map[string]any:
			var o struct {
				From      string `json:"from"`
				KmsKeyArn string `json:"kmsKeyArn"`
			}
			b, _ := json.Marshal(v)
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if dec.Decode(&o) != nil || o.From == "" {
				r.fail(key, name, `want {"from": "<secret ARN or parameter>", "kmsKeyArn": "<key ARN>"} (kmsKeyArn optional)`)
				continue
			}
			from, kmsKey = o.From, o.KmsKeyArn
		default:
			r.fail(key, name, "want a secret ARN or parameter name, or an object with from and kmsKeyArn")
			continue
		}
		s, err := parseSecret(r.prefix+key, name, strings.TrimSpace(from), strings.TrimSpace(kmsKey), region)
		if err != nil && r.err == nil {
			r.err = err
		}
		out[name] = s
	}
	return out
}

var (
	secretArnPattern    = regexp.MustCompile(`^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6})(?::([^:]+))?$`)
	parameterArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:ssm:([a-z0-9-]+):[0-9]{12}:parameter/[A-Za-z0-9_.\-/]+$`)
	parameterPattern    = regexp.MustCompile(`^(/[A-Za-z0-9_.\-]+)+$`)
)

// parseSecret is every check of one secret: it tells a Secrets Manager
// secret from an SSM parameter and refuses, with one line, each form that
// CDK would otherwise refuse with a stack trace at synth (aws-ssm's
// arnForParameterName and fromStringParameterArn) or AWS at deploy. A
// parameter is named by its path (/...) or its ARN: a bare word is more
// likely the secret's value itself, pasted where its name belongs, which
// would land in the template and the IAM policy, so its error does not
// repeat it. key and name only label the error.
func parseSecret(key, name, from, kmsKey, region string) (Secret, error) {
	bad := func(value, allowed string) (Secret, error) {
		return Secret{}, &ConfigError{Key: key, Value: value, Allowed: allowed}
	}
	var s Secret
	if m := secretArnPattern.FindStringSubmatch(from); m != nil {
		s = Secret{SecretArn: m[1], JSONKey: m[2]}
	} else if m := parameterArnPattern.FindStringSubmatch(from); m != nil {
		if region != "" && m[1] != region {
			return bad(name+"="+from, "want a parameter in the stacks' region ("+region+"): CDK reads SSM parameters by ARN from the same region only")
		}
		s = Secret{ParameterArn: from}
	} else {
		switch {
		case bareWord(from):
			return bad(name, "want where the secret lives, not its value: an SSM parameter path such as /prod/db-password, or a Secrets Manager secret or SSM parameter ARN")
		case strings.Contains(from, ":secretsmanager:"):
			return bad(name+"="+from, "want a complete Secrets Manager secret ARN, ending in the hyphen and 6 characters AWS adds to the name, optionally followed by :json-key")
		case strings.HasPrefix(from, "arn:") || len(from) > 2048 || !parameterPattern.MatchString(from):
			return bad(name+"="+from, "want a Secrets Manager secret ARN (optionally :json-key), or an SSM parameter path or ARN")
		}
		s = Secret{ParameterName: from}
	}
	if kmsKey != "" && !kmsKeyArnPattern.MatchString(kmsKey) {
		return bad(name+".kmsKeyArn="+kmsKey, "want a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/<key id> (not an alias)")
	}
	s.KmsKeyArn = kmsKey
	return s, nil
}

// bareWord reports whether a secret's from is neither an ARN nor a path.
func bareWord(from string) bool {
	return !strings.HasPrefix(from, "arn:") && !strings.HasPrefix(from, "/")
}

// compact renders a context value for an error message.
func compact(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// userKey matches the context keys that are this app's settings, or a
// misspelling of one (MemoryMiB, memory_mib). CDK's own keys (feature flags
// such as @aws-cdk/..., aws:cdk:..., lookup caches such as
// availability-zones:..., acknowledged-issue-numbers) never match it: they
// all hold a colon, a slash or a hyphen.
var userKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// rejectUnknown fails on a user key that LoadConfig did not read: a typo
// such as -c minTask=3 would otherwise be ignored without a word.
func (r *contextReader) rejectUnknown() {
	for _, key := range slices.Sorted(maps.Keys(r.ctx)) {
		if r.read[key] || !userKey.MatchString(key) {
			continue
		}
		r.fail(key, compact(r.ctx[key]), "unknown key; "+unknownKeyHint(key, slices.Collect(maps.Keys(r.read))))
		return
	}
}

// env binds the stacks to an account and region when one is known, and
// leaves them environment-agnostic otherwise, so that synth needs no
// credentials.
func (c Config) env() *awscdk.Environment {
	if c.Account == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(c.Account), Region: jsii.String(c.Region)}
}
