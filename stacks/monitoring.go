package stacks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"
)

// How long a condition must last before an alarm fires: long enough that a
// single Spot interruption or deploy does not page anyone.
// Every metric is read per minute. Deployment alarms decide faster, because
// a deploy waits on them.
//
// deploymentAlarmWindow is the shortest bake that lets a deployment alarm
// fire: deploymentAlarmMinutes of one-minute data plus the up to two
// minutes that ALB metrics take to reach CloudWatch.
const (
	alarmMinutes           = 5
	deploymentAlarmMinutes = 3
	deploymentAlarmWindow  = deploymentAlarmMinutes + 2
)

// albMetrics reads the load balancer's CloudWatch metrics by the names
// that the load balancer stack and the target groups publish, whole:
// derived from an ARN in this stack, they would tie it to a listener that
// the custom domain replaces.
type albMetrics struct {
	loadBalancer *string
	// targetGroups are the service's target groups: the primary, and with
	// a native strategy the alternate. Which of them serves changes with
	// every native deployment, so a metric of the service's tasks covers
	// both.
	targetGroups []*string
}

// ofLoadBalancer is a per-minute metric of the load balancer as a whole.
func (m albMetrics) ofLoadBalancer(name, statistic string) awscloudwatch.Metric {
	return m.metric(name, statistic, map[string]*string{"LoadBalancer": m.loadBalancer})
}

// ofTargetGroup is a per-minute metric of the i-th target group.
func (m albMetrics) ofTargetGroup(i int, name, statistic string) awscloudwatch.Metric {
	return m.metric(name, statistic, map[string]*string{"LoadBalancer": m.loadBalancer, "TargetGroup": m.targetGroups[i]})
}

// ofTargets is a per-minute metric of all the service's tasks, whichever
// group they are in: the metric itself with one group; with two, fn
// ("SUM" or "MAX") of both, a missing one counting as zero.
func (m albMetrics) ofTargets(name, statistic, fn string) awscloudwatch.IMetric {
	if len(m.targetGroups) == 1 {
		return m.ofTargetGroup(0, name, statistic)
	}
	using := map[string]awscloudwatch.IMetric{}
	var terms []string
	for i := range m.targetGroups {
		// Ids are unique per graph, where two expressions may meet.
		id := strings.ToLower(metricID.ReplaceAllString(name+statistic, "")) + fmt.Sprint(i)
		using[id] = m.ofTargetGroup(i, name, statistic)
		terms = append(terms, "FILL("+id+", 0)")
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(fn + "([" + strings.Join(terms, ", ") + "])"),
		UsingMetrics: &using,
		Label:        jsii.String(name),
		Period:       seconds(time.Minute),
	})
}

// metricID matches what a metric math id may not hold.
var metricID = regexp.MustCompile(`[^A-Za-z0-9]`)

func (m albMetrics) metric(name, statistic string, dimensions map[string]*string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String("AWS/ApplicationELB"),
		MetricName:    jsii.String(name),
		DimensionsMap: &dimensions,
		Statistic:     jsii.String(statistic),
		Period:        seconds(time.Minute),
	})
}

// trafficAlarms are the alarms on what the load balancer sees of the
// service's tasks, one set per target group, so that during a canary the
// group with the new tasks is judged by its own requests (5 % of the
// traffic failing is 5 % of the whole, at the threshold, but 100 % of its
// group). They depend on the target groups' metrics only, never on the ECS
// service, so the service can use them as deployment alarms without a
// cycle.
type trafficAlarms struct {
	target5xx  []awscloudwatch.Alarm
	latencyP99 []awscloudwatch.Alarm
	// names are the literal names of the alarms that roll a deployment
	// back; a token (Alarm.AlarmName) would make CDK report a cycle.
	names []string
}

// all returns every traffic alarm.
func (a *trafficAlarms) all() []awscloudwatch.Alarm {
	return append(slices.Clone(a.target5xx), a.latencyP99...)
}

