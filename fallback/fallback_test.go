package fallback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// The service and cluster of AWS's sample event (testdata/README.md).
const (
	serviceArn  = "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"
	clusterArn  = "arn:aws:ecs:us-west-2:111122223333:cluster/default"
	functionArn = "arn:aws:lambda:us-west-2:111122223333:function:fargo-spot-fallback"
	roleArn     = "arn:aws:iam::111122223333:role/fargo-spot-fallback-scheduler"
	stackID     = "arn:aws:cloudformation:us-west-2:111122223333:stack/fargo-Service/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	group       = "SpotFallbackSchedulesB8E5B19D-AbCdEfGhIjKl"
)

// template is the strategy of the stacks' defaults: one on-demand base
// task, every other on Spot.
var template = []ecstypes.CapacityProviderStrategyItem{
	{CapacityProvider: aws.String("FARGATE"), Base: 1, Weight: 0},
	{CapacityProvider: aws.String("FARGATE_SPOT"), Base: 0, Weight: 1},
}

var onDemand = []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Base: 1, Weight: 1}}

// fakeECS holds services by ARN and records each update.
type fakeECS struct {
	services map[string]*ecstypes.Service
	updates  []ecs.UpdateServiceInput
	failNext error
}

func (e *fakeECS) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	out := &ecs.DescribeServicesOutput{}
	for _, arn := range in.Services {
		if s, ok := e.services[arn]; ok && strings.HasSuffix(aws.ToString(in.Cluster), "/default") {
			out.Services = append(out.Services, *s)
		}
	}
	return out, nil
}

func (e *fakeECS) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	if err := e.failNext; err != nil {
		e.failNext = nil
		return nil, err
	}
	s, ok := e.services[aws.ToString(in.Service)]
	if !ok {
		return nil, errors.New("ServiceNotFoundException")
	}
	e.updates = append(e.updates, *in)
	s.CapacityProviderStrategy = in.CapacityProviderStrategy
	return &ecs.UpdateServiceOutput{Service: s}, nil
}

// fakeScheduler holds schedules by group/name, as EventBridge Scheduler
// does: an update of a missing schedule fails, a create of an existing one
// too. writes counts the writes of every schedule but the lock, locks the
// lock's.
type fakeScheduler struct {
	schedules map[string]*scheduler.GetScheduleOutput
	writes    int
	locks     int
}

func (s *fakeScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	key := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if _, ok := s.schedules[key]; !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("not found")}
	}
	delete(s.schedules, key)
	return &scheduler.DeleteScheduleOutput{}, nil
}

// fakeStacks reports the service's stack in status.
type fakeStacks struct{ status cfntypes.StackStatus }

func (f *fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if aws.ToString(in.StackName) != stackID {
		return nil, errors.New("ValidationError: stack does not exist")
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackId: aws.String(stackID), StackStatus: f.status}}}, nil
}

func (s *fakeScheduler) GetSchedule(_ context.Context, in *scheduler.GetScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error) {
	got, ok := s.schedules[aws.ToString(in.GroupName)+"/"+aws.ToString(in.Name)]
	if !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return got, nil
}

func (s *fakeScheduler) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	key := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if _, ok := s.schedules[key]; ok {
		return nil, &schedtypes.ConflictException{Message: aws.String("exists")}
	}
	if aws.ToString(in.Name) == LockScheduleName {
		s.locks++
	} else {
		s.writes++
	}
	s.schedules[key] = &scheduler.GetScheduleOutput{
		Name: in.Name, GroupName: in.GroupName, ScheduleExpression: in.ScheduleExpression,
		Target: in.Target, ActionAfterCompletion: in.ActionAfterCompletion,
	}
	return &scheduler.CreateScheduleOutput{}, nil
}

func (s *fakeScheduler) UpdateSchedule(_ context.Context, in *scheduler.UpdateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	got, ok := s.schedules[aws.ToString(in.GroupName)+"/"+aws.ToString(in.Name)]
	if !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("not found")}
	}
	s.writes++
	got.ScheduleExpression, got.Target, got.ActionAfterCompletion = in.ScheduleExpression, in.Target, in.ActionAfterCompletion
	return &scheduler.UpdateScheduleOutput{}, nil
}

type fakeSNS struct{ subjects []string }

func (p *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	p.subjects = append(p.subjects, aws.ToString(in.Subject))
	return &sns.PublishOutput{}, nil
}

