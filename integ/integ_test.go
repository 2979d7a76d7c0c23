//go:build integ

package integ

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// teardownTimeout bounds the teardown: destroying the four stacks takes
// about 10 to 20 minutes (the load balancer and the VPC's network
// interfaces are the slow part), twice if the first destroy leaves some.
const teardownTimeout = 50 * time.Minute

// TestDeploy deploys the four stacks under a new app name into the account
// of the credentials, checks what the README promises against the real
// thing, redeploys under load, and tears everything down, also on failure
// and on Ctrl-C. Run it with `make integ` (docs/integration-test.md).
func TestDeploy(t *testing.T) {
	pre, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, account, err := Preflight(pre, true)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	settings, err := ReadSettings(root)
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewAppName(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("app %s in account %s, region %s", app, account, cfg.Region)

	cli := &CLI{Root: root, OutDir: t.TempDir(), Stdout: os.Stdout, Stderr: os.Stderr}
	td := &Teardown{
		App: app, CLI: cli,
		CloudFormation: cloudformation.NewFromConfig(cfg),
		S3:             s3.NewFromConfig(cfg),
		Logs:           cloudwatchlogs.NewFromConfig(cfg),
		Poll:           15 * time.Second, RetryAfter: time.Minute,
		Logf: t.Logf,
	}
	// From here on, whatever happens, the app is torn down.
	ctx := Guard(t, app, td.Run, teardownTimeout)
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-teardownTimeout-time.Minute))
		defer cancel()
	}
	var fig figures
	defer func() { t.Log(fig) }()

	start := time.Now()
	outputsFile, err := cli.Deploy(ctx, app)
	fig.deploy = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ReadOutputs(outputsFile, app)
	if err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	fig.firstHealthy, err = WaitHealthy(ctx, client, out.ServiceURL+settings.HealthCheckPath, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	contract := Contract{HealthPath: settings.HealthCheckPath, Origin: settings.CorsOrigin, Probe: settings.Contract}
	if err := contract.Check(ctx, client, out.ServiceURL); err != nil {
		t.Errorf("HTTP contract at %s:\n%v", out.ServiceURL, err)
	}

	svc := ecs.NewFromConfig(cfg)
	// The first deploy starts one task; auto scaling then raises the count
	// to minTasks.
	start = time.Now()
	err = poll(ctx, 10*time.Second, 10*time.Minute, func() error {
		tasks, err := runningTasks(ctx, svc, out)
		if err != nil {
			return err
		}
		return CheckPlacement(tasks, settings.MinTasks, settings.OnDemandBaseTasks)
	})
	fig.placed = time.Since(start)
	if err != nil {
		t.Errorf("task placement: %v", err)
	}

	logs := cloudwatchlogs.NewFromConfig(cfg)
	if err := poll(ctx, 10*time.Second, 3*time.Minute, func() error {
		res, err := logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName:  aws.String(out.LogGroupName),
			FilterPattern: aws.String(`{ $.msg = "listening" }`),
			Limit:         aws.Int32(1),
		})
		if err == nil && len(res.Events) == 0 {
			err = fmt.Errorf("no start-up line in %s", out.LogGroupName)
		}
		return err
	}); err != nil {
		t.Errorf("service logs: %v", err)
	}

	// A forced new deployment replaces every task while clients keep
	// sending requests: none may fail.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loaded := make(chan LoadStats, 1)
	go func() { loaded <- Load(loadCtx, out.ServiceURL+"/", 4, 50*time.Millisecond, 10*time.Second) }()
	if err := sleep(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	res, err := svc.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(out.ClusterName), Service: aws.String(out.ServiceName), ForceNewDeployment: true,
	})
	if err != nil {
		t.Fatalf("forcing a new deployment: %v", err)
	}
	var id string
	for _, d := range res.Service.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			id = aws.ToString(d.Id)
		}
	}
	start = time.Now()
	err = poll(ctx, 10*time.Second, 30*time.Minute, func() error {
		ds, err := deployments(ctx, svc, out)
		if err != nil {
			return err
		}
		done, err := DeploymentDone(ds, id)
		if err != nil {
			return stop{err}
		}
		if !done {
			return fmt.Errorf("deployment %s not done: %+v", id, ds)
		}
		return nil
	})
	fig.redeploy = time.Since(start)
	if err != nil {
		t.Errorf("redeploy: %v", err)
	}
	// The old tasks are stopped by now; a little more load shows the new
	// ones alone serving.
	sleep(ctx, 15*time.Second)
	stopLoad()
	fig.load = <-loaded
	if fig.load.Requests < 100 || fig.load.Failed > 0 {
		t.Errorf("during the redeploy %d of %d requests failed (want 0 of at least 100): %s",
			fig.load.Failed, fig.load.Requests, strings.Join(fig.load.Errors, "; "))
	}
}

// figures are what a run measured, printed at its end.
type figures struct {
	deploy, firstHealthy, placed, redeploy time.Duration
	load                                   LoadStats
}

func (f figures) String() string {
	r := func(d time.Duration) string { return d.Round(time.Second).String() }
	return fmt.Sprintf("figures:\n"+
		"  deploy of the four stacks:             %s\n"+
		"  first healthy answer after the deploy: %s\n"+
		"  minTasks placed after the deploy:      %s\n"+
		"  forced redeploy:                       %s\n"+
		"  requests during the redeploy:          %d served, %d failed",
		r(f.deploy), r(f.firstHealthy), r(f.placed), r(f.redeploy), f.load.Requests-f.load.Failed, f.load.Failed)
}

// stop ends a poll at once.
type stop struct{ error }

// poll calls check every interval until it returns nil, returns stop, or
// limit passes; the error is check's last.
func poll(ctx context.Context, interval, limit time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := check()
		if s, ok := err.(stop); ok {
			return s.error
		}
		if err == nil {
			return nil
		}
		if sleep(ctx, interval) != nil {
			return fmt.Errorf("after %s: %w", limit, err)
		}
	}
}

// runningTasks reads the service's tasks and their capacity providers.
func runningTasks(ctx context.Context, svc *ecs.Client, out Outputs) ([]Task, error) {
	list, err := svc.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(out.ClusterName), ServiceName: aws.String(out.ServiceName), DesiredStatus: ecstypes.DesiredStatusRunning,
	})
	if err != nil || len(list.TaskArns) == 0 {
		return nil, err
	}
	desc, err := svc.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(out.ClusterName), Tasks: list.TaskArns})
	if err != nil {
		return nil, err
	}
	var tasks []Task
	for _, t := range desc.Tasks {
		tasks = append(tasks, Task{
			ID:               aws.ToString(t.TaskArn),
			LastStatus:       aws.ToString(t.LastStatus),
			CapacityProvider: aws.ToString(t.CapacityProviderName),
		})
	}
	return tasks, nil
}

// deployments reads the service's deployments.
func deployments(ctx context.Context, svc *ecs.Client, out Outputs) ([]Deployment, error) {
	res, err := svc.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(out.ClusterName), Services: []string{out.ServiceName},
	})
	if err != nil {
		return nil, err
	}
	if len(res.Services) != 1 {
		return nil, stop{fmt.Errorf("service %s not found in %s", out.ServiceName, out.ClusterName)}
	}
	var ds []Deployment
	for _, d := range res.Services[0].Deployments {
		ds = append(ds, Deployment{
			ID: aws.ToString(d.Id), RolloutState: string(d.RolloutState),
			Running: int(d.RunningCount), Desired: int(d.DesiredCount),
		})
	}
	return ds, nil
}
