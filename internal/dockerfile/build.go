package dockerfile

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// GoBuild is a `go build` that a RUN of the Dockerfile runs, with the
// values the build would see: build arguments and ARG defaults expanded,
// the stage's ENV and the RUN's own assignments applied.
type GoBuild struct {
	// Line is the RUN's line in the Dockerfile.
	Line int
	// Env holds what the Dockerfile sets for the build, KEY=VALUE: the
	// stage's ARG and ENV values and the RUN's own assignments, with GOOS
	// and GOARCH always set (to the stage's platform when the Dockerfile
	// leaves them unset, as go does in the build container).
	Env []string
	// Args are go's arguments: "build", the flags and the packages.
	Args []string
	// Dir is the working directory in the build stage.
	Dir string
	// Package is the main package, as written after expansion (./service).
	Package string
	// Output is the path go build writes the binary to in the build stage.
	Output string
	// GOOS and GOARCH are the platform the binary is built for.
	GOOS, GOARCH string
	// Cgo is whether the build uses cgo: CGO_ENABLED=1, or unset for a
	// native build (the golang images have a C compiler).
	Cgo bool
	// crossStage is whether the stage runs on a platform of its own
	// (FROM --platform=$BUILDPLATFORM), not the target's.
	crossStage bool
	// copies are the context files the stage has before the build: its
	// COPYs and ADDs, and the RUN's bind mounts.
	copies []copyStep
}

// goFlagsWithValue are go build's flags that take a separate value.
var goFlagsWithValue = []string{"o", "C", "p", "tags", "ldflags", "gcflags", "asmflags", "gccgoflags", "mod", "modfile",
	"pkgdir", "overlay", "pgo", "buildmode", "compiler", "installsuffix", "toolexec", "coverpkg", "covermode", "buildvcs", "modcacherw"}

// run records a RUN: its bind mounts of the build context, and the go
// build it runs, if any.
func (e *evaluator) run(s *stage, n int, c *instructions.RunCommand) {
	var binds []copyStep
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeBind || m.From != "" {
			continue
		}
		src := m.Source
		if src == "" {
			src = "."
		}
		binds = append(binds, copyStep{srcs: e.contextSource(n, "RUN --mount=type=bind,source="+src, src), dest: e.abs(s.workdir, m.Target), destDir: true})
	}
	words := c.CmdLine
	if c.PrependShell {
		script := strings.Join(c.CmdLine, " ")
		for _, f := range c.Files {
			// A heredoc: its lines are commands, continued lines joined.
			script += " ; " + strings.ReplaceAll(strings.ReplaceAll(f.Data, "\\\n", " "), "\n", " ; ")
		}
		lex := shell.NewLex('\\')
		lex.SkipUnsetEnv = true // a variable the base image sets stays visible
		var err error
		if words, err = lex.ProcessWords(script, shell.EnvsFromSlice(s.env)); err != nil {
			e.problem(n, "%v", err)
			return
		}
	}
	dir := s.workdir
	for _, simple := range splitCommands(words) {
		env := slices.Clone(s.env)
		for len(simple) > 0 && (simple[0] == "env" || isAssignment(simple[0])) {
			if k, v, ok := strings.Cut(simple[0], "="); ok {
				setEnv(&env, k, v)
			}
			simple = simple[1:]
		}
		if len(simple) == 2 && simple[0] == "cd" {
			dir = e.abs(dir, simple[1])
		}
		if len(simple) < 2 || simple[0] != "go" || simple[1] != "build" {
			continue
		}
		b, err := newGoBuild(n, s, dir, env, simple[1:])
		if err != nil {
			e.problem(n, "%v", err)
			continue
		}
		b.copies = append(slices.Clone(s.copies), binds...)
		s.builds = append(s.builds, b)
	}
}

// splitCommands splits a shell command line into its simple commands at
// &&, ||, ; and |.
func splitCommands(words []string) [][]string {
	var out [][]string
	var cur []string
	for _, w := range words {
		end := false
		if t, ok := strings.CutSuffix(w, ";"); ok {
			w, end = t, true
		}
		switch {
		case w == "&&" || w == "||" || w == "|":
			end = true
		case w != "":
			cur = append(cur, w)
		}
		if end {
			out, cur = append(out, cur), nil
		}
	}
	return append(out, cur)
}

func isAssignment(w string) bool {
	k, _, ok := strings.Cut(w, "=")
	return ok && k != "" && !strings.ContainsAny(k, "-./$")
}