// world is one service with its fallback and a clock the test moves.
type world struct {
	t      *testing.T
	now    time.Time
	ecs    *fakeECS
	sched  *fakeScheduler
	sns    *fakeSNS
	stacks *fakeStacks
	f      *Fallback
	log    bytes.Buffer
}

func newWorld(t *testing.T) *world {
	w := &world{
		t:   t,
		now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC),
		ecs: &fakeECS{services: map[string]*ecstypes.Service{
			serviceArn: {ServiceArn: aws.String(serviceArn), CapacityProviderStrategy: template},
			"arn:aws:ecs:us-west-2:111122223333:service/default/other": {
				ServiceArn: aws.String("arn:aws:ecs:us-west-2:111122223333:service/default/other"), CapacityProviderStrategy: template,
			},
		}},
		sched:  &fakeScheduler{schedules: map[string]*scheduler.GetScheduleOutput{}},
		sns:    &fakeSNS{},
		stacks: &fakeStacks{status: cfntypes.StackStatusUpdateComplete},
	}
	w.f = &Fallback{
		Config: Config{
			ClusterArn: clusterArn, ServiceArn: serviceArn, StackID: stackID, Spot: template,
			ScheduleGroup: group, ScheduleName: "restore-spot", SchedulerRoleArn: roleArn,
			TopicArn:    "arn:aws:sns:us-west-2:111122223333:alarms",
			QuietPeriod: 30 * time.Minute, MaxQuietPeriod: 4 * time.Hour, ResetAfter: 24 * time.Hour,
			RetryAfter: 5 * time.Minute,
		},
		ECS: w.ecs, Scheduler: w.sched, SNS: w.sns, Stacks: w.stacks,
		Now: func() time.Time { return w.now },
		Log: slog.New(slog.NewTextHandler(&w.log, nil)),
	}
	return w
}

// sample is AWS's sample event, with edit applied to its decoded form.
// ignoredEvents are the events that neither the stacks' rule nor the
// function may act on: AWS's sample placement failure with one field
// changed each (testdata/ignored-events.json, which the stacks' rule test
// reads too).
func ignoredEvents(t *testing.T) []struct {
	Name  string
	Event map[string]any
} {
	t.Helper()
	data, err := os.ReadFile("testdata/ignored-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var events []struct {
		Name  string
		Event map[string]any
	}
	if err := json.Unmarshal(data, &events); err != nil || len(events) == 0 {
		t.Fatalf("testdata/ignored-events.json: %v, %d events", err, len(events))
	}
	return events
}

func sample(t *testing.T, edit func(e map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/placement-failure.json")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(e)
	}
	out, _ := json.Marshal(e)
	return out
}

// failureAt is the sample event as ECS would send it at time at.
func (w *world) failureAt(at time.Time) []byte {
	return sample(w.t, func(e map[string]any) { e["time"] = at.Format(time.RFC3339) })
}

func (w *world) handle(payload []byte) Outcome {
	w.t.Helper()
	out, err := w.f.Handle(context.Background(), functionArn, payload)
	if err != nil {
		w.t.Fatalf("Handle: %v\nlog:\n%s", err, w.log.String())
	}
	return out
}

func (w *world) expect(payload []byte, want Outcome) {
	w.t.Helper()
	if got := w.handle(payload); got != want {
		w.t.Fatalf("got %q, want %q\nlog:\n%s", got, want, w.log.String())
	}
}

// state is the restore schedule's payload and expression.
func (w *world) state() (State, string) {
	w.t.Helper()
	s, ok := w.sched.schedules[group+"/restore-spot"]
	if !ok {
		w.t.Fatal("no restore schedule")
	}
	var st State
	if err := json.Unmarshal([]byte(aws.ToString(s.Target.Input)), &st); err != nil {
		w.t.Fatal(err)
	}
	return st, aws.ToString(s.ScheduleExpression)
}

// restoreNow moves the clock to the planned return and fires the schedule
// as EventBridge Scheduler would, with its payload.
func (w *world) restoreNow() Outcome {
	w.t.Helper()
	st, _ := w.state()
	w.now = st.RestoreAt
	return w.handle([]byte(aws.ToString(w.sched.schedules[group+"/restore-spot"].Target.Input)))
}

func (w *world) strategy() []ecstypes.CapacityProviderStrategyItem {
	return w.ecs.services[serviceArn].CapacityProviderStrategy
}

