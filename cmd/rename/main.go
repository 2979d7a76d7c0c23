// Command rename gives the module a path of your own: it rewrites the
// module path that go.mod declares, wherever it stands as a whole path
// (imports, the string constants that name packages such as the Spot
// fallback function's, test fixtures, docs), in every file git tracks or
// would track, and gofmts the Go files it changed, since a new path can
// sort imports differently.
//
//	go run ./cmd/rename NEW    (make rename MODULE=NEW)
//
// A whole path is the module path not inside a longer one: not after a
// letter, digit, '.', '/', ':' or '-' (so https://github.com/... links to
// fargo's own repository stay), and followed by '/' or by a character
// that cannot continue a path. It refuses an invalid module path with one
// line and exits 2.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./cmd/rename NEW-MODULE-PATH (make rename MODULE=github.com/you/app)")
		os.Exit(2)
	}
	old, n, err := Rename(".", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		os.Exit(2)
	}
	fmt.Printf("renamed module %s to %s in %d files\n", old, os.Args[1], n)
}

// Rename rewrites root's module path to newPath in every file under root,
// and returns the old path and how many files changed.
func Rename(root, newPath string) (string, int, error) {
	if err := CheckPath(newPath); err != nil {
		return "", 0, err
	}
	old, err := modulePath(root)
	if err != nil {
		return "", 0, err
	}
	if old == newPath {
		return old, 0, nil
	}
	files, err := listFiles(root)
	if err != nil {
		return "", 0, err
	}
	changed := 0
	for _, f := range files {
		path := filepath.Join(root, f)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err != nil {
			return "", 0, err
		}
		if bytes.IndexByte(data, 0) >= 0 {
			continue // binary
		}
		out := ReplaceWhole(data, old, newPath)
		if bytes.Equal(out, data) {
			continue
		}
		if strings.HasSuffix(f, ".go") {
			if formatted, err := format.Source(out); err == nil {
				out = formatted
			}
		}
		info, err := os.Stat(path)
		if err != nil {
			return "", 0, err
		}
		if err := os.WriteFile(path, out, info.Mode().Perm()); err != nil {
			return "", 0, err
		}
		changed++
	}
	return old, changed, nil
}

// ReplaceWhole replaces old with new in data wherever old stands as a
// whole module or package path: not after a letter, digit, '.', '/', ':'
// or '-', and followed by '/', the end, or a character that cannot
// continue a path element.
func ReplaceWhole(data []byte, old, new string) []byte {
	var out []byte
	pos := 0 // where in data the rest starts
	for {
		i := bytes.Index(data[pos:], []byte(old))
		if i < 0 {
			return append(out, data[pos:]...)
		}
		at, end := pos+i, pos+i+len(old)
		out = append(out, data[pos:at]...)
		if at > 0 && continuesBefore(data[at-1]) || end < len(data) && continuesAfter(data[end]) {
			out = append(out, old...)
		} else {
			out = append(out, new...)
		}
		pos = end
	}
}

func continuesBefore(c byte) bool {
	return isAlnum(c) || strings.IndexByte("./:-", c) >= 0
}

func continuesAfter(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._~-", c) >= 0
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

var moduleLine = regexp.MustCompile(`(?m)^module\s+"?([^\s"]+)"?\s*$`)

func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	m := moduleLine.FindSubmatch(data)
	if m == nil {
		return "", fmt.Errorf("%s/go.mod declares no module", root)
	}
	return string(m[1]), nil
}

// listFiles returns the files git tracks or would track (not those it
// ignores: .node/, cdk.out, ...), or, outside a git work tree, every file
// but those of hidden directories.
func listFiles(root string) ([]string, error) {
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output(); err == nil {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00"), nil
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

// pathElement is one element of a module path: what the go command
// accepts (golang.org/x/mod/module.CheckPath), less the rarer characters.
var pathElement = regexp.MustCompile(`^[A-Za-z0-9_~-]+(\.[A-Za-z0-9_~-]+)*$`)

// CheckPath reports, in one line, why path is not a module path that go
// get and go build accept: a domain with a dot, in lower case, then
// elements of letters, digits and . _ ~ -.
func CheckPath(path string) error {
	bad := func(why string) error { return fmt.Errorf("invalid module path %q: %s", path, why) }
	if path == "" {
		return bad("empty")
	}
	elems := strings.Split(path, "/")
	domain := elems[0]
	switch {
	case !strings.Contains(domain, "."):
		return bad("want a domain with a dot first, such as github.com/you/app")
	case domain != strings.ToLower(domain):
		return bad("the domain " + domain + " must be lower case")
	case strings.HasPrefix(domain, "-") || strings.HasPrefix(domain, "."):
		return bad("the domain must start with a letter or digit")
	}
	for _, e := range elems {
		if !pathElement.MatchString(e) {
			return bad(fmt.Sprintf("element %q: want letters, digits and . _ ~ -, not starting or ending with a dot", e))
		}
	}
	return nil
}
