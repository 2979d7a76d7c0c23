// Command plan prints what deploying one synthesized cloud assembly over
// another does, stack by stack in deploy order: the resources added,
// modified, replaced and removed, in the order CloudFormation applies them,
// and whether the service keeps its traffic, its route out and its state
// at every step.
//
//	go run ./cmd/plan [-schemas DIR] BEFORE AFTER
//
// BEFORE and AFTER are cdk.out directories (make plan BASE=... runs it). The
// create-only properties come from the resource schemas that cfn-lint
// ships (found through python3, or -schemas: its data/schemas directory).
// It exits 1 when the plan breaks an invariant, 2 on a usage or input error.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fargo-cdk/fargo/internal/plan"
)

func main() {
	schemaDir := flag.String("schemas", "", "cfn-lint's data/schemas directory (default: the installed cfn-lint's)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: plan [-schemas DIR] BEFORE AFTER (two cdk.out directories)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	p, err := run(*schemaDir, flag.Arg(0), flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(2)
	}
	fmt.Print(p.Format())
	if len(p.Violations) > 0 {
		os.Exit(1)
	}
}

func run(schemaDir, beforeDir, afterDir string) (*plan.Plan, error) {
	if schemaDir == "" {
		var err error
		if schemaDir, err = plan.CfnLintSchemas(); err != nil {
			return nil, err
		}
	}
	before, err := plan.Load(beforeDir)
	if err != nil {
		return nil, err
	}
	after, err := plan.Load(afterDir)
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