func TestFallsBackOnSpotCapacityFailure(t *testing.T) {
	w := newWorld(t)
	w.expect(w.failureAt(w.now), FellBack)

	if len(w.ecs.updates) != 1 {
		t.Fatalf("%d updates, want 1", len(w.ecs.updates))
	}
	u := w.ecs.updates[0]
	if !u.ForceNewDeployment || aws.ToString(u.Service) != serviceArn || aws.ToString(u.Cluster) != clusterArn {
		t.Errorf("update %+v: want a forced new deployment of %s in %s", u, serviceArn, clusterArn)
	}
	if !sameStrategy(w.strategy(), onDemand) {
		t.Errorf("strategy %s, want on-demand only with the same base", show(w.strategy()))
	}
	st, expr := w.state()
	if st.Level != 0 || !st.FallbackAt.Equal(w.now) || st.RestoreAt.Sub(w.now) != 30*time.Minute {
		t.Errorf("state %+v: want level 0, back to Spot after the 30 min quiet period", st)
	}
	if expr != "at(2026-12-02T09:30:00)" {
		t.Errorf("schedule expression %q", expr)
	}
	s := w.sched.schedules[group+"/restore-spot"]
	if aws.ToString(s.Target.Arn) != functionArn || aws.ToString(s.Target.RoleArn) != roleArn {
		t.Errorf("schedule target %+v: want the function itself, with the scheduler's role", s.Target)
	}
	if s.ActionAfterCompletion != schedtypes.ActionAfterCompletionNone {
		t.Errorf("ActionAfterCompletion %q: the schedule must outlive its firing, it holds the back-off", s.ActionAfterCompletion)
	}
	if len(w.sns.subjects) != 1 || !strings.HasPrefix(w.sns.subjects[0], "Spot capacity unavailable") {
		t.Errorf("messages %q, want one about the fallback", w.sns.subjects)
	}
	if !strings.Contains(w.log.String(), "moved the service to on-demand") {
		t.Errorf("no log line says why:\n%s", w.log.String())
	}
}

func TestRestoresTheTemplateStrategyAfterTheQuietPeriod(t *testing.T) {
	w := newWorld(t)
	w.expect(w.failureAt(w.now), FellBack)
	if got := w.restoreNow(); got != Restored {
		t.Fatalf("got %q, want %q\nlog:\n%s", got, Restored, w.log.String())
	}
	if len(w.ecs.updates) != 2 || !w.ecs.updates[1].ForceNewDeployment {
		t.Fatalf("updates %+v: want a second, forced deployment", w.ecs.updates)
	}
	if !sameStrategy(w.strategy(), template) {
		t.Errorf("strategy %s, want the template's", show(w.strategy()))
	}
	if len(w.sns.subjects) != 2 || w.sns.subjects[1] != "Back on Fargate Spot" {
		t.Errorf("messages %q", w.sns.subjects)
	}
	// The same firing again (Scheduler retries) changes nothing.
	w.expect([]byte(aws.ToString(w.sched.schedules[group+"/restore-spot"].Target.Input)), Ignored)
	if len(w.ecs.updates) != 2 {
		t.Errorf("a repeated restore updated the service again")
	}
}

func TestRepeatedFallbacksBackOff(t *testing.T) {
	w := newWorld(t)
	for i, want := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour} {
		w.now = w.now.Add(10 * time.Minute)
		w.expect(w.failureAt(w.now), FellBack)
		st, _ := w.state()
		if st.Level != i || st.RestoreAt.Sub(st.FallbackAt) != want {
			t.Fatalf("fallback %d: level %d, quiet period %s; want level %d, %s", i+1, st.Level, st.RestoreAt.Sub(st.FallbackAt), i, want)
		}
		if got := w.restoreNow(); got != Restored {
			t.Fatalf("restore %d: got %q", i+1, got)
		}
	}
	// A day of Spot without a failure starts the back-off again.
	w.now = w.now.Add(25 * time.Hour)
	w.expect(w.failureAt(w.now), FellBack)
	if st, _ := w.state(); st.Level != 0 || st.RestoreAt.Sub(st.FallbackAt) != 30*time.Minute {
		t.Errorf("after a quiet day: %+v, want level 0 and 30 min", st)
	}
}

