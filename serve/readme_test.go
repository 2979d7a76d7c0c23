package serve_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestReadmeExample keeps the main in the README's "Bring your own app" the
// same code as ExampleRun, comments aside, so that what users copy
// compiles: go test compiles the example.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Bring your own app\n")
	if !ok {
		t.Fatal(`README.md has no "## Bring your own app" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var code string
	for _, block := range strings.Split(section, "```go\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "serve.Run(") {
			code = block
		}
	}
	if code == "" {
		t.Fatal("the Bring your own app section has no Go block calling serve.Run")
	}
	// The block sits in a numbered list: drop the list's indentation.
	var lines []string
	for line := range strings.Lines(code) {
		lines = append(lines, strings.TrimPrefix(line, "   "))
	}

	readmeImports, readmeBody := mainOf(t, "README.md", strings.Join(lines, ""), "main")
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	exampleImports, exampleBody := mainOf(t, "example_test.go", string(example), "ExampleRun")
	if !slices.Equal(readmeImports, exampleImports) {
		t.Errorf("README imports %q, ExampleRun's file %q", readmeImports, exampleImports)
	}
	if readmeBody != exampleBody {
		t.Errorf("README's main differs from ExampleRun:\n--- README\n%s\n--- ExampleRun\n%s", readmeBody, exampleBody)
	}
}

// mainOf parses src and returns its import paths and the body of function
// fn, printed without comments.
func mainOf(t *testing.T, name, src, fn string) ([]string, string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var imports []string
	for _, imp := range f.Imports {
		imports = append(imports, imp.Path.Value)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == fn {
			var b bytes.Buffer
			if err := printer.Fprint(&b, fset, fd.Body); err != nil {
				t.Fatal(err)
			}
			return imports, b.String()
		}
	}
	t.Fatalf("%s: no func %s", name, fn)
	return nil, ""
}
