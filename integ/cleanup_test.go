package integ

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

const (
	testApp  = "fargo-integ-abcd1234"
	otherApp = "fargo-integ-zzzz9999"
)

func newTeardown(t *testing.T, a *fakeAccount, cli *fakeCLI) *Teardown {
	return &Teardown{
		App: testApp, CLI: cli, CloudFormation: a, S3: a, Logs: a,
		Poll: time.Millisecond, RetryAfter: time.Millisecond, Logf: t.Logf,
	}
}

// untouched checks that another test app and a real deployment kept all of
// their resources.
func untouched(t *testing.T, a *fakeAccount) {
	t.Helper()
	for _, app := range []string{otherApp, "fargo"} {
		for _, name := range StackNames(app) {
			if s := a.stack(name); s == nil || s.status != cfntypes.StackStatusCreateComplete {
				t.Errorf("%s was touched", name)
			}
		}
		lower := strings.ToLower(app)
		if _, ok := a.buckets[lower+"-loadbalancer-accesslogs8b620eca-qwe"]; !ok || len(a.buckets[lower+"-loadbalancer-accesslogs8b620eca-qwe"]) != 10 {
			t.Errorf("the bucket of %s was touched", app)
		}
		for _, lg := range []string{app + "-Network-FlowLogs16C1943A-AbC", app + "-Service-LogGroupF5B46931-UiO"} {
			if !a.logGroups[lg] {
				t.Errorf("log group %s was deleted", lg)
			}
		}
	}
}

// accountWithApps holds the test app (its bucket with 2,500 object
// versions and delete markers: three DeleteObjects calls), another test
// app and a real deployment named fargo.
func accountWithApps() *fakeAccount {
	a := newFakeAccount()
	a.addApp("fargo", 10)
	a.addApp(testApp, 2500)
	a.addApp(otherApp, 10)
	return a
}

// gone checks that nothing of the test app is left.
func gone(t *testing.T, a *fakeAccount) {
	t.Helper()
	for _, name := range StackNames(testApp) {
		if s := a.stack(name); s.status != cfntypes.StackStatusDeleteComplete {
			t.Errorf("%s: %s", name, s.status)
		}
	}
	for b := range a.buckets {
		if strings.HasPrefix(b, testApp) {
			t.Errorf("bucket %s is left", b)
		}
	}
	for lg := range a.logGroups {
		if strings.Contains(lg, testApp) {
			t.Errorf("log group %s is left", lg)
		}
	}
}

func TestTeardownRemovesStacksAndWhatTheyRetain(t *testing.T) {
	// GIVEN the test app next to another test app and a real deployment
	a := accountWithApps()
	cli := &fakeCLI{account: a}
	before := len(a.logGroups)

	// WHEN
	if err := newTeardown(t, a, cli).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	// THEN its stacks, bucket and four log groups (flow logs, service,
	// the custom resource's Lambda, Container Insights) are gone, and
	// nothing else
	if cli.calls != 1 {
		t.Errorf("destroy ran %d times, want 1", cli.calls)
	}
	gone(t, a)
	if n := before - len(a.logGroups); n != 4 {
		t.Errorf("%d log groups deleted, want 4", n)
	}
	untouched(t, a)
}

func TestTeardownFindsLeftovers(t *testing.T) {
	a := accountWithApps()
	got, err := newTeardown(t, a, nil).Find(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"log group " + testApp + "-Network-FlowLogs16C1943A-AbC",
		"log group /aws/lambda/" + testApp + "-Network-CustomVpcRestrictDefaultSG-XyZ",
		"bucket " + testApp + "-loadbalancer-accesslogs8b620eca-qwe",
		"log group /aws/ecs/containerinsights/" + testApp + "-Cluster-ClusterEB0386A7-RtY/performance",
		"log group " + testApp + "-Service-LogGroupF5B46931-UiO",
	}
	var names []string
	for _, l := range got {
		names = append(names, l.String())
	}
	if !slices.Equal(names, want) {
		t.Errorf("Find =\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
}

func TestTeardownWaitsForOperationsInProgress(t *testing.T) {
	// GIVEN a deploy that was interrupted: CloudFormation is still
	// creating the Service stack, and rolls it back after a while
	a := accountWithApps()
	a.stack(testApp + "-Service").status = cfntypes.StackStatusCreateInProgress
	lists := 0
	a.onListStacks = func() {
		if lists++; lists == 5 {
			a.stack(testApp + "-Service").status = cfntypes.StackStatusRollbackComplete
		}
	}
	cli := &fakeCLI{account: a}

	// WHEN
	if err := newTeardown(t, a, cli).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	// THEN destroy ran only once nothing was in progress
	if len(cli.busyAtCall) > 0 || lists < 5 {
		t.Errorf("destroy ran while %v were in progress (after %d listings)", cli.busyAtCall, lists)
	}
	gone(t, a)
}

func TestTeardownGivesUpWaitingWithTheContext(t *testing.T) {
	a := accountWithApps()
	a.stack(testApp + "-Network").status = cfntypes.StackStatusUpdateInProgress
	cli := &fakeCLI{account: a}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := newTeardown(t, a, cli).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), testApp+"-Network (UPDATE_IN_PROGRESS)") || cli.calls != 0 {
		t.Errorf("Run = %v after %d destroys, want an error naming the stack in progress and no destroy", err, cli.calls)
	}
}

