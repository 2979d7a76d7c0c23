// Package docs holds the reference pages the README links to. Its tests
// keep them honest: the Configuration reference is generated from the
// code's Defaults, every relative link resolves, every make target the
// pages name exists, and the README stays within its word budget.
package docs

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fargo-cdk/fargo/internal/testhelp"
)

var update = flag.Bool("update", false, "rewrite the generated part of configuration.md")

const (
	configSource = "../stacks/config.go"
	configDoc    = "configuration.md"
	tableBegin   = "<!-- configuration table: go test ./docs -run TestConfigurationReference -update writes it from Defaults in stacks/config.go -->"
	tableEnd     = "<!-- end of configuration table -->"
)

// setting is one entry of the Defaults map literal.
type setting struct {
	key, def, doc string
}

// settings parses src, the source of stacks/config.go, and returns the
// entries of the Defaults map literal in source order, each with the
// comment directly above it (empty when there is none).
func settings(src []byte) ([]setting, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, configSource, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var lit *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Names) != 1 || spec.Names[0].Name != "Defaults" || len(spec.Values) != 1 {
			return true
		}
		lit, _ = spec.Values[0].(*ast.CompositeLit)
		return false
	})
	if lit == nil {
		return nil, fmt.Errorf("%s: no map literal var Defaults", configSource)
	}
	// A comment belongs to the entry whose first line follows its last,
	// unless it trails the entry before on that entry's line.
	above := map[int]*ast.CommentGroup{}
	for _, c := range f.Comments {
		above[fset.Position(c.End()).Line+1] = c
	}
	var out []setting
	prevEnd := fset.Position(lit.Lbrace).Line
	for _, elt := range lit.Elts {
		line := fset.Position(elt.Pos()).Line
		c := above[line]
		if c != nil && fset.Position(c.Pos()).Line <= prevEnd {
			c = nil
		}
		prevEnd = fset.Position(elt.End()).Line
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			return nil, fmt.Errorf("%s: Defaults entry %T is not key: value", fset.Position(elt.Pos()), elt)
		}
		k, ok := kv.Key.(*ast.BasicLit)
		if !ok || k.Kind != token.STRING {
			return nil, fmt.Errorf("%s: a Defaults key is not a string literal", fset.Position(kv.Pos()))
		}
		key, err := strconv.Unquote(k.Value)
		if err != nil {
			return nil, err
		}
		s := setting{key: key, def: defaultValue(fset, kv.Value)}
		if c != nil {
			s.doc = strings.Join(strings.Fields(c.Text()), " ")
		}
		out = append(out, s)
	}
	return out, nil
}

// defaultValue renders a default as cdk.json would hold it.
func defaultValue(fset *token.FileSet, e ast.Expr) string {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, _ := strconv.Unquote(v.Value)
			if s == "" {
				return `""`
			}
			return s
		}
		return v.Value
	case *ast.Ident:
		return v.Name // true, false
	case *ast.CompositeLit:
		if len(v.Elts) == 0 {
			return "{}"
		}
	}
	var b strings.Builder
	printer.Fprint(&b, fset, e)
	return b.String()
}

// docLink turns the docs/page.md[#anchor] a comment names into a link
// relative to this directory.
var docLink = regexp.MustCompile(`docs/([a-z0-9-]+\.md)(#[a-z0-9-]+)?`)

// configurationTable renders the settings as the reference's table.
func configurationTable(all []setting) string {
	var b strings.Builder
	b.WriteString("| key | default | what it does, allowed values |\n|---|---|---|\n")
	for _, s := range all {
		doc := strings.ReplaceAll(s.doc, "|", `\|`)
		doc = docLink.ReplaceAllString(doc, "[$1]($1$2)")
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", s.key, s.def, doc)
	}
	return b.String()
}

