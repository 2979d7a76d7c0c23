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

	// Probe is what the deployed app must answer besides its health check:
	// make smoke, make integ and the e2e tests send it (not the stacks).
	Probe Probe

	// Service is the name of the service this Config is for, from the
	// services key; empty for the app's own service.
	Service string
	// Services are the app's other services (the app's own Config only),
	// sorted by name.
	Services []Service
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
// change; the README's Configuration table lists them all.
var Defaults = map[string]any{
	"appName":                  "fargo",
	"account":                  "",
	"region":                   "",
	"vpcId":                    "",
	"maxAzs":                   3,
	"natGateways":              0,
	"containerPort":            5000,
	"healthCheckPath":          "/healthcheck",
	"cpu":                      256,
	"memoryMiB":                512,
	"cpuArchitecture":          "arm64",
	"environment":              map[string]any{},
	"secrets":                  map[string]any{},
	"minTasks":                 2,
	"maxTasks":                 3,
	"cpuTargetPercent":         70,
	"scaleInCooldownSeconds":   300,
	"scaleOutCooldownSeconds":  60,
	"requestsPerTarget":        0,
	"deploymentStrategy":       "canary",
	"canaryPercent":            5,
	"linearStepPercent":        20,
	"stepBakeMinutes":          6,
	"bakeMinutes":              5,
	"onDemandBaseTasks":        1,
	"spotFallback":             true,
	"spotFallbackQuietMinutes": 30,
	"logRetentionDays":         30,
	"corsAllowedOrigins":       "*",
	"corsAllowCredentials":     false,
	"domainName":               "",
	"hostedZoneId":             "",
	"hostedZoneName":           "",
	"certificateArn":           "",
	"alarmEmail":               "",
	"alarmErrorRatePercent":    5,
	"alarmLatencyP99Ms":        1000,
	"alarmCpuPercent":          90,
	"alarmMemoryPercent":       90,
	// The hello-world page of service/: an app of the user's own sets its own.
	"probePath":   "/",
	"probeStatus": 200,
	"probeBody":   "HELLO WORLD",
	// The app's other services behind the same load balancer, each with its
	// code, routing and settings (docs/services.md).
	"services": map[string]any{},
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
// (README, Cost).
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

// loadConfig reads Config from ctx (the app's context) over Defaults.
func loadConfig(ctx map[string]any, getenv func(string) string) (Config, error) {
	merged := maps.Clone(Defaults)
	for key, v := range ctx {
		if v != nil {
			merged[key] = v
		}
	}
	c, err := readConfig(merged, getenv, "")
	if err != nil {
		return Config{}, err
	}
	if c.Services, err = readServices(merged, c, getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readConfig reads and validates one service's Config from merged, the
// context over Defaults. prefix starts every key an error names:
// "services.<name>." for another service, empty for the app's own.
func readConfig(merged map[string]any, getenv func(string) string, prefix string) (Config, error) {
	r := contextReader{ctx: merged, read: map[string]bool{"services": true}, prefix: prefix}
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
	// Secrets last: which parameters CDK accepts depends on the region.
	c.Secrets = r.secrets("secrets", c.Region)
	if r.err == nil {
		r.rejectUnknown()
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if err := c.validate(); err != nil {
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
		r.fail(key, "", "the key is missing: add it to the context section of cdk.json (see README, Configuration)")
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

// userKey matches the context keys that are this app's settings. CDK's own
// keys (feature flags such as @aws-cdk/..., aws:cdk:..., lookup caches such
// as availability-zones:...) never match it.
var userKey = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

// rejectUnknown fails on a user key that LoadConfig did not read: a typo
// such as -c minTask=3 would otherwise be ignored without a word.
func (r *contextReader) rejectUnknown() {
	for _, key := range slices.Sorted(maps.Keys(r.ctx)) {
		if r.read[key] || !userKey.MatchString(key) {
			continue
		}
		hint := "see README, Configuration, for the keys"
		if near := nearest(key, slices.Collect(maps.Keys(r.read))); near != "" {
			hint = "did you mean " + near + "? (see README, Configuration)"
		}
		r.fail(key, compact(r.ctx[key]), "unknown key; "+hint)
		return
	}
}

// nearest returns the known key closest to key, if it is close enough to
// be a typo: the same letters in another case, or at most two edits away.
func nearest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range slices.Sorted(slices.Values(known)) {
		if strings.EqualFold(k, key) {
			return k
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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