func TestDuplicateAndLateEventsChangeNothing(t *testing.T) {
	w := newWorld(t)
	first := w.failureAt(w.now)
	w.expect(first, FellBack)
	writes := w.sched.writes

	// EventBridge delivers at least once: the same event again.
	w.expect(first, Ignored)
	// ECS keeps reporting while its last Spot attempts fail.
	w.now = w.now.Add(time.Minute)
	w.expect(w.failureAt(w.now), Ignored)
	if len(w.ecs.updates) != 1 || w.sched.writes != writes {
		t.Fatalf("%d updates, %d schedule writes after duplicates; want 1 and %d", len(w.ecs.updates), w.sched.writes, writes)
	}

	// After the return to Spot, a failure from before it arrives late.
	w.restoreNow()
	w.now = w.now.Add(time.Minute)
	w.expect(w.failureAt(w.now.Add(-5*time.Minute)), Ignored)
	if len(w.ecs.updates) != 2 || !sameStrategy(w.strategy(), template) {
		t.Errorf("a late event moved the service: %d updates, strategy %s", len(w.ecs.updates), show(w.strategy()))
	}
}

func TestIgnoresWhatIsNotThisServicesSpotCapacity(t *testing.T) {
	for _, ignored := range ignoredEvents(t) {
		name, event := ignored.Name, ignored.Event
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			event["time"] = w.now.Format(time.RFC3339)
			b, _ := json.Marshal(event)
			w.expect(b, Ignored)
			if len(w.ecs.updates) != 0 || w.sched.writes != 0 || len(w.sns.subjects) != 0 {
				t.Errorf("acted on it: %d updates, %d schedule writes, %d messages", len(w.ecs.updates), w.sched.writes, len(w.sns.subjects))
			}
		})
	}
	w := newWorld(t)
	w.expect([]byte(`{"hello": "world"}`), Ignored)
	w.expect([]byte(`not json`), Ignored)
}

func TestAFinishedRollbackDoesNotBlock(t *testing.T) {
	w := newWorld(t)
	w.ecs.services[serviceArn].Deployments = []ecstypes.Deployment{
		{Status: aws.String("PRIMARY"), RolloutState: ecstypes.DeploymentRolloutStateCompleted},
		{Status: aws.String("INACTIVE"), RolloutState: ecstypes.DeploymentRolloutStateFailed},
	}
	w.expect(w.failureAt(w.now), FellBack)
}

func TestNothingWhileADeploymentRollsBack(t *testing.T) {
	for name, deployments := range map[string][]ecstypes.Deployment{
		"circuit breaker": {
			{Status: aws.String("PRIMARY"), RolloutState: ecstypes.DeploymentRolloutStateInProgress,
				RolloutStateReason: aws.String("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1234567890123456789.")},
			{Status: aws.String("ACTIVE"), RolloutState: ecstypes.DeploymentRolloutStateFailed,
				RolloutStateReason: aws.String("ECS deployment circuit breaker: tasks failed to start.")},
		},
		"deployment alarm": {
			{Status: aws.String("PRIMARY"), RolloutState: ecstypes.DeploymentRolloutStateInProgress,
				RolloutStateReason: aws.String("ECS deployment detected triggered alarm(s): rolling back to deploymentId ecs-svc/1234567890123456789.")},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.ecs.services[serviceArn].Deployments = deployments
			w.expect(w.failureAt(w.now), Ignored)
			if len(w.ecs.updates) != 0 || w.sched.writes != 0 {
				t.Fatalf("acted during a rollback: %d updates, %d schedule writes", len(w.ecs.updates), w.sched.writes)
			}

			// A return to Spot that falls due during a rollback waits.
			w.ecs.services[serviceArn].Deployments = nil
			w.expect(w.failureAt(w.now), FellBack)
			w.ecs.services[serviceArn].Deployments = deployments
			before, _ := w.state()
			if got := w.restoreNow(); got != Postponed {
				t.Fatalf("restore during a rollback: got %q, want %q", got, Postponed)
			}
			after, _ := w.state()
			if len(w.ecs.updates) != 1 || !after.RestoreAt.After(before.RestoreAt) || !after.FallbackAt.Equal(before.FallbackAt) {
				t.Errorf("restore during a rollback: %d updates, state %+v -> %+v; want no update and a later return", len(w.ecs.updates), before, after)
			}
			w.ecs.services[serviceArn].Deployments = nil
			if got := w.restoreNow(); got != Restored {
				t.Errorf("the postponed restore: got %q", got)
			}
		})
	}
}