// newGoBuild reads go's arguments args, run in dir of the stage s.
func newGoBuild(n int, s *stage, dir string, env, args []string) (*GoBuild, error) {
	b := &GoBuild{Line: n, Env: env, Args: args, Dir: dir, crossStage: s.pinned}
	for _, a := range args {
		if strings.Contains(a, "$") {
			return nil, fmt.Errorf("go build uses %s, which the Dockerfile does not set (the base image may, but it cannot be inspected here): set it with ARG or ENV", a)
		}
	}
	osName, arch, _ := strings.Cut(s.platform, "/")
	b.GOOS, b.GOARCH = osName, arch
	if v, ok := lookup(env, "GOOS"); ok && v != "" {
		b.GOOS = v
	}
	if v, ok := lookup(env, "GOARCH"); ok && v != "" {
		b.GOARCH = v
	}
	setEnv(&b.Env, "GOOS", b.GOOS)
	setEnv(&b.Env, "GOARCH", b.GOARCH)
	switch v, _ := lookup(env, "CGO_ENABLED"); v {
	case "1":
		b.Cgo = true
	case "":
		b.Cgo = b.GOOS+"/"+b.GOARCH == s.platform
	}
	var out string
	var pkgs []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-"):
			pkgs = append(pkgs, a)
		case name == "o" && hasValue:
			out = value
		case name == "o" && i+1 < len(args):
			out = args[i+1]
			i++
		case !hasValue && slices.Contains(goFlagsWithValue, name) && name != "modcacherw" && i+1 < len(args):
			i++
		}
	}
	if len(pkgs) != 1 || strings.HasSuffix(pkgs[0], ".go") {
		return nil, fmt.Errorf("go build %s: want one main package (e.g. ${PACKAGE}), found %q", strings.Join(args[1:], " "), pkgs)
	}
	switch {
	case out == "" && (pkgs[0] == "." || pkgs[0] == "./"):
		return nil, fmt.Errorf("go build %s: name the binary with -o", strings.Join(args[1:], " "))
	case out == "":
		out = path.Base(pkgs[0])
	case strings.HasSuffix(out, "/"):
		out = path.Join(out, path.Base(pkgs[0]))
	}
	b.Package = pkgs[0]
	b.Output = path.Join("/", dir, out)
	if path.IsAbs(out) {
		b.Output = path.Clean(out)
	}
	return b, nil
}

// Command returns go's arguments with the binary written to out instead.
func (b *GoBuild) Command(out string) []string {
	args := []string{"build", "-o", out}
	for i := 1; i < len(b.Args); i++ {
		a := b.Args[i]
		switch name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "="); {
		case strings.HasPrefix(a, "-") && name == "o" && !hasValue:
			i++
		case strings.HasPrefix(a, "-") && name == "o":
		default:
			args = append(args, a)
		}
	}
	return args
}

// contextPath returns the build context path that the build stage's
// imagePath comes from, through the last of the stage's COPYs and the
// RUN's binds that covers it.
func (b *GoBuild) contextPath(ctx *Context, imagePath string) (string, bool) {
	for _, c := range slices.Backward(b.copies) {
		for _, src := range c.srcs {
			if src == "." || ctx.hasBelow(src) {
				// A directory: its contents land in dest.
				if rel, ok := strings.CutPrefix(imagePath, c.dest); ok && (rel == "" || strings.HasPrefix(rel, "/") || c.dest == "/") {
					return path.Join(src, strings.TrimPrefix(rel, "/")), true
				}
				continue
			}
			if imagePath == c.dest && !c.destDir || imagePath == path.Join(c.dest, path.Base(src)) && c.destDir {
				return src, true
			}
		}
	}
	return path.Clean(strings.TrimPrefix(imagePath, "/")), false
}

// Stage writes what the build sees of the build context under root, which
// stands for the build stage's file system: the context files the stage
// COPYs or ADDs before the build, where they land, and those its RUN
// binds. It returns the directory to run the build in. What RUN steps or
// the base image add is not there.
func (b *GoBuild) Stage(ctx *Context, root string) (string, error) {
	for _, c := range b.copies {
		for _, src := range c.srcs {
			for file, rel := range ctx.under(src) {
				target := path.Join(c.dest, rel)
				if rel == "" && c.destDir {
					target = path.Join(c.dest, path.Base(file))
				}
				if err := copyFile(filepath.Join(ctx.Dir, filepath.FromSlash(file)), filepath.Join(root, filepath.FromSlash(target))); err != nil {
					return "", err
				}
			}
		}
	}
	dir := filepath.Join(root, filepath.FromSlash(b.Dir))
	return dir, os.MkdirAll(dir, 0o755)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}
