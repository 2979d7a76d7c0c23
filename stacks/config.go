package stacks

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// The timings below are chosen together: the service (service/config.go)
// defaults to the same drain and shutdown values, and the stacks pass them to
// the container explicitly so the two cannot drift apart.
//
//   - The target group checks GET /healthcheck every HealthCheckInterval and
//     needs HealthyThreshold passes before a new task takes traffic:
//     3 x 5 s = 15 s (the original needed 5 x 60 s = 5 minutes).
//   - On SIGTERM the service answers 503 on /healthcheck at once; the ALB
//     stops routing to it after UnhealthyThreshold failures: 2 x 5 s = 10 s.
//     DrainDelay = 10 s + 5 s margin = 15 s, during which it still serves
//     everything else. On a scale-in or deploy ECS has already deregistered
//     the task; on a Spot interruption SIGTERM can arrive while the task is
//     still registered and taking requests, which is why the drain matters.
//   - Then http.Server.Shutdown waits up to ShutdownTimeout = 10 s for
//     requests in flight, which the service's 10 s WriteTimeout bounds.
//   - StopTimeout = DrainDelay + ShutdownTimeout + 5 s = 30 s before ECS
//     sends SIGKILL: well inside the 120 s Spot interruption warning.
//   - DeregistrationDelay = 15 s: the ALB lets requests already sent to a
//     deregistering task finish for longer than WriteTimeout allows any of
//     them to run, and the whole stop still ends far inside 120 s.
//   - HealthCheckGracePeriod = 30 s, twice the 15 s a task needs to turn
//     healthy, so ECS does not kill tasks that are still registering.
const (
	ContainerPort          = 5000
	HealthCheckPath        = "/healthcheck"
	HealthCheckInterval    = 5 * time.Second
	HealthCheckTimeout     = 2 * time.Second
	HealthyThreshold       = 3
	UnhealthyThreshold     = 2
	DrainDelay             = 15 * time.Second
	ShutdownTimeout        = 10 * time.Second
	StopTimeout            = DrainDelay + ShutdownTimeout + 5*time.Second
	DeregistrationDelay    = 15 * time.Second
	HealthCheckGracePeriod = 30 * time.Second
)

// Config is everything a user can change without editing Go. It is read from
// CDK context: the defaults live in cdk.json and `cdk synth -c key=value`
// overrides them.
type Config struct {
	AppName string
	// Account and Region bind the stacks to one environment. Both empty
	// (and no CDK_DEFAULT_ACCOUNT) keeps them environment-agnostic.
	Account string
	Region  string

	MaxAzs      int
	NatGateways int

	Cpu       int
	MemoryMiB int

	MinTasks          int
	MaxTasks          int
	OnDemandBaseTasks int
	CpuTargetPercent  int
	ScaleInCooldown   time.Duration
	ScaleOutCooldown  time.Duration
	// RequestsPerTarget adds ALB request-count tracking when above zero.
	RequestsPerTarget int

	LogRetentionDays   int
	CorsAllowedOrigins string
	// CorsAllowCredentials lets browsers send cookies cross-origin; only
	// with an explicit origin list.
	CorsAllowCredentials bool

	// DomainName, HostedZoneId and HostedZoneName turn on HTTPS together.
	DomainName     string
	HostedZoneId   string
	HostedZoneName string

	// AlarmEmail, when set, receives every alarm through an SNS topic.
	AlarmEmail            string
	AlarmErrorRatePercent int
	AlarmLatencyP99       time.Duration
	AlarmCpuPercent       int
	AlarmMemoryPercent    int
}

// HasDomain reports whether the custom-domain keys are set.
func (c Config) HasDomain() bool { return c.DomainName != "" }

// TasksInPublicSubnets reports whether tasks run in public subnets with a
// public IP, which is the case without NAT gateways: they still accept
// traffic only from the load balancer's security group.
func (c Config) TasksInPublicSubnets() bool { return c.NatGateways == 0 }