// A strategy put back by hand (aws ecs update-service) during a fallback:
// the pending schedule then finds nothing to do, and if Spot is still short
// the next failure falls back again at the same level.
func TestSpotSetByHandDuringAFallbackKeepsAWayBack(t *testing.T) {
	w := newWorld(t)
	w.expect(w.failureAt(w.now), FellBack)
	pending, _ := w.state()

	w.now = w.now.Add(10 * time.Minute)
	w.ecs.services[serviceArn].CapacityProviderStrategy = template // by hand
	w.now = w.now.Add(time.Minute)
	w.expect(w.failureAt(w.now), FellBack)
	again, _ := w.state()
	if again.Level != pending.Level || again.RestoreAt.Sub(again.FallbackAt) != 30*time.Minute {
		t.Errorf("after Spot was set by hand: %+v, want the same level %d", again, pending.Level)
	}
	if got := w.restoreNow(); got != Restored {
		t.Fatalf("got %q", got)
	}

	// Set by hand again, and Spot holds.
	w.now = w.now.Add(2 * time.Hour)
	w.expect(w.failureAt(w.now), FellBack)
	w.ecs.services[serviceArn].CapacityProviderStrategy = template
	updates := len(w.ecs.updates)
	if got := w.restoreNow(); got != Ignored || len(w.ecs.updates) != updates {
		t.Errorf("restore after Spot was set by hand: got %q with %d new updates, want nothing to do", got, len(w.ecs.updates)-updates)
	}
}

// A stale restore (a late retry of an earlier schedule's firing) must not
// end the current fallback early.
func TestIgnoresARestoreOfAnEarlierFallback(t *testing.T) {
	w := newWorld(t)
	w.expect(w.failureAt(w.now), FellBack)
	old := aws.ToString(w.sched.schedules[group+"/restore-spot"].Target.Input)
	w.restoreNow()
	w.now = w.now.Add(time.Minute)
	w.expect(w.failureAt(w.now), FellBack)
	w.expect([]byte(old), Ignored)
	if !sameStrategy(w.strategy(), onDemand) {
		t.Errorf("an old restore ended the fallback: %s", show(w.strategy()))
	}
}

// If the update fails after the schedule is written, the retry (Lambda
// retries failed asynchronous invocations) still falls back, and the
// service is never on on-demand without a planned return.
func TestAFailedUpdateIsRetried(t *testing.T) {
	w := newWorld(t)
	w.ecs.failNext = errors.New("ThrottlingException")
	event := w.failureAt(w.now)
	if _, err := w.f.Handle(context.Background(), functionArn, event); err == nil {
		t.Fatal("no error from a failed update: Lambda would not retry")
	}
	if _, expr := w.state(); expr == "" {
		t.Fatal("no schedule before the update")
	}
	w.now = w.now.Add(time.Minute)
	w.expect(event, FellBack)
	if !sameStrategy(w.strategy(), onDemand) {
		t.Errorf("strategy %s after the retry", show(w.strategy()))
	}
}

// On on-demand with no return planned (a strategy set by hand, a lost
// schedule), a failure event plans one and changes nothing else.
func TestOnDemandWithoutAPlannedReturnGetsOne(t *testing.T) {
	w := newWorld(t)
	w.ecs.services[serviceArn].CapacityProviderStrategy = onDemand
	w.expect(w.failureAt(w.now), Planned)
	if st, _ := w.state(); st.RestoreAt.Sub(w.now) != 30*time.Minute || len(w.ecs.updates) != 0 {
		t.Errorf("state %+v, %d updates", st, len(w.ecs.updates))
	}
	if got := w.restoreNow(); got != Restored || !sameStrategy(w.strategy(), template) {
		t.Errorf("got %q, strategy %s", got, show(w.strategy()))
	}
}

func TestWithoutATopicNoMessage(t *testing.T) {
	w := newWorld(t)
	w.f.TopicArn = ""
	w.expect(w.failureAt(w.now), FellBack)
	if len(w.sns.subjects) != 0 {
		t.Errorf("messages %q without a topic", w.sns.subjects)
	}
}

func TestParseStrategy(t *testing.T) {
	got, err := ParseStrategy("FARGATE:1:0,FARGATE_SPOT:0:1")
	if err != nil || !sameStrategy(got, template) {
		t.Errorf("got %s, %v", show(got), err)
	}
	for _, bad := range []string{"", "FARGATE:1:1", "FARGATE_SPOT:0", "FARGATE_SPOT:a:1"} {
		if _, err := ParseStrategy(bad); err == nil {
			t.Errorf("ParseStrategy(%q): no error", bad)
		}
	}
}

