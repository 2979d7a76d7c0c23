// Command snapdiff prints how the snapshots in AFTER differ from those in
// BEFORE (package stacks/snapshot): per stack, the resources added,
// removed, replaced and changed, each changed value old -> new, and a
// count of the changes that only rename the app. make snapshots runs it
// with BEFORE the snapshots as git's index holds them.
//
//	go run ./cmd/snapdiff [-schemas DIR] BEFORE AFTER
//
// The create-only properties that tell a replacement come from the
// resource schemas that cfn-lint ships (found through python3, or
// -schemas: its data/schemas directory); without them the summary says
// so. It exits 2 on a usage or input error.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fargo-cdk/fargo/internal/plan"
	"github.com/fargo-cdk/fargo/stacks/snapshot"
)

func main() {
	schemaDir := flag.String("schemas", "", "cfn-lint's data/schemas directory (default: the installed cfn-lint's, if any)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: snapdiff [-schemas DIR] BEFORE AFTER (two directories of snapshots)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	out, err := run(*schemaDir, flag.Arg(0), flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapdiff:", err)
		os.Exit(2)
	}
	fmt.Print(out)
}

func run(schemaDir, beforeDir, afterDir string) (string, error) {
	before, err := snapshot.Load(beforeDir)
	if err != nil {
		return "", err
	}
	after, err := snapshot.Load(afterDir)
	if err != nil {
		return "", err
	}
	if schemaDir == "" {
		schemaDir, _ = plan.CfnLintSchemas()
	}
	var schemas func(string) (*plan.Schemas, error)
	if schemaDir != "" {
		schemas = plan.SchemaCache(schemaDir)
	}
	return snapshot.Summary(before, after, schemas)
}
