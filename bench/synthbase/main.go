// Command synthbase is the yardstick of the synth benchmark
// (bench/synth.sh): a CDK Go app of one stack with one S3 bucket, the
// least a CDK Go app synthesizes, through the same CLI and Node.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Bucket"), nil)
	awss3.NewBucket(stack, jsii.String("Bucket"), nil)
	app.Synth(nil)
}