// show renders a strategy for a failure message.
func show(s []ecstypes.CapacityProviderStrategyItem) string {
	var parts []string
	for _, i := range s {
		parts = append(parts, fmt.Sprintf("%s base %d weight %d", aws.ToString(i.CapacityProvider), i.Base, i.Weight))
	}
	return strings.Join(parts, ", ")
}

// stackEvent is CloudFormation's Stack Status Change event for the
// service's stack (the "Stack Status Change event detail" fields).
func (w *world) stackEvent(stack, status string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
		"detail-type": "CloudFormation Stack Status Change", "source": "aws.cloudformation",
		"account": "111122223333", "time": w.now.Format(time.RFC3339), "region": "us-west-2",
		"resources": []string{stack},
		"detail":    map[string]any{"stack-id": stack, "status-details": map[string]any{"status": status, "status-reason": ""}},
	})
	return b
}

// fireRetry fires the retry schedule as EventBridge Scheduler would (it
// then deletes itself).
func (w *world) fireRetry() Outcome {
	w.t.Helper()
	s, ok := w.sched.schedules[group+"/"+RetryScheduleName]
	if !ok {
		w.t.Fatalf("no retry schedule\nlog:\n%s", w.log.String())
	}
	if s.ActionAfterCompletion != schedtypes.ActionAfterCompletionDelete {
		w.t.Errorf("the retry schedule stays after it fires (%q)", s.ActionAfterCompletion)
	}
	delete(w.sched.schedules, group+"/"+RetryScheduleName)
	return w.handle([]byte(aws.ToString(s.Target.Input)))
}

// CloudFormation waits on the deployment a stack update started: a forced
// deployment of the fallback would replace it under CloudFormation. While
// the service's stack has an operation in progress the function waits.
func TestNeverReplacesADeploymentCloudFormationWaitsOn(t *testing.T) {
	for _, status := range []cfntypes.StackStatus{cfntypes.StackStatusUpdateInProgress, cfntypes.StackStatusCreateInProgress, cfntypes.StackStatusUpdateRollbackInProgress} {
		t.Run(string(status), func(t *testing.T) {
			w := newWorld(t)
			w.stacks.status = status
			w.expect(w.failureAt(w.now), Deferred)
			if len(w.ecs.updates) != 0 {
				t.Fatalf("updated the service during %s", status)
			}
			// Still busy five minutes later: it waits again.
			w.now = w.now.Add(5 * time.Minute)
			if got := w.fireRetry(); got != Deferred || len(w.ecs.updates) != 0 {
				t.Fatalf("retry during %s: got %q, %d updates", status, got, len(w.ecs.updates))
			}
			w.stacks.status = cfntypes.StackStatusUpdateComplete
			w.now = w.now.Add(5 * time.Minute)
			if got := w.fireRetry(); got != FellBack || !sameStrategy(w.strategy(), onDemand) {
				t.Fatalf("retry after the operation: got %q, strategy %s", got, show(w.strategy()))
			}

			// The return to Spot waits for the stack too.
			w.stacks.status = status
			before, _ := w.state()
			if got := w.restoreNow(); got != Postponed || len(w.ecs.updates) != 1 {
				t.Fatalf("restore during %s: got %q with %d updates, want it postponed", status, got, len(w.ecs.updates))
			}
			if after, _ := w.state(); after.RestoreAt.Sub(before.RestoreAt) != 5*time.Minute {
				t.Errorf("restore postponed to %s, want 5 minutes later", after.RestoreAt)
			}
			w.stacks.status = cfntypes.StackStatusUpdateComplete
			if got := w.restoreNow(); got != Restored {
				t.Errorf("the postponed restore: got %q", got)
			}
		})
	}
}

