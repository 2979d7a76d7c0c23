package integ

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// fakeAccount is an account in memory that answers like CloudFormation, S3
// and CloudWatch Logs do for what the teardown asks: paginated listings,
// deleted stacks still listed, at most 1,000 keys per DeleteObjects, no
// deleting a bucket that is not empty, and the error codes for what does
// not exist.
type fakeAccount struct {
	stacks    []*fakeStack
	buckets   map[string][]s3types.ObjectIdentifier // versions and delete markers
	logGroups map[string]bool
	// pageSize bounds every listing page, to exercise pagination.
	pageSize int
	// failDeleteObjects makes DeleteObjects report one key as not deleted.
	failDeleteObjects bool
	// onListStacks runs before each ListStacks answer (status changes).
	onListStacks func()
}

type fakeStack struct {
	name, id  string
	status    cfntypes.StackStatus
	resources []cfntypes.StackResourceSummary
}

func newFakeAccount() *fakeAccount {
	return &fakeAccount{buckets: map[string][]s3types.ObjectIdentifier{}, logGroups: map[string]bool{}, pageSize: 3}
}

// addApp creates the four stacks of app with the resources that matter to
// the teardown (the physical ids are shaped like CloudFormation's), and the
// bucket and log groups they hold or cause, the bucket with versions
// entries, a third of them delete markers.
func (a *fakeAccount) addApp(app string, versions int) {
	res := func(typ, logical, physical string) cfntypes.StackResourceSummary {
		return cfntypes.StackResourceSummary{
			ResourceType: aws.String(typ), LogicalResourceId: aws.String(logical), PhysicalResourceId: aws.String(physical),
			ResourceStatus: cfntypes.ResourceStatusCreateComplete,
		}
	}
	lower := strings.ToLower(app)
	resources := map[string][]cfntypes.StackResourceSummary{
		"Network": {
			res("AWS::EC2::VPC", "Vpc8378EB38", "vpc-0123"),
			res("AWS::Logs::LogGroup", "FlowLogs16C1943A", app+"-Network-FlowLogs16C1943A-AbC"),
			res("AWS::Lambda::Function", "CustomVpcRestrictDefaultSGCustomResourceProviderHandlerDC833E5E", app+"-Network-CustomVpcRestrictDefaultSG-XyZ"),
			res("AWS::IAM::Role", "Role", app+"-Network-Role-123"),
		},
		"LoadBalancer": {
			res("AWS::S3::Bucket", "AccessLogs8B620ECA", lower+"-loadbalancer-accesslogs8b620eca-qwe"),
			res("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerBE9EEC3A", "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/y"),
			// Creation failed before CloudFormation named it.
			res("AWS::Logs::LogGroup", "NeverCreated", ""),
		},
		"Cluster": {res("AWS::ECS::Cluster", "ClusterEB0386A7", app+"-Cluster-ClusterEB0386A7-RtY")},
		"Service": {
			res("AWS::Logs::LogGroup", "LogGroupF5B46931", app+"-Service-LogGroupF5B46931-UiO"),
			res("AWS::ECS::Service", "Service9571FDD8", "arn:aws:ecs:eu-west-1:123456789012:service/c/s"),
		},
	}
	for _, name := range []string{"Network", "LoadBalancer", "Cluster", "Service"} {
		a.stacks = append(a.stacks, &fakeStack{
			name: app + "-" + name, id: fmt.Sprintf("arn:aws:cloudformation:eu-west-1:123456789012:stack/%s-%s/%d", app, name, len(a.stacks)),
			status: cfntypes.StackStatusCreateComplete, resources: resources[name],
		})
		for _, r := range resources[name] {
			if l, ok := leftover(*r.ResourceType, *r.PhysicalResourceId); ok {
				if l.Bucket != "" {
					a.buckets[l.Bucket] = nil
				} else {
					a.logGroups[l.LogGroup] = true
				}
			}
		}
	}
	bucket := lower + "-loadbalancer-accesslogs8b620eca-qwe"
	for i := range versions {
		version := fmt.Sprintf("v%d", i)
		if i%3 == 2 { // every third entry is a delete marker
			version += "-marker"
		}
		a.buckets[bucket] = append(a.buckets[bucket], s3types.ObjectIdentifier{
			Key: aws.String(fmt.Sprintf("alb/AWSLogs/%d.log.gz", i/2)), VersionId: aws.String(version),
		})
	}
}

func (a *fakeAccount) stack(name string) *fakeStack {
	for _, s := range slices.Backward(a.stacks) {
		if s.name == name {
			return s
		}
	}
	return nil
}

// page returns the items of page token and the next token.
func page[T any](items []T, token *string, size int) ([]T, *string) {
	start, _ := strconv.Atoi(aws.ToString(token))
	end := min(start+size, len(items))
	if end == len(items) {
		return items[start:end], nil
	}
	return items[start:end], aws.String(strconv.Itoa(end))
}

