package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// scale adds the service's auto scaling: minTasks to maxTasks on CPU, and
// on requests per task when requestsPerTarget is set.
func scale(cfg Config, service awsecs.FargateService, loadBalancerFullName *string, metrics albMetrics) {
	scaling := service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(cfg.MinTasks),
		MaxCapacity: jsii.Number(cfg.MaxTasks),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("CpuScaling"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(cfg.CpuTargetPercent),
		ScaleInCooldown:          seconds(cfg.ScaleInCooldown),
		ScaleOutCooldown:         seconds(cfg.ScaleOutCooldown),
	})
	if cfg.RequestsPerTarget > 0 {
		// ScaleOnRequestCount would derive the resource label by splitting
		// the ARN of a listener in the load balancer stack; this is the same
		// policy with the label built from the names that stack publishes.
		scaling.DoScaleToTrackMetric(jsii.String("RequestScaling"), &awsapplicationautoscaling.BasicTargetTrackingScalingPolicyProps{
			PredefinedMetric: awsapplicationautoscaling.PredefinedMetric_ALB_REQUEST_COUNT_PER_TARGET,
			ResourceLabel:    awscdk.Fn_Join(jsii.String("/"), &[]*string{loadBalancerFullName, metrics.targetGroups[0]}),
			TargetValue:      jsii.Number(cfg.RequestsPerTarget),
			ScaleInCooldown:  seconds(cfg.ScaleInCooldown),
			ScaleOutCooldown: seconds(cfg.ScaleOutCooldown),
		})
	}
}
