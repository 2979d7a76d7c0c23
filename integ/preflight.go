package integ

import (
	"context"
	"errors"
	"os/exec"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Needs says, in one line, what a real-account run needs.
const Needs = "integ: needs AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and a region (AWS_REGION), for an account bootstrapped with make bootstrap"

// Preflight loads the AWS configuration the way the CDK CLI and the AWS
// CLI do, and refuses, in one line that starts with Needs, when the region,
// valid credentials or (with needDocker, for a deploy) Docker are missing. It returns the configuration and
// the account id. Without credentials it makes no request.
func Preflight(ctx context.Context, needDocker bool) (aws.Config, string, error) {
	refuse := func(err error) (aws.Config, string, error) {
		return aws.Config{}, "", errors.New(Needs + ": " + oneLine(err))
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return refuse(err)
	}
	if cfg.Region == "" {
		return refuse(errors.New("no region is set"))
	}
	if cfg.Credentials == nil {
		return refuse(errors.New("no credentials found"))
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return refuse(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil)
	if err != nil {
		return refuse(err)
	}
	if needDocker {
		if _, err := exec.LookPath("docker"); err != nil {
			return aws.Config{}, "", errors.New(Needs + ", and Docker: " + oneLine(err))
		}
	}
	return cfg, aws.ToString(id.Account), nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