func (a *fakeAccount) ListStacks(_ context.Context, in *cloudformation.ListStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStacksOutput, error) {
	if in.NextToken == nil && a.onListStacks != nil {
		a.onListStacks()
	}
	var all []cfntypes.StackSummary
	for _, s := range a.stacks {
		all = append(all, cfntypes.StackSummary{StackName: aws.String(s.name), StackId: aws.String(s.id), StackStatus: s.status})
	}
	items, next := page(all, in.NextToken, a.pageSize)
	return &cloudformation.ListStacksOutput{StackSummaries: items, NextToken: next}, nil
}

func (a *fakeAccount) ListStackResources(_ context.Context, in *cloudformation.ListStackResourcesInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	for _, s := range a.stacks {
		// A deleted stack is found by id only, as in CloudFormation.
		if s.id == aws.ToString(in.StackName) || (s.name == aws.ToString(in.StackName) && s.status != cfntypes.StackStatusDeleteComplete) {
			items, next := page(s.resources, in.NextToken, a.pageSize)
			return &cloudformation.ListStackResourcesOutput{StackResourceSummaries: items, NextToken: next}, nil
		}
	}
	return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + aws.ToString(in.StackName) + " does not exist"}
}

func (a *fakeAccount) ListObjectVersions(_ context.Context, in *s3.ListObjectVersionsInput, _ ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	objects, ok := a.buckets[aws.ToString(in.Bucket)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchBucket"}
	}
	out := &s3.ListObjectVersionsOutput{IsTruncated: aws.Bool(len(objects) > 1000)}
	for _, o := range objects[:min(len(objects), 1000)] {
		if strings.HasSuffix(*o.VersionId, "-marker") {
			out.DeleteMarkers = append(out.DeleteMarkers, s3types.DeleteMarkerEntry{Key: o.Key, VersionId: o.VersionId})
		} else {
			out.Versions = append(out.Versions, s3types.ObjectVersion{Key: o.Key, VersionId: o.VersionId})
		}
	}
	return out, nil
}

func (a *fakeAccount) DeleteObjects(_ context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	bucket := aws.ToString(in.Bucket)
	if _, ok := a.buckets[bucket]; !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchBucket"}
	}
	if len(in.Delete.Objects) > 1000 {
		return nil, &smithy.GenericAPIError{Code: "MalformedXML", Message: "more than 1000 keys"}
	}
	out := &s3.DeleteObjectsOutput{}
	for i, id := range in.Delete.Objects {
		if a.failDeleteObjects && i == 0 {
			out.Errors = append(out.Errors, s3types.Error{Key: id.Key, Code: aws.String("AccessDenied"), Message: aws.String("Access Denied")})
			continue
		}
		a.buckets[bucket] = slices.DeleteFunc(a.buckets[bucket], func(o s3types.ObjectIdentifier) bool {
			return *o.Key == *id.Key && *o.VersionId == *id.VersionId
		})
	}
	return out, nil
}

func (a *fakeAccount) DeleteBucket(_ context.Context, in *s3.DeleteBucketInput, _ ...func(*s3.Options)) (*s3.DeleteBucketOutput, error) {
	objects, ok := a.buckets[aws.ToString(in.Bucket)]
	switch {
	case !ok:
		return nil, &smithy.GenericAPIError{Code: "NoSuchBucket"}
	case len(objects) > 0:
		return nil, &smithy.GenericAPIError{Code: "BucketNotEmpty"}
	}
	delete(a.buckets, aws.ToString(in.Bucket))
	return &s3.DeleteBucketOutput{}, nil
}

func (a *fakeAccount) DeleteLogGroup(_ context.Context, in *cloudwatchlogs.DeleteLogGroupInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error) {
	if !a.logGroups[aws.ToString(in.LogGroupName)] {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}
	}
	delete(a.logGroups, aws.ToString(in.LogGroupName))
	return &cloudwatchlogs.DeleteLogGroupOutput{}, nil
}

// fakeCLI destroys like `cdk destroy --all`: every live stack of the app
// becomes DELETE_COMPLETE, except those named in fail (DELETE_FAILED, and
// an error), for as many calls as failTimes says.
type fakeCLI struct {
	account   *fakeAccount
	calls     int
	fail      []string
	failTimes int
	// busyAtCall records a stack that was in progress when Destroy ran.
	busyAtCall []string
}

func (c *fakeCLI) Destroy(_ context.Context, app string) error {
	c.calls++
	failing := c.calls <= c.failTimes
	var err error
	for _, s := range c.account.stacks {
		if !strings.HasPrefix(s.name, app+"-") || s.status == cfntypes.StackStatusDeleteComplete {
			continue
		}
		if strings.HasSuffix(string(s.status), "_IN_PROGRESS") {
			c.busyAtCall = append(c.busyAtCall, s.name)
		}
		if failing && slices.Contains(c.fail, s.name) {
			s.status = cfntypes.StackStatusDeleteFailed
			err = fmt.Errorf("%s: DELETE_FAILED", s.name)
			continue
		}
		s.status = cfntypes.StackStatusDeleteComplete
	}
	return err
}
