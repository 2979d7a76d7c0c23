package scripts

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSlowTierNamesRealTests: make test skips the tests SLOW_TESTS names
// and make test-slow runs exactly them, by name. A renamed or deleted test
// would leave the pattern matching nothing, and its promise unchecked
// without a word: every name must be a test function of the repository.
func TestSlowTierNamesRealTests(t *testing.T) {
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SLOW_TESTS := \^\(([^)]*)\)\$\$$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile has no SLOW_TESTS := ^(TestA|TestB)$$ line")
	}
	names := strings.Split(string(m[1]), "|")
	defined := map[string]bool{}
	funcs := regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)
	err = filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, "_test.go") {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, f := range funcs.FindAllSubmatch(data, -1) {
				defined[string(f[1])] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !defined[n] {
			t.Errorf("SLOW_TESTS names %s, which is no test function of the repository: make test-slow would skip its promise", n)
		}
	}
}
