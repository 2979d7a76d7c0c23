package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceWhole(t *testing.T) {
	const old, new = "github.com/fargo-cdk/fargo", "example.com/me/app"
	for in, want := range map[string]string{
		`module github.com/fargo-cdk/fargo`:                       `module example.com/me/app`,
		`import "github.com/fargo-cdk/fargo/serve"`:               `import "example.com/me/app/serve"`,
		`"github.com/fargo-cdk/fargo/internal/greet"\n`:           `"example.com/me/app/internal/greet"\n`,
		"`github.com/fargo-cdk/fargo/internal/x`":                 "`example.com/me/app/internal/x`",
		"github.com/fargo-cdk/fargo/a github.com/fargo-cdk/fargo": "example.com/me/app/a example.com/me/app",
		// Links to fargo's repository and longer paths stay.
		`https://github.com/fargo-cdk/fargo/releases`: `https://github.com/fargo-cdk/fargo/releases`,
		`github.com/fargo-cdk/fargo-extras/x`:         `github.com/fargo-cdk/fargo-extras/x`,
		`github.com/fargo-cdk/fargo.v2`:               `github.com/fargo-cdk/fargo.v2`,
		`mirror.github.com/fargo-cdk/fargo`:           `mirror.github.com/fargo-cdk/fargo`,
	} {
		if got := string(ReplaceWhole([]byte(in), old, new)); got != want {
			t.Errorf("ReplaceWhole(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"github.com/you/app", "example.com/app", "gitlab.example.org/team/sub-group/app_1", "example.com/app/v2"} {
		if err := CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"":                      "empty",
		"app":                   "want a domain with a dot",
		"GitHub.com/you/app":    "must be lower case",
		"github.com/you//app":   `element ""`,
		"github.com/you/app/":   `element ""`,
		"github.com/you/my app": `element "my app"`,
		"github.com/you/app.":   `element "app."`,
		"github.com/../app":     `element ".."`,
	} {
		err := CheckPath(bad)
		if err == nil || !strings.Contains(err.Error(), why) || strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckPath(%q) = %v, want one line with %q", bad, err, why)
		}
	}
}

// full makes TestRenameRepository compile and vet every package of the
// renamed copy (make test-walkthrough): minutes of CPU on two cores, where
// make test loads every package and builds what names a package in a
// string.
var full = flag.Bool("full", false, "build and vet every package of the renamed copy")

// TestRenameRepository renames a copy of this repository and checks it:
// no file keeps the old path (except links to fargo's repository), gofmt
// has nothing to change, every import of every package (tests and build
// tags included) resolves in the new module, the walkthrough's fixtures
// compile, and the Spot fallback function, which the stacks build by its
// package path, builds.
func TestRenameRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the repository; skipped with -short")
	}
	const module = "example.com/me/notes"
	root := copyRepository(t)
	old, n, err := Rename(root, module)
	if err != nil || old != "github.com/fargo-cdk/fargo" || n == 0 {
		t.Fatalf("Rename = %q, %d files, %v", old, n, err)
	}
	files, err := listFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		if string(ReplaceWhole(data, old, module)) != string(data) {
			t.Errorf("%s still names %s", f, old)
		}
	}
	checks := [][]string{
		{"list", "-deps", "-test", "-tags", "walkthrough,integ", "-f", "{{with .Error}}{{.}}{{end}}{{with .DepsErrors}}{{.}}{{end}}", "./..."},
		{"vet", "-tags", "walkthrough", "./e2e"},
		{"build", "-o", os.DevNull, module + "/cmd/spotfallback"},
	}
	if *full {
		checks = append(checks, []string{"build", "./..."}, []string{"vet", "-tags", "walkthrough,integ", "./..."})
	}
	for _, args := range checks {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil || args[0] == "list" && strings.TrimSpace(string(out)) != "" {
			t.Errorf("go %s in the renamed copy: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("gofmt", "-l", root).Output(); err != nil || len(out) > 0 {
		t.Errorf("gofmt -l in the renamed copy: %v\n%s", err, out)
	}
	// The stacks build the function from the constant: it names the new path.
	data, _ := os.ReadFile(filepath.Join(root, "stacks", "fallback.go"))
	if !strings.Contains(string(data), `"`+module+`/cmd/spotfallback"`) {
		t.Errorf("stacks/fallback.go does not build %s/cmd/spotfallback", module)
	}
	// Renaming again, to the same path, changes nothing; an invalid path
	// is refused.
	if _, n, err := Rename(root, module); err != nil || n != 0 {
		t.Errorf("a second rename to the same path: %d files, %v", n, err)
	}
	if _, _, err := Rename(root, "notes"); err == nil {
		t.Error("Rename to \"notes\" accepted")
	}
}

// copyRepository copies the files git tracks or would track into a new
// git repository, as a user's clone is.
func copyRepository(t *testing.T) string {
	t.Helper()
	files, err := listFiles(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range files {
		src := filepath.Join("..", "..", f)
		info, err := os.Stat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("git", "-C", root, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	return root
}
