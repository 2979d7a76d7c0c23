package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// An environment-agnostic asset manifest names the account, partition and
// region as placeholders, which cdk-assets replaces with the current ones.
func TestPlaceholders(t *testing.T) {
	r := &ecrResolver{account: "123456789012", partition: "aws-us-gov", region: "us-gov-west-1"}
	got := r.placeholders("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-image-publishing-role-${AWS::AccountId}-${AWS::Region}", "eu-west-1")
	if want := "arn:aws-us-gov:iam::123456789012:role/cdk-hnb659fds-image-publishing-role-123456789012-eu-west-1"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Without both directories nothing is read and no AWS call is made.
func TestRunNeedsBothDirectories(t *testing.T) {
	for _, args := range [][]string{nil, {"copy"}, {"push", "-layout", "x"}, {"export", "-assembly", "x"}} {
		if err := run(context.Background(), args, io.Discard); err == nil || strings.Contains(err.Error(), "credentials") {
			t.Errorf("%q: want a usage error, got %v", args, err)
		}
	}
}
