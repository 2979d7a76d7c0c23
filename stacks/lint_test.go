package stacks

import (
	"crypto/sha256"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// requireTool skips a test that needs a program this machine lacks, with
// one line saying how to get it, except under CI, where it fails.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	hint := map[string]string{"cfn-lint": "pip install cfn-lint"}[name]
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (%s); CI must run this check", name, hint)
	}
	t.Skipf("%s is not installed: skipped; install it with %s", name, hint)
}

// acceptedFinding is a cfn-lint finding this project accepts, with why;
// testdata/cfn-lint-accepted.json lists them all.
type acceptedFinding struct {
	Rule     string `json:"rule"`
	Resource string `json:"resource"` // a logical id, or a path.Match pattern
	Reason   string `json:"reason"`
}

// lintFinding is what `cfn-lint --format json` reports.
type lintFinding struct {
	Rule struct {
		ID string `json:"Id"`
	} `json:"Rule"`
	Level    string `json:"Level"`
	Message  string `json:"Message"`
	Filename string `json:"Filename"`
	Location struct {
		Path []any `json:"Path"`
	} `json:"Location"`
}

// resource is the logical id a finding is about, or "" for one about the
// template as a whole.
func (f lintFinding) resource() string {
	if len(f.Location.Path) >= 2 && f.Location.Path[0] == "Resources" {
		id, _ := f.Location.Path[1].(string)
		return id
	}
	return ""
}

// TestCfnLint runs AWS's CloudFormation linter on the templates of every
// variant the tests build, agnostic and account-bound, and the user's: it knows the
// CloudFormation resource schemas and intrinsic functions better than the
// CDK's own checks. Every error or warning fails the test unless
// testdata/cfn-lint-accepted.json accepts it for that rule and resource,
// with a reason; an accepted entry that matches nothing fails it too. (It
// exits non-zero whenever it finds anything, so its findings decide.)
func TestCfnLint(t *testing.T) {
	requireTool(t, "cfn-lint")
	data, err := os.ReadFile(filepath.Join("testdata", "cfn-lint-accepted.json"))
	if err != nil {
		t.Fatal(err)
	}
	var accepted []acceptedFinding
	if err := json.Unmarshal(data, &accepted); err != nil {
		t.Fatalf("cfn-lint-accepted.json: %v", err)
	}
	for _, a := range accepted {
		if a.Rule == "" || a.Resource == "" || len(a.Reason) < 20 {
			t.Errorf("cfn-lint-accepted.json: %+v needs a rule, a resource and a reason", a)
		}
	}

	// Identical templates (the Cluster stack of most variants, say) are
	// linted once.
	var files []string
	seen := map[[32]byte]bool{}
	var apps []*synthesized
	for _, name := range slices.Sorted(maps.Keys(variants)) {
		apps = append(apps, variant(t, name))
	}
	// And the user's own, as cdk.json sets them (TestDeploymentSnapshots).
	apps = append(apps, userDeployment(t))
	// And the three-service fixture, whose other services' stacks no
	// variant has.
	apps = append(apps, shopApp(t))
	// And the environments fixture, each environment in its assembly.
	apps = append(apps, environments(t))
	for _, s := range apps {
		for _, st := range s.all() {
			f := filepath.Join(*awscdk.Stage_Of(st).Outdir(), *st.TemplateFile())
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); !seen[sum] {
				seen[sum] = true
				files = append(files, f)
			}
		}
	}
	// The linter takes seconds; it runs while the other tests, which need
	// jsii and so run one at a time, go on, and this test waits for it as a
	// parallel test, which resumes once they are done.
	var stdout strings.Builder
	cmd := exec.Command("cfn-lint", append([]string{"--format", "json", "--"}, files...)...)
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Parallel()
	err = cmd.Wait()
	out := []byte(stdout.String())
	var findings []lintFinding
	if jerr := json.Unmarshal(out, &findings); jerr != nil {
		t.Fatalf("cfn-lint: %v, %v\n%s", err, jerr, out)
	}
	used := map[int]bool{}
	for _, f := range findings {
		i := slices.IndexFunc(accepted, func(a acceptedFinding) bool {
			ok, _ := pathpkg.Match(a.Resource, f.resource())
			return a.Rule == f.Rule.ID && ok
		})
		if i < 0 {
			t.Errorf("cfn-lint %s %s in %s at %v: %s", f.Level, f.Rule.ID, filepath.Base(f.Filename), f.Location.Path, f.Message)
			continue
		}
		used[i] = true
	}
	for i, a := range accepted {
		if !used[i] {
			t.Errorf("cfn-lint-accepted.json accepts %s on %s, which cfn-lint no longer reports: remove the entry", a.Rule, a.Resource)
		}
	}
	t.Logf("cfn-lint: %d unique templates of %d variants, %d findings, all accepted", len(files), len(variants), len(findings))
	if strings.TrimSpace(string(out)) == "" {
		t.Fatal("cfn-lint printed nothing")
	}
}
