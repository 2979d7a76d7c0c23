package stacks

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-cdk/fargo/origin"
	"github.com/fargo-cdk/fargo/serve"
)

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

var (
	appNamePattern        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,29}$`)
	accountPattern        = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern         = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	vpcIdPattern          = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)
	hostedZoneIdPattern   = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	emailPattern          = regexp.MustCompile(`^[^@\s]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,63}$`)
	domainPattern         = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	certificateArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]{36}$`)
	kmsKeyArnPattern      = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-)?[0-9a-f-]{32,36}$`)
	envNamePattern        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	probePathPattern      = regexp.MustCompile(`^/[\x21-\x7e]*$`)
	// secretLooking matches variable names that hold secrets by their
	// name; the task definition's plain environment is visible to anyone
	// who may describe it, so such values belong in secrets.
	secretLooking = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|CREDENTIAL)`)
)

// validate checks every key, and every pair of keys that must agree.
// given reports whether the user set a key (in cdk.json or with -c): a
// check that involves a key left at its default names the key the user
// did set, and says that the other one's value is its default.
func (c Config) validate(given func(key string) bool) error {
	bad := func(key string, value any, allowed string) error {
		return &ConfigError{Key: key, Value: value, Allowed: allowed}
	}
	// other renders another key's value in a message: "maxTasks (3)", or
	// "maxTasks (3 by default)" when the user did not set it.
	other := func(key string, value any) string {
		if given(key) {
			return fmt.Sprintf("%s (%v)", key, value)
		}
		return fmt.Sprintf("%s (%v by default)", key, value)
	}
	switch {
	case !appNamePattern.MatchString(c.AppName):
		return bad("appName", c.AppName, "want a letter followed by up to 29 letters, digits or hyphens")
	case c.Account != "" && !accountPattern.MatchString(c.Account):
		return bad("account", c.Account, "want a 12-digit AWS account id, or empty")
	case c.Region != "" && !regionPattern.MatchString(c.Region):
		return bad("region", c.Region, "want an AWS region such as eu-west-1, or empty")
	case c.Region != "" && c.Account == "":
		return bad("region", c.Region, "set together with account, which is empty by default (or CDK_DEFAULT_ACCOUNT, which the CLI sets when it has credentials), or leave empty")
	case c.VpcId != "" && !vpcIdPattern.MatchString(c.VpcId):
		return bad("vpcId", c.VpcId, "want an existing VPC's id such as vpc-0123456789abcdef0, or empty for the Network stack's own VPC")
	case c.VpcId != "" && c.Account == "":
		return bad("vpcId", c.VpcId, "looking the VPC up needs an account and region: run with AWS credentials, or set account and region")
	case c.MaxAzs < 2 || c.MaxAzs > 6:
		return bad("maxAzs", c.MaxAzs, "want 2 to 6 (an ALB needs two Availability Zones)")
	case c.NatGateways < 0 || c.NatGateways > c.MaxAzs:
		return bad("natGateways", c.NatGateways, "want 0 (tasks in public subnets) to "+other("maxAzs", c.MaxAzs))
	case c.ContainerPort < 1024 || c.ContainerPort > 65535:
		return bad("containerPort", c.ContainerPort, "want 1024 to 65535 (the container runs as a non-root user, which cannot listen below 1024)")
	case fargateMemory[c.Cpu] == nil:
		return bad("cpu", c.Cpu, "want a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384")
	case !slices.Contains(fargateMemory[c.Cpu], c.MemoryMiB) && given("cpu") && !given("memoryMiB"):
		return bad("cpu", c.Cpu, fmt.Sprintf("memoryMiB is %d by default, and cpu %d takes %s: set memoryMiB too", c.MemoryMiB, c.Cpu, describeMemory(fargateMemory[c.Cpu])))
	case !slices.Contains(fargateMemory[c.Cpu], c.MemoryMiB):
		return bad("memoryMiB", c.MemoryMiB, fmt.Sprintf("want a Fargate memory size for cpu %d%s: %s%s", c.Cpu, byDefault(given("cpu")), describeMemory(fargateMemory[c.Cpu]), cpusFor(c.MemoryMiB, given("cpu"))))
	case c.CpuArchitecture != ARM64 && c.CpuArchitecture != X86_64:
		return bad("cpuArchitecture", c.CpuArchitecture, "want arm64 (Graviton) or x86_64")
	case c.MinTasks < 1 || c.MinTasks > 100:
		return bad("minTasks", c.MinTasks, "want 1 to 100")
	case c.MaxTasks < c.MinTasks && given("minTasks") && !given("maxTasks"):
		return bad("minTasks", c.MinTasks, fmt.Sprintf("maxTasks is %d by default: set maxTasks to %d or more too", c.MaxTasks, c.MinTasks))
	case c.MaxTasks < c.MinTasks || c.MaxTasks > 100:
		return bad("maxTasks", c.MaxTasks, "want "+other("minTasks", c.MinTasks)+" to 100")
	case c.OnDemandBaseTasks > c.MaxTasks && !given("maxTasks"):
		return bad("onDemandBaseTasks", c.OnDemandBaseTasks, fmt.Sprintf("want 0 (all Spot) to maxTasks, which is %d by default: set maxTasks to %d or more too", c.MaxTasks, c.OnDemandBaseTasks))
	case c.OnDemandBaseTasks < 0 || c.OnDemandBaseTasks > c.MaxTasks:
		return bad("onDemandBaseTasks", c.OnDemandBaseTasks, "want 0 (all Spot) to "+other("maxTasks", c.MaxTasks))
	case c.CpuTargetPercent < 10 || c.CpuTargetPercent > 90:
		return bad("cpuTargetPercent", c.CpuTargetPercent, "want 10 to 90")
	case c.ScaleInCooldown < 0 || c.ScaleInCooldown > time.Hour:
		return bad("scaleInCooldownSeconds", int(c.ScaleInCooldown.Seconds()), "want 0 to 3600")
	case c.ScaleOutCooldown < 0 || c.ScaleOutCooldown > time.Hour:
		return bad("scaleOutCooldownSeconds", int(c.ScaleOutCooldown.Seconds()), "want 0 to 3600")
	case c.RequestsPerTarget < 0:
		return bad("requestsPerTarget", c.RequestsPerTarget, "want 0 (off) or a positive number of requests per task per minute")
	case strategies[c.DeploymentStrategy] == "":
		return bad("deploymentStrategy", c.DeploymentStrategy, "want canary, linear, blueGreen or rolling")
	case c.CanaryPercent < 1 || c.CanaryPercent > 50:
		return bad("canaryPercent", c.CanaryPercent, "want 1 to 50 (percent of production traffic on the new tasks during the canary bake)")
	case c.LinearStepPercent < 3 || c.LinearStepPercent > 50:
		return bad("linearStepPercent", c.LinearStepPercent, "want 3 to 50 (ECS's minimum step is 3 percent; a single step of 100 is blueGreen)")
	case c.StepBakeMinutes < deploymentAlarmWindow || c.StepBakeMinutes > 1440:
		return bad("stepBakeMinutes", c.StepBakeMinutes, fmt.Sprintf("want %d to 1440: a shorter bake ends before the deployment alarms can judge the new tasks", deploymentAlarmWindow))
	case c.BakeMinutes < 0 || c.BakeMinutes > 1440:
		return bad("bakeMinutes", c.BakeMinutes, "want 0 to 1440")
	case c.RequestsPerTarget > 0 && c.Native():
		return bad("requestsPerTarget", c.RequestsPerTarget, "request-count scaling follows one target group, and "+strategyOf(c.DeploymentStrategy, given("deploymentStrategy"))+" moves the traffic between two on every release: use 0 (CPU scaling only), or deploymentStrategy=rolling")
	case c.SpotFallbackQuiet < spotFallbackMinQuiet || c.SpotFallbackQuiet > spotFallbackMaxQuiet:
		return bad("spotFallbackQuietMinutes", int(c.SpotFallbackQuiet.Minutes()), fmt.Sprintf("want %d to %d (minutes on on-demand after a first fallback; repeats wait up to %d times longer)",
			int(spotFallbackMinQuiet.Minutes()), int(spotFallbackMaxQuiet.Minutes()), spotFallbackMaxQuietFactor))
	case retentionDays[c.LogRetentionDays] == "":
		return bad("logRetentionDays", c.LogRetentionDays, "want one of "+strings.Trim(fmt.Sprint(slices.Sorted(maps.Keys(retentionDays))), "[]"))
	}
	// The service checks its HEALTH_CHECK_PATH and CORS_ALLOWED_ORIGINS with
	// the same code, so synth refuses exactly what a task would.
	if err := serve.CheckHealthPath(c.HealthCheckPath); err != nil {
		return bad("healthCheckPath", c.HealthCheckPath, err.Error())
	}
	if _, err := origin.ParseList(c.CorsAllowedOrigins); err != nil {
		return bad("corsAllowedOrigins", c.CorsAllowedOrigins, err.Error()+"; want "+origin.Want)
	}
	if c.CorsAllowCredentials && c.CorsAllowedOrigins == origin.Any {
		// Any site could then make credentialed reads, the original's flaw.
		is := `is "*"`
		if !given("corsAllowedOrigins") {
			is = `is "*" by default`
		}
		return bad("corsAllowCredentials", c.CorsAllowCredentials, "want false while corsAllowedOrigins "+is+"; list the allowed origins in corsAllowedOrigins to use credentials")
	}
	if err := c.validateVariables(); err != nil {
		return err
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
	case !probePathPattern.MatchString(c.Probe.Path):
		return bad("probePath", c.Probe.Path, "want an absolute path such as / or /hello?name=you, without spaces")
	case c.Probe.Status < 100 || c.Probe.Status > 599:
		return bad("probeStatus", c.Probe.Status, "want an HTTP status code, 100 to 599")
	}
	return c.validateDomain()
}

