package dockerfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context as docker build sees it: the files of a
// directory that neither its .dockerignore nor the asset's own exclude
// patterns leave out. CDK stages the asset directory less both (plus the
// Dockerfile and .dockerignore, which it always keeps), and docker build
// applies .dockerignore again to what it sends, so no other file can be
// COPYed.
type Context struct {
	// Dir is the context directory.
	Dir string
	// Files are the context's files, slash-separated, relative to Dir,
	// sorted.
	Files []string
	dirs  map[string]bool // the directories sent, even with no file kept
	rules []ignoreRule
	pm    *patternmatcher.PatternMatcher
}

// ignoreRule is one pattern and where it was written, to name the line
// that drops a file.
type ignoreRule struct {
	where     string // ".dockerignore:12" or "exclude"
	text      string // the line as written
	exclusion bool   // a "!" line, which keeps what earlier lines dropped
	pm        *patternmatcher.PatternMatcher
}

// ReadContext lists the build context of dir: .dockerignore's patterns,
// then excludes (a CDK asset's exclude option, which CDK applies after
// them), matched as Docker does, with moby's pattern matcher: the last
// pattern that matches a file or one of its parent directories decides,
// a "!" pattern keeping the file.
func ReadContext(dir string, excludes []string) (*Context, error) {
	c := &Context{Dir: dir, dirs: map[string]bool{}}
	data, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var patterns []string
	add := func(where, line string) error {
		// ignorefile.ReadAll is Docker's reading of .dockerignore; given
		// one line it gives that line's pattern, or none for a comment.
		p, err := ignorefile.ReadAll(strings.NewReader(line))
		if err != nil || len(p) == 0 {
			return err
		}
		only, err := patternmatcher.New([]string{strings.TrimPrefix(p[0], "!")})
		if err != nil {
			return fmt.Errorf("%s: %q: %w", where, line, err)
		}
		patterns = append(patterns, p[0])
		c.rules = append(c.rules, ignoreRule{where: where, text: strings.TrimSpace(line), exclusion: strings.HasPrefix(p[0], "!"), pm: only})
		return nil
	}
	for i, line := range strings.Split(strings.TrimPrefix(string(data), "\uFEFF"), "\n") {
		if err := add(fmt.Sprintf(".dockerignore:%d", i+1), strings.TrimSuffix(line, "\r")); err != nil {
			return nil, err
		}
	}
	for _, e := range excludes {
		if err := add("the asset's exclude", e); err != nil {
			return nil, err
		}
	}
	if c.pm, err = patternmatcher.New(patterns); err != nil {
		return nil, err
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		ignored, err := c.pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && ignored && !c.mayKeepBelow(rel):
			return filepath.SkipDir
		case d.IsDir() && !ignored:
			c.dirs[rel] = true
		case !d.IsDir() && !ignored:
			c.Files = append(c.Files, rel)
		}
		return nil
	})
	slices.Sort(c.Files)
	return c, err
}

// mayKeepBelow reports whether a "!" pattern may keep a file below the
// ignored directory dir: as Docker's context walk decides whether to
// descend (moby's archive.TarWithOptions), only a "!" pattern that starts
// with the directory's path does.
func (c *Context) mayKeepBelow(dir string) bool {
	for _, p := range c.pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(p.String()+"/", dir+"/") {
			return true
		}
	}
	return false
}

// droppedBy names the pattern that leaves file out of the context, e.g.
// `.dockerignore:12 "*.yaml"`, or "" if no pattern does (then the file is
// not in the directory at all).
func (c *Context) droppedBy(file string) string {
	var last *ignoreRule
	for i, r := range c.rules {
		if m, _ := r.pm.MatchesOrParentMatches(file); m {
			last = &c.rules[i]
		}
	}
	if last == nil || last.exclusion {
		return ""
	}
	return fmt.Sprintf("%s %q", last.where, last.text)
}

// exists reports whether the context holds p, a file or a directory,
// which may be empty: Docker sends a directory that .dockerignore does not
// match even when it leaves out every file in it.
func (c *Context) exists(p string) bool {
	_, found := slices.BinarySearch(c.Files, p)
	return p == "." || found || c.dirs[p] || c.hasBelow(p)
}

// hasGo reports whether the context directory dir holds a Go file.
func (c *Context) hasGo(dir string) bool {
	for _, f := range c.Files {
		if path.Dir(f) == dir && strings.HasSuffix(f, ".go") {
			return true
		}
	}
	return false
}

func (c *Context) hasBelow(dir string) bool {
	for _, f := range c.Files {
		if strings.HasPrefix(f, dir+"/") {
			return true
		}
	}
	return false
}

// glob returns the context's files and directories that pattern matches,
// as BuildKit resolves a COPY source with wildcards: path.Match against
// each path, a matched directory standing for all its files.
func (c *Context) glob(pattern string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range c.Files {
		for p := f; p != "."; p = path.Dir(p) {
			if seen[p] {
				continue
			}
			seen[p] = true
			if ok, _ := path.Match(pattern, p); ok {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// under returns the context's files at or below p ("." for all), each
// with its path relative to p ("" for p itself, a file).
func (c *Context) under(p string) map[string]string {
	out := map[string]string{}
	for _, f := range c.Files {
		switch {
		case p == ".":
			out[f] = f
		case f == p:
			out[f] = ""
		case strings.HasPrefix(f, p+"/"):
			out[f] = strings.TrimPrefix(f, p+"/")
		}
	}
	return out
}
