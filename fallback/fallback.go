// Package fallback moves one ECS service from Fargate Spot to on-demand
// Fargate when ECS reports that it cannot place the service's Spot tasks for
// lack of capacity, and back to its Spot strategy after a quiet period.
//
// ECS never does this itself: with no Spot capacity it keeps retrying Spot
// and the service runs short of tasks exactly when the region is busiest.
// The function in cmd/spotfallback runs this package; the Service stack
// (stacks/fallback.go) wires the EventBridge rule, the schedule group and
// the permissions.
//
// The state lives in one EventBridge Scheduler schedule of the function's
// own group: its payload says when the service last fell back, at which
// back-off level, and when it returns (or returned) to Spot. A one-time
// schedule is kept after it fires, so that the next fallback can tell a
// repeat (the quiet period doubles) from a fresh start. No table is needed.
//
// The function owns the service's capacity-provider strategy while the
// fallback is on: the template carries none (CloudFormation sends the
// template's strategy with every update of the service, and ECS refuses a
// strategy change without a forced deployment, so a deploy during a
// fallback would either fail or undo it), and the function applies the
// template's strategy after each stack operation instead (Sync). It never
// acts while the service's stack has an operation in progress, whose
// deployment CloudFormation may be waiting on: it tries again later. And
// at most one invocation acts at a time: each takes a lock, a schedule
// that only one CreateSchedule can create.
package fallback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// The event that means the scheduler could not place a task for lack of
// Fargate capacity: AWS's example "Service task placement failure event"
// (Amazon ECS developer guide, "Amazon ECS service action events") carries
// eventName SERVICE_TASK_PLACEMENT_FAILURE, reason RESOURCE:FARGATE and the
// FARGATE_SPOT capacity provider's ARN in capacityProviderArns. The stacks'
// EventBridge rule matches the same fields; the function checks them again
// because anyone allowed to invoke it could send anything.
const (
	eventSource        = "aws.ecs"
	eventDetailType    = "ECS Service Action"
	placementFailure   = "SERVICE_TASK_PLACEMENT_FAILURE"
	capacityReason     = "RESOURCE:FARGATE"
	spotProviderSuffix = "/FARGATE_SPOT"
)

const (
	spotProvider     = "FARGATE_SPOT"
	onDemandProvider = "FARGATE"
	restoreAction    = "restore"
	retryAction      = "retry"
	unlockAction     = "unlock"
)

// The event CloudFormation sends when a stack changes status ("Stack
// Status Change event detail", AWS CloudFormation User Guide): the end of
// an operation on the service's stack is when the function applies the
// template's strategy.
const (
	stackEventSource     = "aws.cloudformation"
	stackEventDetailType = "CloudFormation Stack Status Change"
)

// The other schedules of the group, beside ScheduleName: the lock that
// keeps a second invocation from acting at the same time, and the retry of
// an invocation that had to wait. Both delete themselves after they fire.
const (
	LockScheduleName  = "in-flight"
	RetryScheduleName = "retry"
)

// lockTTL is how long a lock outlives an invocation that died holding it:
// more than the function's timeout (60 s).
const lockTTL = 2 * time.Minute

