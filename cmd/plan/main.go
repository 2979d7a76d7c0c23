// Command plan prints what deploying one synthesized cloud assembly over
// another does, stack by stack in deploy order, as Terraform's plan and
// cdk diff do: the resources added, modified, replaced (and the property
// that forces it) and removed, in the order CloudFormation applies them, a
// summary line, the IAM statements and security-group rules the change
// adds, whether the service keeps its traffic, its route out and its state
// at every step (and the safe order of deploys, or the procedure, when one
// deploy does not), and what happens to the running tasks and requests.
// With -destroy it checks the order cdk destroy deletes ASSEMBLY's
// resources in instead.
//
//	go run ./cmd/plan [-schemas DIR] [-env NAME] BEFORE AFTER
//	go run ./cmd/plan -destroy ASSEMBLY
//
// BEFORE and AFTER are cdk.out directories (make plan BASE=... runs it). The
// create-only properties come from the resource schemas that cfn-lint
// ships (found through python3, or -schemas: its data/schemas directory).
// With -env, each side is that environment's assembly: the nested one of
// its CDK Stage, or the top-level stacks of the adopted environment
// (docs/environments.md). It exits 1 when the plan breaks an invariant (docs/plans.md), 2 on a
// usage or input error.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fargo-cdk/fargo/internal/plan"
)

func main() {
	schemaDir := flag.String("schemas", "", "cfn-lint's data/schemas directory (default: the installed cfn-lint's)")
	env := flag.String("env", "", "the environment of the app's environments key to compare, in both assemblies")
	destroy := flag.Bool("destroy", false, "check what cdk destroy of one cdk.out directory does")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: plan [-schemas DIR] [-env NAME] BEFORE AFTER (two cdk.out directories), or plan -destroy ASSEMBLY")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *destroy {
		if flag.NArg() != 1 {
			flag.Usage()
			os.Exit(2)
		}
		a, err := plan.LoadEnvironment(flag.Arg(0), *env)
		if err != nil {
			fmt.Fprintln(os.Stderr, "plan:", err)
			os.Exit(2)
		}
		violations := plan.Destroy(a)
		if len(violations) == 0 {
			fmt.Println("cdk destroy: deletes every listener rule ECS owns before the target groups it may forward to")
			return
		}
		for _, v := range violations {
			fmt.Printf("%s\n  what to do: %s\n", v, v.Fix)
		}
		os.Exit(1)
	}
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	p, err := run(*schemaDir, *env, flag.Arg(0), flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(2)
	}
	fmt.Print(p.Format())
	if len(p.Violations) > 0 {
		os.Exit(1)
	}
}

func run(schemaDir, env, beforeDir, afterDir string) (*plan.Plan, error) {
	if schemaDir == "" {
		var err error
		if schemaDir, err = plan.CfnLintSchemas(); err != nil {
			return nil, err
		}
	}
	before, err := plan.LoadEnvironment(beforeDir, env)
	if err != nil {
		return nil, err
	}
	after, err := plan.LoadEnvironment(afterDir, env)
	if err != nil {
		return nil, err
	}
	p, err := plan.Diff(before, after, plan.SchemaCache(schemaDir))
	if err != nil {
		return nil, err
	}
	p.Check()
	return p, nil
}