func TestTeardownDestroysAgainWhenStacksAreLeft(t *testing.T) {
	// GIVEN a first destroy that cannot delete the VPC yet
	a := accountWithApps()
	cli := &fakeCLI{account: a, fail: []string{testApp + "-Network"}, failTimes: 1}

	// WHEN
	if err := newTeardown(t, a, cli).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	// THEN a second destroy finished the job, and the leftovers went after it
	if cli.calls != 2 {
		t.Errorf("destroy ran %d times, want 2", cli.calls)
	}
	gone(t, a)
	untouched(t, a)
}

func TestTeardownKeepsRetainedResourcesWhileStacksRemain(t *testing.T) {
	// GIVEN a stack that no destroy can delete
	a := accountWithApps()
	cli := &fakeCLI{account: a, fail: []string{testApp + "-Network"}, failTimes: 99}
	buckets, logGroups := len(a.buckets), len(a.logGroups)

	// WHEN
	err := newTeardown(t, a, cli).Run(context.Background())

	// THEN it says which stack is left, and deletes no bucket or log group
	// that the stack may still use
	if err == nil || !strings.Contains(err.Error(), testApp+"-Network (DELETE_FAILED)") {
		t.Errorf("Run = %v, want an error naming %s-Network (DELETE_FAILED)", err, testApp)
	}
	if cli.calls != 2 || len(a.buckets) != buckets || len(a.logGroups) != logGroups {
		t.Errorf("%d destroys, %d of %d buckets and %d of %d log groups left; want 2 destroys and all left",
			cli.calls, len(a.buckets), buckets, len(a.logGroups), logGroups)
	}
}

func TestTeardownAfterTheStacksAreGone(t *testing.T) {
	// GIVEN a run whose destroy finished but whose clean-up did not, one
	// log group already deleted by hand: `make integ-clean` then
	a := accountWithApps()
	for _, name := range StackNames(testApp) {
		a.stack(name).status = cfntypes.StackStatusDeleteComplete
	}
	delete(a.logGroups, testApp+"-Service-LogGroupF5B46931-UiO")
	cli := &fakeCLI{account: a}

	// WHEN
	if err := newTeardown(t, a, cli).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	// THEN the resources of the deleted stacks are found by stack id and go
	gone(t, a)
	untouched(t, a)
}

func TestTeardownReportsWhatItCouldNotDelete(t *testing.T) {
	a := accountWithApps()
	a.failDeleteObjects = true
	err := newTeardown(t, a, &fakeCLI{account: a}).Run(context.Background())
	bucket := testApp + "-loadbalancer-accesslogs8b620eca-qwe"
	if err == nil || !strings.Contains(err.Error(), "bucket "+bucket) || !strings.Contains(err.Error(), "Access Denied") {
		t.Errorf("Run = %v, want an error naming bucket %s and the cause", err, bucket)
	}
	// The log groups went all the same.
	for lg := range a.logGroups {
		if strings.Contains(lg, testApp) {
			t.Errorf("log group %s is left", lg)
		}
	}
}

func TestTeardownRefusesOtherApps(t *testing.T) {
	a := accountWithApps()
	cli := &fakeCLI{account: a}
	td := newTeardown(t, a, cli)
	td.App = "fargo"
	if err := td.Run(context.Background()); err == nil || cli.calls != 0 {
		t.Errorf("Run for fargo = %v with %d destroys, want a refusal and none", err, cli.calls)
	}
	untouched(t, a)
}

func TestLeftovers(t *testing.T) {
	a := accountWithApps()
	a.addApp("fargo-integ-dddd0000", 0)
	for _, name := range StackNames("fargo-integ-dddd0000") {
		a.stack(name).status = cfntypes.StackStatusDeleteComplete
	}
	a.stack(otherApp + "-Service").status = cfntypes.StackStatusDeleteComplete
	got, err := Leftovers(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{testApp, otherApp}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("Leftovers = %v, want %v", got, want)
	}
}
