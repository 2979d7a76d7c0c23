package scripts

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = ".."

// toolInstalls says, for each program that a test requires under CI=true,
// what `make test-tools` runs to install it. The cfn-lint version is
// pinned: accepted findings depend on it.
var toolInstalls = map[string]*regexp.Regexp{
	"cfn-lint": regexp.MustCompile(`pipx? install [^;\n]*"?cfn-lint==[0-9]+\.[0-9]+\.[0-9]+"?`),
	"haproxy":  regexp.MustCompile(`apt-get install [^;\n]*\bhaproxy\b`),
}

// ciTools finds the programs that the repository's tests require under
// CI=true: a function of a _test.go file that reads the CI variable and
// looks a program up on PATH requires that program, named there or, where
// the name is a parameter, at each call.
func ciTools(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files", "--cached", "--others", "--exclude-standard", "*_test.go").Output()
	if err != nil {
		t.Skipf("needs a git checkout: %v", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range strings.Fields(string(out)) {
		path := filepath.Join(repoRoot, name)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			// Deleted but not yet git rm'd, as a user replacing service/
			// leaves it (make test's gofmt skips such files too).
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	isCall := func(n ast.Node, pkg, fn string) (*ast.CallExpr, bool) {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return nil, false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != fn {
			return nil, false
		}
		id, ok := sel.X.(*ast.Ident)
		return call, ok && id.Name == pkg && len(call.Args) == 1
	}
	literal := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	var tools []string
	gates := map[string]int{} // function name: index of its program parameter
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			readsCI := false
			var lookups []ast.Expr
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if call, ok := isCall(n, "os", "Getenv"); ok {
					if v, _ := literal(call.Args[0]); v == "CI" {
						readsCI = true
					}
				}
				if call, ok := isCall(n, "exec", "LookPath"); ok {
					lookups = append(lookups, call.Args[0])
				}
				return true
			})
			if !readsCI {
				continue
			}
			for _, arg := range lookups {
				if name, ok := literal(arg); ok {
					tools = append(tools, name)
					continue
				}
				id, _ := arg.(*ast.Ident)
				i := 0
				for _, field := range fd.Type.Params.List {
					for _, n := range field.Names {
						if id != nil && n.Name == id.Name {
							gates[fd.Name.Name] = i
						}
						i++
					}
				}
			}
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if fn, ok := call.Fun.(*ast.Ident); ok {
				if i, gate := gates[fn.Name]; gate && i < len(call.Args) {
					if name, ok := literal(call.Args[i]); ok {
						tools = append(tools, name)
					} else {
						t.Errorf("%s: %s's program is not a constant string: cannot check that CI installs it", fset.Position(call.Pos()), fn.Name)
					}
				}
			}
			return true
		})
	}
	slices.Sort(tools)
	return slices.Compact(tools)
}

// runsBefore reports whether, in the lines or steps given, one that runs
// first precedes every one that runs then (and there is one of each).
func runsBefore(runs []string, first, then *regexp.Regexp) bool {
	seenFirst, seenThen := false, false
	for _, r := range runs {
		if then.MatchString(r) {
			if !seenFirst {
				return false
			}
			seenThen = true
		}
		seenFirst = seenFirst || first.MatchString(r)
	}
	return seenThen
}

var (
	makeTest      = regexp.MustCompile(`(?m)^\s*make test\s*$`)
	makeTestTools = regexp.MustCompile(`(?m)^\s*make test-tools\s*$`)
)

// TestCIInstallsWhatTheTestsRequire: under CI=true (GitHub sets it, and
// .ci/run) a test whose program is missing fails instead of skipping, so
// .ci/run and every job of both workflows that runs make test must first
// run make test-tools, which must install each such program.
func TestCIInstallsWhatTheTestsRequire(t *testing.T) {
	tools := ciTools(t)
	if len(tools) == 0 {
		t.Fatal("found no test that requires a program under CI: the search is broken")
	}
	var known []string
	for tool := range toolInstalls {
		known = append(known, tool)
	}
	slices.Sort(known)
	if !slices.Equal(tools, known) {
		t.Errorf("the tests require %q under CI; toolInstalls (and make test-tools) cover %q", tools, known)
	}

	// make test-tools, as make would run it.
	cmd := exec.Command("make", "-s", "-n", "test-tools")
	cmd.Dir = repoRoot
	recipe, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n test-tools: %v", err)
	}
	for _, tool := range tools {
		if re := toolInstalls[tool]; re != nil && !re.Match(recipe) {
			t.Errorf("make test-tools does not install %s (want a command matching %s):\n%s", tool, re, recipe)
		}
	}
	if unpinned := regexp.MustCompile(`install [^;\n]*cfn-lint(?:[^=]|$)`); unpinned.Match(recipe) {
		t.Errorf("make test-tools installs cfn-lint unpinned: %s", unpinned.Find(recipe))
	}

	// .ci/run, line by line.
	data, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !runsBefore(strings.Split(string(data), "\n"), makeTestTools, makeTest) {
		t.Error(".ci/run does not run make test-tools before make test")
	}

	// Both workflows, step by step, in each job that runs make test.
	for _, name := range []string{"ci.yml", "deploy.yml"} {
		src, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", name))
		if err != nil {
			t.Fatal(err)
		}
		wf, errs := actionlint.Parse(src)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs[0])
		}
		jobs := 0
		for id, job := range wf.Jobs {
			var runs []string
			for _, step := range job.Steps {
				if run, ok := step.Exec.(*actionlint.ExecRun); ok && run.Run != nil {
					runs = append(runs, run.Run.Value)
				}
			}
			if !slices.ContainsFunc(runs, makeTest.MatchString) {
				continue
			}
			jobs++
			if !runsBefore(runs, makeTestTools, makeTest) {
				t.Errorf("%s: job %s runs make test without make test-tools before it", name, id)
			}
		}
		if jobs == 0 {
			t.Errorf("%s: no job runs make test", name)
		}
	}
}