// cpusFor names the cpu values that take memoryMiB mem, when the user did
// not set cpu (else the message is about their pair).
func cpusFor(mem int, cpuGiven bool) string {
	if cpuGiven {
		return ""
	}
	var cpus []string
	for _, cpu := range slices.Sorted(maps.Keys(fargateMemory)) {
		if slices.Contains(fargateMemory[cpu], mem) {
			cpus = append(cpus, strconv.Itoa(cpu))
		}
	}
	if len(cpus) == 0 {
		return ""
	}
	return fmt.Sprintf("; or set cpu to %s, which take %d", orList(cpus), mem)
}

// byDefault is what a message adds after a value the user did not set.
func byDefault(given bool) string {
	if given {
		return ""
	}
	return " (the default)"
}

// strategyOf names the deployment strategy in a message.
func strategyOf(strategy string, given bool) string {
	return "deploymentStrategy=" + strategy + byDefault(given)
}

func describeMemory(m []int) string {
	if len(m) <= 3 {
		return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(m)), ", "), "[]")
	}
	return fmt.Sprintf("%d to %d in steps of %d", m[0], m[len(m)-1], m[1]-m[0])
}

// validateVariables checks the app's environment and secrets: names a shell
// and ECS accept, none that the stacks set themselves, none in both maps,
// and no secret-looking name in the plain environment (where each secret
// lives, parseSecret checks).
func (c Config) validateVariables() error {
	stackSet := c.stackEnvironment()
	check := func(key, name string) error {
		_, setByStacks := stackSet[name]
		switch {
		case !envNamePattern.MatchString(name):
			return &ConfigError{Key: key, Value: name, Allowed: "want a variable name of letters, digits and underscores, not starting with a digit"}
		case setByStacks:
			return &ConfigError{Key: key, Value: name, Allowed: "the stacks set this variable themselves (" + strings.Join(slices.Sorted(maps.Keys(stackSet)), ", ") + "); use the matching context key or another name"}
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(c.Environment)) {
		if err := check("environment", name); err != nil {
			return err
		}
		if secretLooking.MatchString(name) {
			return &ConfigError{Key: "environment", Value: name, Allowed: "this looks like a secret, and plain variables are readable by anyone who may describe the task definition: move it to secrets"}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Secrets)) {
		if err := check("secrets", name); err != nil {
			return err
		}
		if _, plain := c.Environment[name]; plain {
			return &ConfigError{Key: "secrets", Value: name, Allowed: "also set in environment: keep one of the two"}
		}
	}
	return nil
}

func (c Config) validateDomain() error {
	bad := func(key string, value any, allowed string) error {
		return &ConfigError{Key: key, Value: value, Allowed: allowed}
	}
	zoneSet := 0
	for _, v := range []string{c.HostedZoneId, c.HostedZoneName} {
		if v != "" {
			zoneSet++
		}
	}
	const together = "set hostedZoneId and hostedZoneName together, with domainName"
	switch {
	case c.DomainName == "" && (zoneSet > 0 || c.CertificateArn != ""):
		return bad("domainName", "", "want the DNS name to serve over HTTPS, such as app.example.com: hostedZoneId, hostedZoneName and certificateArn need it")
	case c.DomainName == "":
		return nil
	case !domainPattern.MatchString(c.DomainName):
		return bad("domainName", c.DomainName, "want a lower-case DNS name such as app.example.com")
	case zoneSet == 0 && c.CertificateArn == "":
		return bad("domainName", c.DomainName, "want hostedZoneId and hostedZoneName (ACM then issues the certificate), or certificateArn (a certificate you already have), or neither key and no domainName")
	case c.CertificateArn != "" && !certificateArnPattern.MatchString(c.CertificateArn):
		return bad("certificateArn", c.CertificateArn, "want an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/<uuid>")
	}
	if m := certificateArnPattern.FindStringSubmatch(c.CertificateArn); m != nil && c.Region != "" && m[1] != c.Region {
		return bad("certificateArn", c.CertificateArn, fmt.Sprintf("want a certificate in the stacks' region %s: a load balancer uses certificates of its own region only", c.Region))
	}
	if zoneSet == 0 {
		return nil
	}
	switch {
	case c.HostedZoneName == "" || !domainPattern.MatchString(strings.TrimSuffix(c.HostedZoneName, ".")):
		return bad("hostedZoneName", c.HostedZoneName, "want the hosted zone's DNS name such as example.com; "+together)
	case !hostedZoneIdPattern.MatchString(c.HostedZoneId):
		return bad("hostedZoneId", c.HostedZoneId, "want a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (or /hostedzone/Z…, as the AWS CLI prints it); "+together)
	}
	zone := strings.TrimSuffix(c.HostedZoneName, ".")
	if c.DomainName != zone && !strings.HasSuffix(c.DomainName, "."+zone) {
		return bad("domainName", c.DomainName, fmt.Sprintf("want a name inside hostedZoneName %q", zone))
	}
	return nil
}
