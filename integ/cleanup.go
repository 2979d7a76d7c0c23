package integ

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// CloudFormationAPI is what the teardown asks CloudFormation. ListStacks
// also returns stacks deleted in the last 90 days, and ListStackResources
// takes their stack ids, so leftovers can be found after a destroy too.
type CloudFormationAPI interface {
	ListStacks(context.Context, *cloudformation.ListStacksInput, ...func(*cloudformation.Options)) (*cloudformation.ListStacksOutput, error)
	ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// S3API empties and deletes a bucket.
type S3API interface {
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// LogsAPI deletes a log group.
type LogsAPI interface {
	DeleteLogGroup(context.Context, *cloudwatchlogs.DeleteLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error)
}

// Destroyer deletes an app's stacks: the CDK CLI's `destroy --all`.
type Destroyer interface {
	Destroy(ctx context.Context, app string) error
}

// Leftover is a resource that outlives the app's stacks: the access-log
// bucket and the log groups, which the stacks retain, and the log groups
// that Lambda and Container Insights create for the app at run time.
type Leftover struct {
	Bucket   string // an S3 bucket, or
	LogGroup string // a CloudWatch Logs log group
	Stack    string // the stack it belongs to
}

func (l Leftover) String() string {
	if l.Bucket != "" {
		return "bucket " + l.Bucket
	}
	return "log group " + l.LogGroup
}

// Teardown removes one test app from the account: it waits for stack
// operations in progress, notes the resources that will outlive the stacks,
// destroys the stacks with the CDK CLI (a second time if the first leaves
// some, as a VPC whose task network interfaces are still being released
// can), and then deletes those resources: every object version in the
// bucket, the bucket, the log groups.
type Teardown struct {
	App            string
	CLI            Destroyer
	CloudFormation CloudFormationAPI
	S3             S3API
	Logs           LogsAPI
	// Poll is the pause between stack status checks; RetryAfter the pause
	// before the second destroy.
	Poll, RetryAfter time.Duration
	Logf             func(format string, args ...any)
}

// Run tears the app down; see Teardown. It stops at the first step that
// fails, leaving the rest for `make integ-clean`.
func (td *Teardown) Run(ctx context.Context) error {
	if err := CheckAppName(td.App); err != nil {
		return err
	}
	if _, err := td.waitSettled(ctx); err != nil {
		return err
	}
	leftovers, err := td.Find(ctx)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		td.logf("destroying the stacks of %s (attempt %d)", td.App, attempt)
		destroyErr := td.CLI.Destroy(ctx, td.App)
		remaining, err := td.waitSettled(ctx)
		if err != nil {
			return err
		}
		if len(remaining) == 0 {
			break
		}
		if attempt == 2 {
			return fmt.Errorf("integ: stacks left after two destroys: %s (last destroy: %v)", strings.Join(remaining, ", "), destroyErr)
		}
		td.logf("destroy left %s (%v); trying again in %s", strings.Join(remaining, ", "), destroyErr, td.RetryAfter)
		if err := sleep(ctx, td.RetryAfter); err != nil {
			return err
		}
	}
	return td.Delete(ctx, leftovers)
}

// Find lists the buckets and log groups that outlive the app's stacks, from
// the resources of every stack of that name, live or deleted.
func (td *Teardown) Find(ctx context.Context) ([]Leftover, error) {
	summaries, err := td.stacks(ctx)
	if err != nil {
		return nil, err
	}
	var out []Leftover
	for _, s := range summaries {
		var token *string
		for {
			page, err := td.CloudFormation.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: s.StackId, NextToken: token})
			if err != nil {
				return nil, fmt.Errorf("integ: resources of %s: %w", aws.ToString(s.StackName), err)
			}
			for _, r := range page.StackResourceSummaries {
				if l, ok := leftover(aws.ToString(r.ResourceType), aws.ToString(r.PhysicalResourceId)); ok {
					l.Stack = aws.ToString(s.StackName)
					if !slices.ContainsFunc(out, func(o Leftover) bool { return o.Bucket == l.Bucket && o.LogGroup == l.LogGroup }) {
						out = append(out, l)
					}
				}
			}
			if token = page.NextToken; token == nil {
				break
			}
		}
	}
	return out, nil
}