// newTrafficAlarms creates the target-group alarms that also gate
// deployments, named from prefix. The primary group's keep the names they
// had before the alternate group existed.
func newTrafficAlarms(stack awscdk.Stack, cfg Config, m albMetrics, prefix string) *trafficAlarms {
	a := &trafficAlarms{}
	name := func(id string) string {
		n := prefix + "-" + id
		a.names = append(a.names, n)
		return n
	}
	for i := range m.targetGroups {
		group, suffix, which := "", "", "the tasks"
		if i > 0 {
			group, suffix, which = "Alternate", "-Alternate", "the tasks in the alternate target group"
		}
		a.target5xx = append(a.target5xx, errorRateAlarm(stack, group+"Target5xxAlarm", jsii.String(name("Target5xx"+suffix)),
			"More than alarmErrorRatePercent of requests got a 5xx from "+which,
			m.ofTargetGroup(i, "HTTPCode_Target_5XX_Count", "Sum"), m.ofTargetGroup(i, "RequestCount", "Sum"), cfg, deploymentAlarmMinutes))
		a.latencyP99 = append(a.latencyP99, awscloudwatch.NewAlarm(stack, jsii.String(group+"LatencyP99Alarm"), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name("LatencyP99" + suffix)),
			AlarmDescription:   jsii.String("The p99 response time of " + which + " is above alarmLatencyP99Ms"),
			Metric:             m.ofTargetGroup(i, "TargetResponseTime", "p99"),
			Threshold:          jsii.Number(cfg.AlarmLatencyP99.Seconds()),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(deploymentAlarmMinutes),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}
	return a
}

// monitor adds the alarms that watch the load balancer and the service as
// a whole, the alarm topic and the dashboard. It returns the alarm topic,
// nil without alarmEmail.
func monitor(stack awscdk.Stack, cfg Config, m albMetrics, service awsecs.FargateService, cluster awsecs.ICluster, traffic *trafficAlarms, prefix string) awssns.ITopic {
	// Container Insights reports task counts per service.
	insights := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("ECS/ContainerInsights"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"ClusterName": cluster.ClusterName(), "ServiceName": service.ServiceName()},
			Statistic:     jsii.String("Average"),
			Period:        seconds(time.Minute),
		})
	}
	minute := &awscloudwatch.MetricOptions{Period: seconds(time.Minute)}

	alarms := append(traffic.all(),
		errorRateAlarm(stack, "LoadBalancer5xxAlarm", nil,
			"More than alarmErrorRatePercent of requests got a 5xx from the load balancer itself (no healthy task, or none registered)",
			m.ofLoadBalancer("HTTPCode_ELB_5XX_Count", "Sum"), m.ofLoadBalancer("RequestCount", "Sum"), cfg, alarmMinutes),
		awscloudwatch.NewAlarm(stack, jsii.String("UnhealthyHostsAlarm"), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("At least one task has failed its health check for 5 minutes"),
			Metric:             m.ofTargets("UnHealthyHostCount", "Maximum", "MAX"),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(alarmMinutes),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}),
		awscloudwatch.NewAlarm(stack, jsii.String("CpuHighAlarm"), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("Average CPU of the service is above alarmCpuPercent for 5 minutes, although auto scaling should have added tasks"),
			Metric:             service.MetricCpuUtilization(minute),
			Threshold:          jsii.Number(cfg.AlarmCpuPercent),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(alarmMinutes),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}),
		awscloudwatch.NewAlarm(stack, jsii.String("MemoryHighAlarm"), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("Average memory of the service is above alarmMemoryPercent for 5 minutes"),
			Metric:             service.MetricMemoryUtilization(minute),
			Threshold:          jsii.Number(cfg.AlarmMemoryPercent),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(alarmMinutes),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}),
		awscloudwatch.NewAlarm(stack, jsii.String("RunningTasksLowAlarm"), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("Fewer tasks than minTasks have run for 5 minutes (Spot capacity, failing tasks)"),
			Metric:             insights("RunningTaskCount"),
			Threshold:          jsii.Number(cfg.MinTasks),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(alarmMinutes),
			// No data means no task reports: as bad as none running.
			TreatMissingData: awscloudwatch.TreatMissingData_BREACHING,
		}),
	)
	var topic awssns.ITopic
	if cfg.AlarmEmail != "" {
		topic = alarmTopic(stack, cfg.AlarmEmail, alarms)
		action := awscloudwatchactions.NewSnsAction(topic)
		for _, a := range alarms {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
	}

	widget := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(8),
		})
	}
	label := func(m awscloudwatch.IMetric, l string) awscloudwatch.IMetric {
		switch m := m.(type) {
		case awscloudwatch.MathExpression:
			return m.With(&awscloudwatch.MathExpressionOptions{Label: jsii.String(l)})
		case awscloudwatch.Metric:
			return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(l)})
		}
		return m
	}
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		// Dashboard names are global to the account: the region keeps the
		// same app in two regions from sharing (and deleting) one.
		DashboardName: awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String(prefix), stack.Region()}),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				widget("Requests", label(m.ofLoadBalancer("RequestCount", "Sum"), "requests")),
				widget("5xx",
					label(m.ofLoadBalancer("HTTPCode_ELB_5XX_Count", "Sum"), "load balancer 5xx"),
					label(m.ofTargets("HTTPCode_Target_5XX_Count", "Sum", "SUM"), "task 5xx")),
				widget("Response time",
					label(m.ofTargets("TargetResponseTime", "p50", "MAX"), "p50"),
					label(m.ofTargets("TargetResponseTime", "p99", "MAX"), "p99")),
			},
			{
				widget("Targets",
					label(m.ofTargets("HealthyHostCount", "Average", "SUM"), "healthy"),
					label(m.ofTargets("UnHealthyHostCount", "Average", "SUM"), "unhealthy")),
				widget("Tasks", label(insights("RunningTaskCount"), "running"), label(insights("DesiredTaskCount"), "desired")),
				widget("CPU and memory (%)",
					label(service.MetricCpuUtilization(minute), "CPU"),
					label(service.MetricMemoryUtilization(minute), "memory")),
			},
		},
	})
	return topic
}

