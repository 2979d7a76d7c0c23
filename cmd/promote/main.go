// Command promote carries the container images one environment verified
// to the next, digest for digest (package internal/promote):
//
//	promote export -assembly cdk.out/assembly-staging -layout promoted
//	promote push -assembly cdk.out/assembly-production -layout promoted
//
// export reads each image asset of the assembly from its destination (the
// environment's CDK asset repository) into an OCI image layout; push
// writes them to the other assembly's destinations under the same tags,
// and fails if a tag already holds another digest. Both reach the
// repositories as cdk-assets does: with the current AWS credentials they
// assume the asset manifest's image-publishing role and log in to the
// registry with an ECR authorization token. Nothing else is needed: no
// Docker, no credentials across accounts.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fargo-cdk/fargo/internal/promote"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "promote:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "push") {
		return errors.New("usage: promote export|push -assembly DIR -layout DIR")
	}
	fs := flag.NewFlagSet("promote "+args[0], flag.ContinueOnError)
	assembly := fs.String("assembly", "", "one environment's cloud assembly, e.g. cdk.out/assembly-staging")
	layoutDir := fs.String("layout", "", "the OCI image layout to write (export) or read (push)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *assembly == "" || *layoutDir == "" {
		return errors.New("set -assembly and -layout")
	}
	r, err := newECRResolver(ctx)
	if err != nil {
		return err
	}
	var images []promote.Exported
	if args[0] == "export" {
		images, err = promote.Export(ctx, *assembly, *layoutDir, r.resolve)
	} else {
		images, err = promote.Push(ctx, *assembly, *layoutDir, r.resolve)
	}
	for _, img := range images {
		fmt.Fprintf(stdout, "%s %s %s\n", img.Hash, img.Digest, img.MediaType)
	}
	return err
}

// ecrResolver logs in to each destination's registry as cdk-assets does.
type ecrResolver struct {
	cfg                        aws.Config
	account, partition, region string
}

func newECRResolver(ctx context.Context) (*ecrResolver, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("no AWS credentials: %w", err)
	}
	caller, err := arn.Parse(aws.ToString(id.Arn))
	if err != nil {
		return nil, err
	}
	return &ecrResolver{cfg: cfg, account: aws.ToString(id.Account), partition: caller.Partition, region: cfg.Region}, nil
}

// placeholders replaces what cdk-assets replaces in an environment-agnostic
// asset manifest: the current account, partition and region.
func (r *ecrResolver) placeholders(s, region string) string {
	return strings.NewReplacer("${AWS::AccountId}", r.account, "${AWS::Partition}", r.partition, "${AWS::Region}", region).Replace(s)
}

func (r *ecrResolver) resolve(ctx context.Context, img promote.Image) (name.Tag, []remote.Option, error) {
	region := r.placeholders(img.Region, r.region)
	if region == "" {
		return name.Tag{}, nil, errors.New("no AWS region: set AWS_REGION")
	}
	cfg := r.cfg.Copy()
	cfg.Region = region
	if img.AssumeRoleArn != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), r.placeholders(img.AssumeRoleArn, region)))
	}
	out, err := ecr.NewFromConfig(cfg).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return name.Tag{}, nil, err
	}
	if len(out.AuthorizationData) == 0 {
		return name.Tag{}, nil, errors.New("ECR returned no authorization data")
	}
	data := out.AuthorizationData[0]
	token, err := base64.StdEncoding.DecodeString(aws.ToString(data.AuthorizationToken))
	if err != nil {
		return name.Tag{}, nil, err
	}
	user, password, _ := strings.Cut(string(token), ":")
	// The registry's address as ECR gives it, with its scheme.
	registry := strings.TrimPrefix(aws.ToString(data.ProxyEndpoint), "https://")
	tag, err := name.NewTag(registry + "/" + r.placeholders(img.Repository, region) + ":" + img.Tag)
	if err != nil {
		return name.Tag{}, nil, err
	}
	return tag, []remote.Option{remote.WithAuth(&authn.Basic{Username: user, Password: password})}, nil
}