// TestConfigurationReference keeps the table in configuration.md equal to
// what Defaults and the comments above its entries say, and requires a
// comment for every key.
func TestConfigurationReference(t *testing.T) {
	src, err := os.ReadFile(configSource)
	if err != nil {
		t.Fatal(err)
	}
	all, err := settings(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatalf("%s: Defaults has no entries", configSource)
	}
	for _, s := range all {
		if s.doc == "" {
			t.Errorf("%s: Defaults key %q has no comment: write one directly above it (what it does, the allowed values, when to change it); it is the key's row in docs/configuration.md", configSource, s.key)
		}
	}
	want := configurationTable(all)
	got, differs, err := testhelp.GeneratedSection(configDoc, tableBegin, tableEnd, want, *update)
	if err != nil {
		t.Fatal(err)
	}
	if differs {
		var rows []string
		for _, row := range strings.Split(want, "\n") {
			if !strings.Contains(got, row) {
				rows = append(rows, row)
			}
		}
		t.Errorf("docs/configuration.md is not what Defaults in stacks/config.go says; run: go test ./docs -run TestConfigurationReference -update\nrows that differ:\n%s", strings.Join(rows, "\n"))
	}
}

// pages are the Markdown files whose links and commands are checked.
func pages(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append(all, "../README.md")
}

var (
	quoted     = regexp.MustCompile(`"[^"]*"|'[^']*'`)
	fence      = regexp.MustCompile("(?ms)^ *```.*?^ *```")
	inlineCode = regexp.MustCompile("`[^`\n]+`")
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading    = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// anchors returns the GitHub anchors of a Markdown file's headings.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(md, ""), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestLinks: every relative link of the README and of these pages names a
// file that exists, and an anchor names one of its headings, so that moving
// a section cannot leave a link behind.
func TestLinks(t *testing.T) {
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		text := inlineCode.ReplaceAllString(fence.ReplaceAllString(string(data), ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			linked, err := os.ReadFile(path)
			if err != nil && !isDir(path) {
				t.Errorf("%s: link %s: no such file", page, target)
				continue
			}
			if anchor != "" && !anchors(string(linked))[anchor] {
				t.Errorf("%s: link %s: %s has no heading with that anchor", page, target, path)
			}
		}
	}
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// TestMakeTargets: every make target the README and these pages show in
// code is one the Makefile lists in make help.
func TestMakeTargets(t *testing.T) {
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	readers := slices.Clone(makefile)
	scripts, err := filepath.Glob("../scripts/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range scripts {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, data...)
	}
	var targets []string
	for _, m := range regexp.MustCompile(`(?m)^## ([a-z-]+): `).FindAllStringSubmatch(string(makefile), -1) {
		targets = append(targets, m[1])
	}
	command := regexp.MustCompile(`\bmake ([a-z][a-z-]*)((?: +[A-Z][A-Z0-9_]*=(?:"[^"]*"|'[^']*'|[^\s"'\x60]*))*)`)
	variable := regexp.MustCompile(`([A-Z][A-Z0-9_]*)=`)
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		code := append(fence.FindAllString(text, -1), inlineCode.FindAllString(fence.ReplaceAllString(text, ""), -1)...)
		for _, c := range code {
			for _, m := range command.FindAllStringSubmatch(c, -1) {
				if !slices.Contains(targets, m[1]) {
					t.Errorf("%s: make %s: the Makefile has no such target in make help (%s)", page, m[1], strings.Join(targets, ", "))
				}
				// Each VAR= the command passes is one the Makefile or a
				// script it runs reads; the values themselves (quoted -c
				// arguments) are not.
				for _, v := range variable.FindAllStringSubmatch(quoted.ReplaceAllString(m[2], ""), -1) {
					if !regexp.MustCompile(`\$[({]?` + v[1] + `\b`).Match(readers) {
						t.Errorf("%s: %s: neither the Makefile nor scripts/ read a variable %s", page, m[0], v[1])
					}
				}
			}
		}
	}
}

// maxReadmeWords is the README's budget, counted as wc -w counts: a
// newcomer reads it to the end; reference text belongs in these pages.
const maxReadmeWords = 3000

// TestReadmeIsShort keeps the README within its budget.
func TestReadmeIsShort(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(data))); n > maxReadmeWords {
		t.Errorf("README.md has %d words, more than %d: move reference text to a page in docs/ and link it", n, maxReadmeWords)
	}
}