// errorRateAlarm fires when errors exceed cfg.AlarmErrorRatePercent of
// requests for the given number of minutes. The 5xx metrics are absent,
// not zero, when nothing failed, hence FILL.
func errorRateAlarm(stack awscdk.Stack, id string, name *string, description string, errors, requests awscloudwatch.IMetric, cfg Config, minutes int) awscloudwatch.Alarm {
	rate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"errors": errors, "requests": requests},
		Label:        jsii.String("5xx % of requests"),
		Period:       seconds(time.Minute),
	})
	return awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmName:          name,
		AlarmDescription:   jsii.String(fmt.Sprintf("%s for %d minutes", description, minutes)),
		Metric:             rate,
		Threshold:          jsii.Number(cfg.AlarmErrorRatePercent),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(minutes),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}

// alarmTopic sends alarms to email. CloudWatch can publish to an encrypted
// topic only if the key's policy lets it use the key: with the AWS-managed
// alias/aws/sns key alarm actions fail silently, so the key is our own. And
// a topic policy replaces the topic's default one: EnforceSSL writes a
// policy that only denies, so the topic must also allow CloudWatch to
// publish, for these alarms of this account only.
func alarmTopic(stack awscdk.Stack, email string, alarms []awscloudwatch.Alarm) awssns.Topic {
	key := awskms.NewKey(stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		// It protects nothing once the topic is gone.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		PendingWindow: awscdk.Duration_Days(jsii.Number(7)),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})
	arns := make([]*string, len(alarms))
	for i, a := range alarms {
		arns[i] = a.AlarmArn()
	}
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowAlarmsToPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			"ArnLike":      map[string]any{"aws:SourceArn": arns},
		},
	}))
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	return topic
}