// Two invocations at once (EventBridge's duplicates, a restore and an
// event) would each force a deployment: one acts, the other waits for it.
func TestOneFallbackActionInFlight(t *testing.T) {
	w := newWorld(t)
	// Another invocation holds the lock.
	held := &scheduler.CreateScheduleInput{Name: aws.String(LockScheduleName), GroupName: aws.String(group),
		Target: &schedtypes.Target{Input: aws.String(`{"action":"unlock"}`)}}
	if _, err := w.sched.CreateSchedule(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	w.expect(w.failureAt(w.now), Deferred)
	if len(w.ecs.updates) != 0 {
		t.Fatal("acted while another invocation held the lock")
	}
	// The holder ends and releases it; the retry acts.
	delete(w.sched.schedules, group+"/"+LockScheduleName)
	w.now = w.now.Add(5 * time.Minute)
	if got := w.fireRetry(); got != FellBack {
		t.Fatalf("retry: got %q", got)
	}
	if _, ok := w.sched.schedules[group+"/"+LockScheduleName]; ok {
		t.Error("the lock is still held after the invocation")
	}
	lock := w.sched.locks
	// A lock whose holder died fires once and deletes itself.
	w.expect([]byte(`{"action":"unlock"}`), Ignored)
	if w.sched.locks != lock || len(w.ecs.updates) != 1 {
		t.Error("an expired lock's firing acted")
	}
}

// The template carries no strategy while the fallback is on, so a deploy
// during a fallback neither fails nor undoes it: the end of the stack
// operation keeps the service on on-demand, with the template's base, and
// the restore later puts the template's Spot strategy back.
func TestAStackUpdateDuringAFallbackKeepsIt(t *testing.T) {
	w := newWorld(t)
	w.expect(w.failureAt(w.now), FellBack)
	w.now = w.now.Add(10 * time.Minute)
	w.expect(w.stackEvent(stackID, "UPDATE_COMPLETE"), Ignored)
	if len(w.ecs.updates) != 1 || !sameStrategy(w.strategy(), onDemand) {
		t.Fatalf("a stack update during the fallback: %d updates, strategy %s; want it kept", len(w.ecs.updates), show(w.strategy()))
	}
	// onDemandBaseTasks 1 -> 2 during the fallback: the new base, still on-demand.
	w.f.Spot = []ecstypes.CapacityProviderStrategyItem{
		{CapacityProvider: aws.String("FARGATE"), Base: 2, Weight: 0},
		{CapacityProvider: aws.String("FARGATE_SPOT"), Base: 0, Weight: 1},
	}
	w.expect(w.stackEvent(stackID, "UPDATE_COMPLETE"), Synced)
	want := []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Base: 2, Weight: 1}}
	if !sameStrategy(w.strategy(), want) {
		t.Errorf("strategy %s, want on-demand with base 2", show(w.strategy()))
	}
	if got := w.restoreNow(); got != Restored || !sameStrategy(w.strategy(), w.f.Spot) {
		t.Errorf("restore: got %q, strategy %s; want the new template strategy", got, show(w.strategy()))
	}
}

// Outside a fallback the end of a stack operation applies the template's
// strategy (onDemandBaseTasks changed), and a service found on on-demand
// with no return planned (the schedule group was replaced) gets one.
func TestAStackUpdateAppliesTheTemplateStrategy(t *testing.T) {
	w := newWorld(t)
	w.expect(w.stackEvent(stackID, "UPDATE_COMPLETE"), Ignored)
	w.f.Spot = []ecstypes.CapacityProviderStrategyItem{
		{CapacityProvider: aws.String("FARGATE"), Base: 0, Weight: 0},
		{CapacityProvider: aws.String("FARGATE_SPOT"), Base: 0, Weight: 1},
	}
	w.expect(w.stackEvent(stackID, "UPDATE_ROLLBACK_COMPLETE"), Synced)
	if len(w.ecs.updates) != 1 || !w.ecs.updates[0].ForceNewDeployment || !sameStrategy(w.strategy(), w.f.Spot) {
		t.Fatalf("%d updates, strategy %s; want one forced update to the template's", len(w.ecs.updates), show(w.strategy()))
	}
	for _, ignored := range [][]byte{
		w.stackEvent(stackID, "UPDATE_IN_PROGRESS"),
		w.stackEvent(stackID, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
		w.stackEvent("arn:aws:cloudformation:us-west-2:111122223333:stack/other/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", "UPDATE_COMPLETE"),
	} {
		w.expect(ignored, Ignored)
	}

	w = newWorld(t)
	w.ecs.services[serviceArn].CapacityProviderStrategy = onDemand
	w.expect(w.stackEvent(stackID, "UPDATE_COMPLETE"), Planned)
	if st, _ := w.state(); st.RestoreAt.Sub(w.now) != 30*time.Minute || len(w.ecs.updates) != 0 {
		t.Errorf("state %+v, %d updates; want a return planned and nothing else", st, len(w.ecs.updates))
	}
}