// fargateMemory lists, for each Fargate CPU value, the memory sizes (MiB) it
// accepts.
var fargateMemory = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, step int) []int {
	var s []int
	for v := from; v <= to; v += step {
		s = append(s, v)
	}
	return s
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

var (
	appNamePattern      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,29}$`)
	accountPattern      = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	hostedZoneIdPattern = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	emailPattern        = regexp.MustCompile(`^[^@\s]+@([a-z0-9-]+\.)+[a-z]{2,63}$`)
	domainPattern       = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

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
	return loadConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }, getenv)
}

func loadConfig(get func(key string) any, getenv func(string) string) (Config, error) {
	r := contextReader{get: get}
	c := Config{
		AppName:               r.str("appName"),
		Account:               r.str("account"),
		Region:                r.str("region"),
		MaxAzs:                r.int("maxAzs"),
		NatGateways:           r.int("natGateways"),
		Cpu:                   r.int("cpu"),
		MemoryMiB:             r.int("memoryMiB"),
		MinTasks:              r.int("minTasks"),
		MaxTasks:              r.int("maxTasks"),
		OnDemandBaseTasks:     r.int("onDemandBaseTasks"),
		CpuTargetPercent:      r.int("cpuTargetPercent"),
		ScaleInCooldown:       time.Duration(r.int("scaleInCooldownSeconds")) * time.Second,
		ScaleOutCooldown:      time.Duration(r.int("scaleOutCooldownSeconds")) * time.Second,
		RequestsPerTarget:     r.int("requestsPerTarget"),
		LogRetentionDays:      r.int("logRetentionDays"),
		CorsAllowedOrigins:    r.str("corsAllowedOrigins"),
		CorsAllowCredentials:  r.bool("corsAllowCredentials"),
		DomainName:            r.str("domainName"),
		HostedZoneId:          r.str("hostedZoneId"),
		HostedZoneName:        r.str("hostedZoneName"),
		AlarmEmail:            r.str("alarmEmail"),
		AlarmErrorRatePercent: r.int("alarmErrorRatePercent"),
		AlarmLatencyP99:       time.Duration(r.int("alarmLatencyP99Ms")) * time.Millisecond,
		AlarmCpuPercent:       r.int("alarmCpuPercent"),
		AlarmMemoryPercent:    r.int("alarmMemoryPercent"),
	}
	if r.err != nil {
		return Config{}, r.err
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
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c Config) validate() error {
	bad := func(key string, value any, allowed string) error {
		return &ConfigError{Key: key, Value: value, Allowed: allowed}
	}
	switch {
	case !appNamePattern.MatchString(c.AppName):
		return bad("appName", c.AppName, "want a letter followed by up to 29 letters, digits or hyphens")
	case c.Account != "" && !accountPattern.MatchString(c.Account):
		return bad("account", c.Account, "want a 12-digit AWS account id, or empty")
	case c.Region != "" && !regionPattern.MatchString(c.Region):
		return bad("region", c.Region, "want an AWS region such as eu-west-1, or empty")
	case c.Region != "" && c.Account == "":
		return bad("region", c.Region, "set together with account (or CDK_DEFAULT_ACCOUNT), or leave empty")
	case c.MaxAzs < 2 || c.MaxAzs > 6:
		return bad("maxAzs", c.MaxAzs, "want 2 to 6 (an ALB needs two Availability Zones)")
	case c.NatGateways < 0 || c.NatGateways > c.MaxAzs:
		return bad("natGateways", c.NatGateways, fmt.Sprintf("want 0 (tasks in public subnets) to maxAzs (%d)", c.MaxAzs))
	case fargateMemory[c.Cpu] == nil:
		return bad("cpu", c.Cpu, "want a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384")
	case !slices.Contains(fargateMemory[c.Cpu], c.MemoryMiB):
		return bad("memoryMiB", c.MemoryMiB, fmt.Sprintf("want a Fargate memory size for cpu %d: %s", c.Cpu, describeMemory(fargateMemory[c.Cpu])))
	case c.MinTasks < 1 || c.MinTasks > 100:
		return bad("minTasks", c.MinTasks, "want 1 to 100")
	case c.MaxTasks < c.MinTasks || c.MaxTasks > 100:
		return bad("maxTasks", c.MaxTasks, fmt.Sprintf("want minTasks (%d) to 100", c.MinTasks))
	case c.OnDemandBaseTasks < 0 || c.OnDemandBaseTasks > c.MaxTasks:
		return bad("onDemandBaseTasks", c.OnDemandBaseTasks, fmt.Sprintf("want 0 (all Spot) to maxTasks (%d)", c.MaxTasks))
	case c.CpuTargetPercent < 10 || c.CpuTargetPercent > 90:
		return bad("cpuTargetPercent", c.CpuTargetPercent, "want 10 to 90")
	case c.ScaleInCooldown < 0 || c.ScaleInCooldown > time.Hour:
		return bad("scaleInCooldownSeconds", int(c.ScaleInCooldown.Seconds()), "want 0 to 3600")
	case c.ScaleOutCooldown < 0 || c.ScaleOutCooldown > time.Hour:
		return bad("scaleOutCooldownSeconds", int(c.ScaleOutCooldown.Seconds()), "want 0 to 3600")
	case c.RequestsPerTarget < 0:
		return bad("requestsPerTarget", c.RequestsPerTarget, "want 0 (off) or a positive number of requests per task per minute")
	case retentionDays[c.LogRetentionDays] == "":
		return bad("logRetentionDays", c.LogRetentionDays, "want one of "+strings.Trim(fmt.Sprint(slices.Sorted(maps.Keys(retentionDays))), "[]"))
	}
	if err := validateOrigins(c.CorsAllowedOrigins); err != "" {
		return bad("corsAllowedOrigins", c.CorsAllowedOrigins, err)
	}
	if c.CorsAllowCredentials && c.CorsAllowedOrigins == "*" {
		// Any site could then make credentialed reads, the original's flaw.
		return bad("corsAllowCredentials", c.CorsAllowCredentials, `want false while corsAllowedOrigins is "*"; list the allowed origins to use credentials`)
	}
	switch {
	case c.AlarmEmail != "" && !emailPattern.MatchString(c.AlarmEmail):
		return bad("alarmEmail", c.AlarmEmail, "want an e-mail address such as ops@example.com, or empty for alarms without an action")
	case c.AlarmErrorRatePercent < 1 || c.AlarmErrorRatePercent > 100:
		return bad("alarmErrorRatePercent", c.AlarmErrorRatePercent, "want 1 to 100")
	case c.AlarmLatencyP99 < 10*time.Millisecond || c.AlarmLatencyP99 > time.Minute:
		return bad("alarmLatencyP99Ms", c.AlarmLatencyP99.Milliseconds(), "want 10 to 60000")
	case c.AlarmCpuPercent < 1 || c.AlarmCpuPercent > 100:
		return bad("alarmCpuPercent", c.AlarmCpuPercent, "want 1 to 100")
	case c.AlarmMemoryPercent < 1 || c.AlarmMemoryPercent > 100:
		return bad("alarmMemoryPercent", c.AlarmMemoryPercent, "want 1 to 100")
	}
	return c.validateDomain()
}

func describeMemory(m []int) string {
	if len(m) <= 3 {
		return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(m)), ", "), "[]")
	}
	return fmt.Sprintf("%d to %d in steps of %d", m[0], m[len(m)-1], m[1]-m[0])
}

// validateOrigins mirrors the service's own check so that a bad origin stops
// synth instead of a task at start-up.
func validateOrigins(s string) string {
	const allowed = `want "*" or a comma-separated list of origins such as https://app.example.com`
	if s == "*" {
		return ""
	}
	for o := range strings.SplitSeq(s, ",") {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return allowed
		}
	}
	return ""
}

