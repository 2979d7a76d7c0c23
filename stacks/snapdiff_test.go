package stacks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-cdk/fargo/internal/plan"
	"github.com/fargo-cdk/fargo/stacks/snapshot"
)

// writeSnapshots writes s's templates and contract as make snapshots
// does, into a new directory.
func writeSnapshots(t *testing.T, s *synthesized) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"contract.json": indented(t, contractOf(s.cfg))}
	for _, st := range s.all() {
		id := *st.Node().Id()
		files[id+".template.json"] = assetHash.ReplaceAll(indented(t, toJSON(t, s.templates[id])), []byte("<asset-hash>"))
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// changedLines counts the lines a line diff of the two directories would
// show: those of one file that the other does not hold.
func changedLines(t *testing.T, a, b string) int {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(a, "*.json"))
	n := 0
	for _, f := range names {
		x, _ := os.ReadFile(f)
		y, _ := os.ReadFile(filepath.Join(b, filepath.Base(f)))
		count := map[string]int{}
		for _, l := range strings.Split(string(x), "\n") {
			count[l]++
		}
		for _, l := range strings.Split(string(y), "\n") {
			count[l]--
		}
		for _, c := range count {
			n += max(c, -c)
		}
	}
	return n
}

// TestSnapshotSummary runs make snapshots' summary on a real pair: the
// defaults, and the same app renamed with another port, as a user's
// first edit of cdk.json does. The rename touches every export and most
// names; the summary must show the port and what the rename replaces, and
// count the rest on one line.
func TestSnapshotSummary(t *testing.T) {
	before := writeSnapshots(t, variant(t, "Account"))
	after := writeSnapshots(t, synth(t, map[string]any{"appName": "shop", "containerPort": "8080"}, bound("eu-west-1")))
	var schemas func(string) (*plan.Schemas, error)
	if dir, err := plan.CfnLintSchemas(); err == nil {
		schemas = plan.SchemaCache(dir)
	} else if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	b, _ := snapshot.Load(before)
	a, _ := snapshot.Load(after)
	summary, err := snapshot.Summary(b, a, schemas)
	if err != nil {
		t.Fatal(err)
	}
	lines, raw := strings.Count(summary, "\n"), changedLines(t, before, after)
	t.Logf("summary: %d lines; a line diff: %d changed lines\n%s", lines, raw, summary)
	for _, want := range []string{
		"contract.json: containerPort: 5000 -> 8080",
		"PortMappings.0.ContainerPort: 5000 -> 8080",
		`Environment.PORT.Value: "5000" -> "8080"`,
		"values renamed only (appName fargo -> shop",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary does not show %q", want)
		}
	}
	// No rename is listed as a change of its own.
	for _, l := range strings.Split(summary, "\n") {
		if strings.Contains(l, "->") && strings.Contains(l, `"fargo`) && strings.Contains(l, `"shop`) {
			t.Errorf("a rename listed as a change: %s", l)
		}
	}
	// A new name makes new stacks: no resource is replaced for its name
	// alone, so each replacement shows the values that force it.
	all := strings.Split(summary, "\n")
	for i, l := range all {
		if strings.HasPrefix(strings.TrimSpace(l), "-/+ ") && (i+1 == len(all) || !strings.HasPrefix(all[i+1], "      ")) {
			t.Errorf("replaced for its name alone: %s", l)
		}
	}
	if lines*10 > raw {
		t.Errorf("the summary has %d lines for a diff of %d: not a summary", lines, raw)
	}
}