// leftover says what, if anything, a stack resource leaves behind.
func leftover(typ, physicalID string) (Leftover, bool) {
	if physicalID == "" { // never created
		return Leftover{}, false
	}
	switch typ {
	case "AWS::S3::Bucket":
		return Leftover{Bucket: physicalID}, true
	case "AWS::Logs::LogGroup":
		return Leftover{LogGroup: physicalID}, true
	case "AWS::Lambda::Function": // CDK's custom-resource handlers log here
		return Leftover{LogGroup: "/aws/lambda/" + physicalID}, true
	case "AWS::ECS::Cluster": // Container Insights' performance events
		return Leftover{LogGroup: "/aws/ecs/containerinsights/" + physicalID + "/performance"}, true
	}
	return Leftover{}, false
}

// Delete removes the leftovers; one that is already gone is fine.
func (td *Teardown) Delete(ctx context.Context, leftovers []Leftover) error {
	var errs []error
	for _, l := range leftovers {
		var err error
		if l.Bucket != "" {
			err = td.deleteBucket(ctx, l.Bucket)
		} else {
			_, err = td.Logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(l.LogGroup)})
		}
		switch {
		case notFound(err):
			td.logf("%s: already gone", l)
		case err != nil:
			errs = append(errs, fmt.Errorf("integ: %s: %w", l, err))
		default:
			td.logf("deleted %s", l)
		}
	}
	return errors.Join(errs...)
}

// deleteBucket deletes every object version and delete marker, a page at a
// time, then the bucket.
func (td *Teardown) deleteBucket(ctx context.Context, bucket string) error {
	for {
		page, err := td.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
		if err != nil {
			return err
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) == 0 {
			break
		}
		// A listing page holds at most 1,000 entries, as many as one
		// DeleteObjects call takes.
		out, err := td.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("%d objects not deleted, e.g. %s: %s", len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Message))
		}
	}
	_, err := td.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}

// stacks returns the summaries of every stack, live or deleted, named like
// one of the app's.
func (td *Teardown) stacks(ctx context.Context) ([]cfntypes.StackSummary, error) {
	names := StackNames(td.App)
	var out []cfntypes.StackSummary
	var token *string
	for {
		page, err := td.CloudFormation.ListStacks(ctx, &cloudformation.ListStacksInput{NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("integ: listing stacks: %w", err)
		}
		for _, s := range page.StackSummaries {
			if slices.Contains(names, aws.ToString(s.StackName)) {
				out = append(out, s)
			}
		}
		if token = page.NextToken; token == nil {
			return out, nil
		}
	}
}

// waitSettled waits until none of the app's stacks has an operation in
// progress (an interrupted deploy goes on in CloudFormation), and returns
// those that still exist, with their status.
func (td *Teardown) waitSettled(ctx context.Context) ([]string, error) {
	for {
		summaries, err := td.stacks(ctx)
		if err != nil {
			return nil, err
		}
		var live, busy []string
		for _, s := range summaries {
			status := string(s.StackStatus)
			if s.StackStatus == cfntypes.StackStatusDeleteComplete {
				continue
			}
			live = append(live, aws.ToString(s.StackName)+" ("+status+")")
			if strings.HasSuffix(status, "_IN_PROGRESS") {
				busy = append(busy, aws.ToString(s.StackName)+" ("+status+")")
			}
		}
		if len(busy) == 0 {
			return live, nil
		}
		td.logf("waiting for %s", strings.Join(busy, ", "))
		if err := sleep(ctx, td.Poll); err != nil {
			return nil, fmt.Errorf("integ: still in progress: %s: %w", strings.Join(busy, ", "), err)
		}
	}
}

func (td *Teardown) logf(format string, args ...any) {
	if td.Logf != nil {
		td.Logf(format, args...)
	}
}

// notFound reports whether err says the bucket or log group does not exist.
func notFound(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "NoSuchBucket", "ResourceNotFoundException":
		return true
	}
	return false
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Leftovers lists the test apps that still have stacks in the account and
// region, for `make integ-clean` without APP.
func Leftovers(ctx context.Context, cf CloudFormationAPI) ([]string, error) {
	var apps []string
	var token *string
	for {
		page, err := cf.ListStacks(ctx, &cloudformation.ListStacksInput{NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("integ: listing stacks: %w", err)
		}
		for _, s := range page.StackSummaries {
			name := aws.ToString(s.StackName)
			i := strings.LastIndexByte(name, '-')
			if s.StackStatus == cfntypes.StackStatusDeleteComplete || i < 0 {
				continue
			}
			if app := name[:i]; CheckAppName(app) == nil && slices.Contains(StackNames(app), name) && !slices.Contains(apps, app) {
				apps = append(apps, app)
			}
		}
		if token = page.NextToken; token == nil {
			slices.Sort(apps)
			return apps, nil
		}
	}
}