func (c Config) validateDomain() error {
	set := 0
	for _, v := range []string{c.DomainName, c.HostedZoneId, c.HostedZoneName} {
		if v != "" {
			set++
		}
	}
	const together = "set domainName, hostedZoneId and hostedZoneName together, or none of them"
	switch {
	case set == 0:
		return nil
	case c.DomainName == "" || !domainPattern.MatchString(c.DomainName):
		return &ConfigError{Key: "domainName", Value: c.DomainName, Allowed: "want a lower-case DNS name such as app.example.com; " + together}
	case c.HostedZoneName == "" || !domainPattern.MatchString(strings.TrimSuffix(c.HostedZoneName, ".")):
		return &ConfigError{Key: "hostedZoneName", Value: c.HostedZoneName, Allowed: "want the hosted zone's DNS name such as example.com; " + together}
	case !hostedZoneIdPattern.MatchString(c.HostedZoneId):
		return &ConfigError{Key: "hostedZoneId", Value: c.HostedZoneId, Allowed: "want a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ; " + together}
	}
	zone := strings.TrimSuffix(c.HostedZoneName, ".")
	if c.DomainName != zone && !strings.HasSuffix(c.DomainName, "."+zone) {
		return &ConfigError{Key: "domainName", Value: c.DomainName, Allowed: fmt.Sprintf("want a name inside hostedZoneName %q", zone)}
	}
	return nil
}

// contextReader reads typed values from CDK context and keeps the first
// error. Values from cdk.json arrive as JSON types; values from
// `cdk synth -c key=value` always arrive as strings.
type contextReader struct {
	get func(key string) any
	err error
}

func (r *contextReader) fail(key string, v any, allowed string) {
	if r.err == nil {
		r.err = &ConfigError{Key: key, Value: v, Allowed: allowed}
	}
}

func (r *contextReader) raw(key string) (any, bool) {
	v := r.get(key)
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