// ECS is the part of the ECS API the fallback uses.
type ECS interface {
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// Scheduler is the part of the EventBridge Scheduler API the fallback uses.
type Scheduler interface {
	GetSchedule(context.Context, *scheduler.GetScheduleInput, ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(context.Context, *scheduler.UpdateScheduleInput, ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// Stacks is the part of the CloudFormation API the fallback uses: the
// status of the service's own stack.
type Stacks interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// Publisher sends the alarm topic a message.
type Publisher interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Config is what the stacks tell the function (as environment variables).
type Config struct {
	ClusterArn string
	ServiceArn string
	// StackID is the service's CloudFormation stack: while it has an
	// operation in progress the function leaves the service alone.
	StackID string
	// Spot is the capacity-provider strategy of the template, which a
	// restore puts back: not the one the service had before the fallback,
	// which a deploy may have changed since.
	Spot []ecstypes.CapacityProviderStrategyItem
	// ScheduleGroup and ScheduleName name the one schedule that holds the
	// state and brings Spot back; SchedulerRoleArn is the role it invokes
	// the function with.
	ScheduleGroup    string
	ScheduleName     string
	SchedulerRoleArn string
	// TopicArn, when set, receives a message on every switch.
	TopicArn string
	// QuietPeriod is how long the service stays on on-demand after its
	// first fallback; each fallback within ResetAfter of the last return
	// to Spot doubles it, up to MaxQuietPeriod.
	QuietPeriod    time.Duration
	MaxQuietPeriod time.Duration
	ResetAfter     time.Duration
	// RetryAfter is how long an invocation that had to wait (for
	// CloudFormation, or for another invocation) waits before it tries
	// again.
	RetryAfter time.Duration
}

// Fallback decides and acts for one service.
type Fallback struct {
	Config
	ECS       ECS
	Scheduler Scheduler
	// SNS may be nil when TopicArn is empty.
	SNS    Publisher
	Stacks Stacks
	Now    func() time.Time
	Log    *slog.Logger
}

// State is the payload of the restore schedule.
type State struct {
	Action string `json:"action"`
	// Level counts the fallbacks in a row: the quiet period is
	// QuietPeriod << Level.
	Level      int       `json:"level"`
	FallbackAt time.Time `json:"fallbackAt"`
	RestoreAt  time.Time `json:"restoreAt"`
}

// Outcome says what one invocation did, for the log and the tests.
type Outcome string

// The outcomes.
const (
	FellBack  Outcome = "fell back to on-demand"
	Restored  Outcome = "restored the Spot strategy"
	Postponed Outcome = "postponed the return to Spot"
	Planned   Outcome = "planned a return to Spot"
	Synced    Outcome = "applied the template's strategy"
	Deferred  Outcome = "deferred: tries again later"
	Ignored   Outcome = "ignored"
)

// retry is the payload of the retry schedule: the invocation that waited.
type retry struct {
	Action  string          `json:"action"`
	Payload json.RawMessage `json:"payload"`
}

// Handle runs one invocation: an EventBridge event from ECS, or the
// payload of the restore schedule. functionArn is the function's own ARN,
// which the schedule invokes.
func (f *Fallback) Handle(ctx context.Context, functionArn string, payload json.RawMessage) (Outcome, error) {
	var probe struct {
		Action     string `json:"action"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return f.ignore("not JSON", "error", err.Error())
	}
	switch {
	case probe.Action == retryAction:
		var r retry
		if err := json.Unmarshal(payload, &r); err != nil || r.Payload == nil {
			return f.ignore("malformed retry payload")
		}
		var inner struct {
			Action string `json:"action"`
		}
		if json.Unmarshal(r.Payload, &inner) == nil && inner.Action == retryAction {
			return f.ignore("a retry of a retry")
		}
		return f.Handle(ctx, functionArn, r.Payload)
	case probe.Action == unlockAction:
		return f.ignore("the lock of an invocation that ended without releasing it expired")
	case probe.Action == restoreAction:
		var s State
		if err := json.Unmarshal(payload, &s); err != nil {
			return f.ignore("malformed restore payload", "error", err.Error())
		}
		return f.exclusive(ctx, functionArn, payload, func() (Outcome, error) { return f.restore(ctx, functionArn, s) })
	case probe.DetailType == stackEventDetailType:
		var e events.EventBridgeEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			return f.ignore("malformed event", "error", err.Error())
		}
		if ok, why := f.isStackOperationEnd(e); !ok {
			return f.ignore(why, "event", e.ID)
		}
		return f.exclusive(ctx, functionArn, payload, func() (Outcome, error) { return f.sync(ctx, functionArn) })
	case probe.DetailType != "":
		var e events.EventBridgeEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			return f.ignore("malformed event", "error", err.Error())
		}
		if ok, why := f.isSpotCapacityFailure(e); !ok {
			return f.ignore(why, "event", e.ID)
		}
		return f.exclusive(ctx, functionArn, payload, func() (Outcome, error) { return f.onEvent(ctx, functionArn, payload, e) })
	}
	return f.ignore("neither an ECS event nor a restore")
}

// stackDetail is the detail of a CloudFormation Stack Status Change event.
type stackDetail struct {
	StackID       string `json:"stack-id"`
	StatusDetails struct {
		Status string `json:"status"`
	} `json:"status-details"`
}

// isStackOperationEnd reports whether e says that an operation on the
// service's stack is over: the template's strategy is then what the
// service should run with.
func (f *Fallback) isStackOperationEnd(e events.EventBridgeEvent) (bool, string) {
	var d stackDetail
	_ = json.Unmarshal(e.Detail, &d)
	switch {
	case e.Source != stackEventSource || d.StackID != f.StackID:
		return false, "another stack's event"
	case !slices.Contains([]string{"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}, d.StatusDetails.Status):
		return false, "not the end of a stack operation: " + d.StatusDetails.Status
	}
	return true, ""
}

// placementDetail is the detail of an ECS Service Action event.
type placementDetail struct {
	EventName            string   `json:"eventName"`
	ClusterArn           string   `json:"clusterArn"`
	CapacityProviderArns []string `json:"capacityProviderArns"`
	Reason               string   `json:"reason"`
}

// isSpotCapacityFailure reports whether e says that this service's Spot
// tasks cannot be placed for lack of capacity.
func (f *Fallback) isSpotCapacityFailure(e events.EventBridgeEvent) (bool, string) {
	var d placementDetail
	_ = json.Unmarshal(e.Detail, &d)
	switch {
	case e.Source != eventSource || e.DetailType != eventDetailType || d.EventName != placementFailure:
		return false, "not a task placement failure"
	case !slices.Contains(e.Resources, f.ServiceArn) || d.ClusterArn != f.ClusterArn:
		return false, "another service's event"
	case !strings.HasPrefix(d.Reason, capacityReason):
		return false, "a placement failure for another reason: " + d.Reason
	case !slices.ContainsFunc(d.CapacityProviderArns, func(a string) bool { return strings.HasSuffix(a, spotProviderSuffix) }):
		return false, "not a Fargate Spot capacity failure"
	}
	return true, ""
}

func (f *Fallback) onEvent(ctx context.Context, functionArn string, payload json.RawMessage, e events.EventBridgeEvent) (Outcome, error) {
	now := f.Now()
	prev, err := f.state(ctx)
	if err != nil {
		return "", err
	}
	// EventBridge retries and may deliver late or out of order: an event
	// from before the last return to Spot says nothing about Spot now.
	// During a fallback a duplicate finds the service on on-demand below;
	// one that finds it on Spot (the strategy was set back by hand, or this
	// function's update failed after it wrote the schedule) falls back
	// again, which is what a retry needs.
	if prev != nil && !prev.RestoreAt.After(now) && e.Time.Before(prev.RestoreAt) {
		return f.ignore("an event from before the last switch", "event", e.ID, "eventTime", e.Time)
	}
	svc, err := f.describe(ctx)
	if err != nil {
		return "", err
	}
	if rollingBack(svc) {
		return f.ignore("a deployment is rolling back; the fallback would fight it", "event", e.ID)
	}
	if !usesSpot(svc.CapacityProviderStrategy) {
		if prev != nil && prev.RestoreAt.After(now) {
			return f.ignore("already on on-demand", "event", e.ID, "restoreAt", prev.RestoreAt)
		}
		// On on-demand with no return planned (a schedule write that
		// failed, a strategy set by hand): plan one, so that the service is
		// never left without a way back to Spot.
		next := f.next(prev, now)
		if err := f.save(ctx, functionArn, next); err != nil {
			return "", err
		}
		f.Log.Warn("on on-demand with no return to Spot planned: planned one", "service", f.ServiceArn, "restoreAt", next.RestoreAt)
		return Planned, nil
	}
	// CloudFormation may be waiting on the deployment in progress: a forced
	// one would replace it under it.
	if busy, status, err := f.stackBusy(ctx); err != nil {
		return "", err
	} else if busy {
		return f.retryLater(ctx, functionArn, payload, "the service's stack is "+status)
	}
	next := f.next(prev, now)
	// The schedule first: if the update then fails, the restore finds the
	// service on Spot and does nothing; the other way round a failure could
	// leave it on on-demand for good.
	if err := f.save(ctx, functionArn, next); err != nil {
		return "", err
	}
	if err := f.update(ctx, f.onDemand()); err != nil {
		return "", err
	}
	quiet := next.RestoreAt.Sub(next.FallbackAt)
	f.Log.Warn("Fargate Spot capacity unavailable: moved the service to on-demand Fargate",
		"service", f.ServiceArn, "event", e.ID, "level", next.Level, "quietPeriod", quiet.String(), "restoreAt", next.RestoreAt)
	f.notify(ctx, "Spot capacity unavailable: on-demand until "+next.RestoreAt.Format(time.RFC3339),
		fmt.Sprintf("ECS could not place the Fargate Spot tasks of %s (event %s, %s).\n\n"+
			"The service now runs on on-demand Fargate only, with a new deployment. It returns to its Spot strategy at %s (a quiet period of %s; fallback %d in a row).\n\n"+
			"On-demand Fargate costs about three times Fargate Spot while it lasts.",
			f.ServiceArn, e.ID, e.Time.Format(time.RFC3339), next.RestoreAt.Format(time.RFC3339), quiet, next.Level+1))
	return FellBack, nil
}

// next is the state after a fallback now: the quiet period doubles while
// fallbacks follow each other, and starts again from QuietPeriod once Spot
// has held for ResetAfter.
func (f *Fallback) next(prev *State, now time.Time) State {
	level := 0
	if prev != nil {
		switch {
		case prev.RestoreAt.After(now):
			// Spot is back before the planned return (set by hand, or an
			// update that failed after the schedule): the same fallback
			// goes on.
			level = prev.Level
		case now.Sub(prev.RestoreAt) < f.ResetAfter:
			level = prev.Level + 1
		}
	}
	quiet := f.QuietPeriod
	for i := 0; i < level && quiet < f.MaxQuietPeriod; i++ {
		quiet *= 2
	}
	quiet = min(quiet, f.MaxQuietPeriod)
	return State{Action: restoreAction, Level: level, FallbackAt: now, RestoreAt: now.Add(quiet)}
}

func (f *Fallback) restore(ctx context.Context, functionArn string, s State) (Outcome, error) {
	cur, err := f.state(ctx)
	if err != nil {
		return "", err
	}
	// A late retry of an earlier schedule must not end a later fallback
	// early.
	if cur == nil || !cur.FallbackAt.Equal(s.FallbackAt) {
		return f.ignore("a restore of an earlier fallback", "fallbackAt", s.FallbackAt)
	}
	svc, err := f.describe(ctx)
	if err != nil {
		return "", err
	}
	now := f.Now()
	if rollingBack(svc) {
		cur.RestoreAt = now.Add(f.QuietPeriod)
		if err := f.save(ctx, functionArn, *cur); err != nil {
			return "", err
		}
		f.Log.Info("a deployment is rolling back: the return to Spot waits", "service", f.ServiceArn, "restoreAt", cur.RestoreAt)
		return Postponed, nil
	}
	if sameStrategy(svc.CapacityProviderStrategy, f.Spot) {
		return f.ignore("already on the template's strategy")
	}
	if busy, status, err := f.stackBusy(ctx); err != nil {
		return "", err
	} else if busy {
		cur.RestoreAt = now.Add(f.RetryAfter)
		if err := f.save(ctx, functionArn, *cur); err != nil {
			return "", err
		}
		f.Log.Info("the service's stack is "+status+": the return to Spot waits", "service", f.ServiceArn, "restoreAt", cur.RestoreAt)
		return Postponed, nil
	}
	if err := f.update(ctx, f.Spot); err != nil {
		return "", err
	}
	f.Log.Info("quiet period over: moved the service back to its Spot strategy",
		"service", f.ServiceArn, "level", s.Level, "onDemandFor", now.Sub(s.FallbackAt).Round(time.Second).String())
	f.notify(ctx, "Back on Fargate Spot",
		fmt.Sprintf("%s returned to its Spot strategy after %s on on-demand Fargate, with a new deployment. If Spot capacity is still short, it falls back again, for longer.",
			f.ServiceArn, now.Sub(s.FallbackAt).Round(time.Minute)))
	return Restored, nil
}

// sync runs after each operation on the service's stack: the template
// carries no strategy, so this is where a change of it (onDemandBaseTasks)
// reaches the service, and where a fallback whose state a deploy lost (the
// schedule group replaced) gets a return to Spot again.
func (f *Fallback) sync(ctx context.Context, functionArn string) (Outcome, error) {
	if busy, status, err := f.stackBusy(ctx); err != nil {
		return "", err
	} else if busy {
		return f.ignore("the service's stack is " + status + " again; the end of that operation syncs")
	}
	prev, err := f.state(ctx)
	if err != nil {
		return "", err
	}
	svc, err := f.describe(ctx)
	if err != nil {
		return "", err
	}
	if rollingBack(svc) {
		return f.ignore("a deployment is rolling back")
	}
	now := f.Now()
	want := f.Spot
	if !usesSpot(svc.CapacityProviderStrategy) {
		if prev == nil || !prev.RestoreAt.After(now) {
			next := f.next(prev, now)
			if err := f.save(ctx, functionArn, next); err != nil {
				return "", err
			}
			f.Log.Warn("on on-demand with no return to Spot planned: planned one", "service", f.ServiceArn, "restoreAt", next.RestoreAt)
			return Planned, nil
		}
		// The fallback goes on, with the template's base.
		want = f.onDemand()
	}
	if sameStrategy(svc.CapacityProviderStrategy, want) {
		return f.ignore("the service already runs the strategy it should")
	}
	if err := f.update(ctx, want); err != nil {
		return "", err
	}
	f.Log.Info("applied the template's strategy after the stack operation", "service", f.ServiceArn, "strategy", formatStrategy(want))
	return Synced, nil
}

// stackBusy reports whether the service's stack has an operation in
// progress, and its status.
func (f *Fallback) stackBusy(ctx context.Context) (bool, string, error) {
	if f.Stacks == nil || f.StackID == "" {
		return false, "", nil
	}
	out, err := f.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(f.StackID)})
	if err != nil {
		return false, "", fmt.Errorf("describing stack %s: %w", f.StackID, err)
	}
	for _, st := range out.Stacks {
		status := string(st.StackStatus)
		return strings.HasSuffix(status, "_IN_PROGRESS"), status, nil
	}
	return false, "", fmt.Errorf("describing stack %s: not found", f.StackID)
}

// exclusive runs act while holding the lock: a schedule that only one
// CreateSchedule can create. An invocation that finds it taken tries again
// later; a lock whose holder died fires once after lockTTL (an "unlock"
// that does nothing) and deletes itself.
func (f *Fallback) exclusive(ctx context.Context, functionArn string, payload json.RawMessage, act func() (Outcome, error)) (Outcome, error) {
	input, _ := json.Marshal(map[string]string{"action": unlockAction})
	_, err := f.Scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String(LockScheduleName), GroupName: aws.String(f.ScheduleGroup),
		ScheduleExpression:         aws.String("at(" + f.Now().Add(lockTTL).UTC().Format("2006-01-02T15:04:05") + ")"),
		ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:         &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target:                     &schedtypes.Target{Arn: aws.String(functionArn), RoleArn: aws.String(f.SchedulerRoleArn), Input: aws.String(string(input))},
		Description:                aws.String("Held while the Spot fallback of " + f.ServiceArn + " acts"),
		ActionAfterCompletion:      schedtypes.ActionAfterCompletionDelete,
	})
	var conflict *schedtypes.ConflictException
	if errors.As(err, &conflict) {
		return f.retryLater(ctx, functionArn, payload, "another invocation is acting")
	}
	if err != nil {
		return "", fmt.Errorf("taking the lock %s/%s: %w", f.ScheduleGroup, LockScheduleName, err)
	}
	defer func() {
		if _, err := f.Scheduler.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{
			Name: aws.String(LockScheduleName), GroupName: aws.String(f.ScheduleGroup),
		}); err != nil {
			f.Log.Error("could not release the lock; it expires by itself", "schedule", f.ScheduleGroup+"/"+LockScheduleName, "error", err.Error())
		}
	}()
	return act()
}

// retryLater writes the retry schedule, which hands payload back to the
// function after RetryAfter. There is one: a later wait replaces an
// earlier one, and either finds the service as it is then.
func (f *Fallback) retryLater(ctx context.Context, functionArn string, payload json.RawMessage, why string) (Outcome, error) {
	input, err := json.Marshal(retry{Action: retryAction, Payload: payload})
	if err != nil {
		return "", err
	}
	at := f.Now().Add(f.RetryAfter)
	target := &schedtypes.Target{Arn: aws.String(functionArn), RoleArn: aws.String(f.SchedulerRoleArn), Input: aws.String(string(input))}
	expr := aws.String("at(" + at.UTC().Format("2006-01-02T15:04:05") + ")")
	window := &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
	desc := aws.String("Hands an invocation of the Spot fallback of " + f.ServiceArn + " that had to wait back to it")
	_, err = f.Scheduler.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
		Name: aws.String(RetryScheduleName), GroupName: aws.String(f.ScheduleGroup),
		ScheduleExpression: expr, ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow: window, Target: target, Description: desc,
		ActionAfterCompletion: schedtypes.ActionAfterCompletionDelete,
	})
	var notFound *schedtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		_, err = f.Scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name: aws.String(RetryScheduleName), GroupName: aws.String(f.ScheduleGroup),
			ScheduleExpression: expr, ScheduleExpressionTimezone: aws.String("UTC"),
			FlexibleTimeWindow: window, Target: target, Description: desc,
			ActionAfterCompletion: schedtypes.ActionAfterCompletionDelete,
		})
	}
	if err != nil {
		return "", fmt.Errorf("writing schedule %s/%s: %w", f.ScheduleGroup, RetryScheduleName, err)
	}
	f.Log.Info("deferred: "+why, "service", f.ServiceArn, "retryAt", at)
	return Deferred, nil
}

// formatStrategy writes a strategy as ParseStrategy reads it.
func formatStrategy(s []ecstypes.CapacityProviderStrategyItem) string {
	parts := make([]string, len(s))
	for i, item := range s {
		parts[i] = fmt.Sprintf("%s:%d:%d", aws.ToString(item.CapacityProvider), item.Base, item.Weight)
	}
	return strings.Join(parts, ",")
}

// onDemand is the template's strategy with every task on FARGATE: the same
// base, no Spot.
func (f *Fallback) onDemand() []ecstypes.CapacityProviderStrategyItem {
	var base int32
	for _, item := range f.Spot {
		base += item.Base
	}
	return []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String(onDemandProvider), Base: base, Weight: 1}}
}

func (f *Fallback) describe(ctx context.Context) (ecstypes.Service, error) {
	out, err := f.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String(f.ClusterArn),
		Services: []string{f.ServiceArn},
	})
	if err != nil {
		return ecstypes.Service{}, fmt.Errorf("describing %s: %w", f.ServiceArn, err)
	}
	for _, s := range out.Services {
		if aws.ToString(s.ServiceArn) == f.ServiceArn {
			return s, nil
		}
	}
	return ecstypes.Service{}, fmt.Errorf("describing %s: not found", f.ServiceArn)
}

func (f *Fallback) update(ctx context.Context, strategy []ecstypes.CapacityProviderStrategyItem) error {
	// ECS moves tasks to another capacity provider only with a new
	// deployment.
	_, err := f.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster:                  aws.String(f.ClusterArn),
		Service:                  aws.String(f.ServiceArn),
		CapacityProviderStrategy: strategy,
		ForceNewDeployment:       true,
	})
	if err != nil {
		return fmt.Errorf("updating %s: %w", f.ServiceArn, err)
	}
	return nil
}

// state reads the restore schedule's payload; nil when the service never
// fell back.
func (f *Fallback) state(ctx context.Context) (*State, error) {
	out, err := f.Scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{
		Name:      aws.String(f.ScheduleName),
		GroupName: aws.String(f.ScheduleGroup),
	})
	var notFound *schedtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading schedule %s/%s: %w", f.ScheduleGroup, f.ScheduleName, err)
	}
	var s State
	if out.Target == nil || json.Unmarshal([]byte(aws.ToString(out.Target.Input)), &s) != nil || s.Action != restoreAction {
		// Not ours to read: start afresh rather than stay stuck.
		return nil, nil
	}
	return &s, nil
}

// save writes s as the restore schedule, which invokes the function at
// s.RestoreAt.
func (f *Fallback) save(ctx context.Context, functionArn string, s State) error {
	input, err := json.Marshal(s)
	if err != nil {
		return err
	}
	target := &schedtypes.Target{
		Arn:     aws.String(functionArn),
		RoleArn: aws.String(f.SchedulerRoleArn),
		Input:   aws.String(string(input)),
	}
	expr := aws.String("at(" + s.RestoreAt.UTC().Format("2006-01-02T15:04:05") + ")")
	window := &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
	desc := aws.String("Returns " + f.ServiceArn + " to its Fargate Spot strategy; its payload is the fallback's state")
	// NONE keeps the schedule after it fires: it is the record of the last
	// fallback that the back-off reads.
	_, err = f.Scheduler.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
		Name: aws.String(f.ScheduleName), GroupName: aws.String(f.ScheduleGroup),
		ScheduleExpression: expr, ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow: window, Target: target, Description: desc,
		ActionAfterCompletion: schedtypes.ActionAfterCompletionNone,
	})
	var notFound *schedtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		_, err = f.Scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name: aws.String(f.ScheduleName), GroupName: aws.String(f.ScheduleGroup),
			ScheduleExpression: expr, ScheduleExpressionTimezone: aws.String("UTC"),
			FlexibleTimeWindow: window, Target: target, Description: desc,
			ActionAfterCompletion: schedtypes.ActionAfterCompletionNone,
		})
	}
	if err != nil {
		return fmt.Errorf("writing schedule %s/%s: %w", f.ScheduleGroup, f.ScheduleName, err)
	}
	return nil
}

// notify tells the alarm topic, when there is one. A failed message is
// logged, not retried: the switch itself has happened.
func (f *Fallback) notify(ctx context.Context, subject, message string) {
	if f.TopicArn == "" || f.SNS == nil {
		return
	}
	if _, err := f.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(f.TopicArn),
		Subject:  aws.String(subject),
		Message:  aws.String(message),
	}); err != nil {
		f.Log.Error("could not notify the alarm topic", "topic", f.TopicArn, "error", err.Error())
	}
}

func (f *Fallback) ignore(why string, attrs ...any) (Outcome, error) {
	f.Log.Info("ignored: "+why, attrs...)
	return Ignored, nil
}

// rollingBack reports whether the circuit breaker or a deployment alarm is
// rolling a deployment back: ECS then lists the failed deployment beside
// the one that replaces it, whose reason says so.
func rollingBack(svc ecstypes.Service) bool {
	for _, d := range svc.Deployments {
		// A failed deployment that ECS has finished replacing is INACTIVE.
		if d.RolloutState == ecstypes.DeploymentRolloutStateFailed && aws.ToString(d.Status) != "INACTIVE" {
			return true
		}
		if d.RolloutState == ecstypes.DeploymentRolloutStateInProgress &&
			strings.Contains(strings.ToLower(aws.ToString(d.RolloutStateReason)), "rolling back") {
			return true
		}
	}
	return false
}

// usesSpot reports whether the strategy can place tasks on Fargate Spot.
func usesSpot(strategy []ecstypes.CapacityProviderStrategyItem) bool {
	return slices.ContainsFunc(strategy, func(i ecstypes.CapacityProviderStrategyItem) bool {
		return aws.ToString(i.CapacityProvider) == spotProvider && (i.Weight > 0 || i.Base > 0)
	})
}

// sameStrategy compares two strategies in any order.
func sameStrategy(a, b []ecstypes.CapacityProviderStrategyItem) bool {
	key := func(s []ecstypes.CapacityProviderStrategyItem) []string {
		k := make([]string, len(s))
		for i, item := range s {
			k[i] = fmt.Sprintf("%s/%d/%d", aws.ToString(item.CapacityProvider), item.Base, item.Weight)
		}
		slices.Sort(k)
		return k
	}
	return slices.Equal(key(a), key(b))
}

// ParseStrategy reads a strategy as the stacks pass it:
// FARGATE:base:weight,FARGATE_SPOT:base:weight.
func ParseStrategy(s string) ([]ecstypes.CapacityProviderStrategyItem, error) {
	var out []ecstypes.CapacityProviderStrategyItem
	for item := range strings.SplitSeq(s, ",") {
		var provider string
		var base, weight int32
		if n, err := fmt.Sscanf(strings.ReplaceAll(item, ":", " "), "%s %d %d", &provider, &base, &weight); err != nil || n != 3 {
			return nil, fmt.Errorf("capacity-provider strategy %q: want PROVIDER:BASE:WEIGHT items separated by commas", s)
		}
		out = append(out, ecstypes.CapacityProviderStrategyItem{CapacityProvider: aws.String(provider), Base: base, Weight: weight})
	}
	if !usesSpot(out) {
		return nil, fmt.Errorf("capacity-provider strategy %q has no Fargate Spot to return to", s)
	}
	return out, nil
}
