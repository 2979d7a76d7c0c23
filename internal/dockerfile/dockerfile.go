// Package dockerfile checks a service's Dockerfile offline, reading it with
// BuildKit's own parser, against what a deploy would otherwise find out
// late: the server must be PID 1 (an exec-form ENTRYPOINT or CMD), the
// binary must be built for the image's platform, and every file the
// Dockerfile takes from the build context must be in the context that
// `cdk deploy` sends, as .dockerignore and the asset's excludes leave it.
// It also derives, from the Dockerfile's own `RUN ... go build`, the build
// that a test runs offline in place of `docker build`, which cannot pull a
// base image here.
//
// What it cannot see: the contents of a base image other than scratch (its
// files, environment, user, entrypoint and platforms), which no registry
// serves on this machine; and what RUN steps other than the go build
// write. Image.Notes says so for each base image.
package dockerfile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Image is what the checks learned about the image a Dockerfile builds.
type Image struct {
	// Build is the go build whose output the ENTRYPOINT (or CMD) runs.
	Build *GoBuild
	// Runtime is the final stage's base: "scratch" or an image reference.
	Runtime string
	// Entrypoint is the final stage's command, exec form.
	Entrypoint []string
	// Notes say what could not be checked: each base image that cannot be
	// pulled here.
	Notes []string
}

// Check reads the Dockerfile named file (relative to the context
// directory, as CDK's file option) and checks it against the build
// context ctx, for platform ("linux/arm64", the asset's) and the build
// arguments buildArgs (the asset's buildArgs). Each problem is a line of
// the error, naming the Dockerfile's line and what to do.
func Check(ctx *Context, file, platform string, buildArgs map[string]string) (*Image, error) {
	data, err := os.ReadFile(filepath.Join(ctx.Dir, file))
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", file)
	}
	targetOS, targetArch, ok := strings.Cut(platform, "/")
	if !ok {
		return nil, fmt.Errorf("platform %q: want os/arch", platform)
	}
	e := &evaluator{
		ctx: ctx, file: file, lex: shell.NewLex(res.EscapeToken),
		platform: platform, buildArgs: buildArgs,
		// The platform arguments BuildKit defines, which FROM lines see,
		// and a stage once it declares them.
		global: []string{
			"TARGETPLATFORM=" + platform, "TARGETOS=" + targetOS, "TARGETARCH=" + targetArch, "TARGETVARIANT=",
			// cdk deploy builds where synth runs, and the test builds here.
			"BUILDPLATFORM=linux/" + runtime.GOARCH, "BUILDOS=linux", "BUILDARCH=" + runtime.GOARCH, "BUILDVARIANT=",
		},
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			e.declare(&e.global, kv, e.global)
		}
	}
	for i := range stages {
		e.stage(&stages[i])
	}
	img := e.final(e.stages[len(e.stages)-1])
	slices.SortStableFunc(e.problems, func(a, b problem) int { return a.line - b.line })
	var errs []error
	for _, p := range e.problems {
		errs = append(errs, errors.New(p.msg))
	}
	return img, errors.Join(errs...)
}

// evaluator walks the stages in order, as BuildKit dispatches them,
// keeping each stage's environment and working directory.
type evaluator struct {
	ctx       *Context
	file      string
	lex       *shell.Lex
	platform  string
	buildArgs map[string]string
	global    []string // the arguments FROM lines see
	stages    []*stage
	notes     []string
	problems  []problem
}

// problem is one line of Check's error.
type problem struct {
	line int
	msg  string
}

// stage is one FROM and what it holds, with what it inherits from a base
// stage.
type stage struct {
	name     string
	line     int
	base     string
	parent   *stage
	platform string   // os/arch its commands run on
	pinned   bool     // whether FROM --platform makes it the build machine's or another than the target's
	env      []string // KEY=VALUE, from ARG and ENV
	workdir  string
	copies   []copyStep // context files copied in, in order
	builds   []*GoBuild
	fromCopy []stageCopy // COPY --from=another stage
	cmd      *command
	cmdSet   bool // CMD set in this stage, not inherited
	entry    *command
}

type command struct {
	name string // ENTRYPOINT or CMD
	line int
	instructions.ShellDependantCmdLine
}

// copyStep copies context paths (files or directories) to dest.
type copyStep struct {
	srcs    []string
	dest    string
	destDir bool
}

// stageCopy is a COPY --from=another stage of the Dockerfile.
type stageCopy struct {
	from    *stage
	srcs    []string
	dest    string
	destDir bool
}

func (e *evaluator) problem(line int, format string, args ...any) {
	e.problems = append(e.problems, problem{line, fmt.Sprintf("%s:%d: %s", e.file, line, fmt.Sprintf(format, args...))})
}

func (e *evaluator) expand(word string, env []string) string {
	w, _, err := e.lex.ProcessWord(word, shell.EnvsFromSlice(env))
	if err != nil {
		return word
	}
	return w
}

// declare sets an ARG in env as BuildKit does: the build argument if one
// is given, else the default expanded in scope, else (an ARG without a
// default) the global value of the same name.
func (e *evaluator) declare(env *[]string, kv instructions.KeyValuePairOptional, scope []string) {
	v, ok := e.buildArgs[kv.Key]
	switch {
	case ok:
	case kv.Value != nil:
		v, ok = e.expand(*kv.Value, scope), true
	default:
		v, ok = lookup(e.global, kv.Key)
	}
	if ok {
		setEnv(env, kv.Key, v)
	}
}

func lookup(env []string, key string) (string, bool) {
	for _, kv := range slices.Backward(env) {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v, true
		}
	}
	return "", false
}

func setEnv(env *[]string, key, value string) {
	*env = slices.DeleteFunc(*env, func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
	*env = append(*env, key+"="+value)
}

func line(c interface{ Location() []parser.Range }) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

func (e *evaluator) lookupStage(name string) *stage {
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(e.stages) {
		return e.stages[i]
	}
	for _, s := range e.stages {
		if s.name != "" && strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// stage dispatches one stage: its FROM, then its instructions in order.
func (e *evaluator) stage(in *instructions.Stage) {
	s := &stage{name: in.Name, line: in.Location[0].Start.Line, base: e.expand(in.BaseName, e.global), workdir: "/", platform: e.platform}
	if p := e.lookupStage(s.base); p != nil {
		s.parent = p
		s.platform, s.pinned, s.env, s.workdir = p.platform, p.pinned, slices.Clone(p.env), p.workdir
		s.copies, s.cmd, s.entry = slices.Clone(p.copies), p.cmd, p.entry
	} else if s.base != "scratch" && !slices.ContainsFunc(e.notes, func(n string) bool { return strings.Contains(n, " "+s.base+" ") }) {
		e.notes = append(e.notes, fmt.Sprintf("base image %s cannot be pulled here: its files, environment, user, entrypoint and platforms are not checked", s.base))
	}
	if in.Platform != "" {
		s.platform = e.expand(in.Platform, e.global)
		s.pinned = !strings.Contains(in.Platform, "TARGETPLATFORM") && s.platform != e.platform || strings.Contains(in.Platform, "BUILDPLATFORM")
	}
	for _, c := range in.Commands {
		n := line(c)
		if x, ok := c.(instructions.SupportsSingleWordExpansion); ok {
			if _, isArg := c.(*instructions.ArgCommand); !isArg {
				env := s.env
				if err := x.Expand(func(w string) (string, error) {
					r, _, err := e.lex.ProcessWord(w, shell.EnvsFromSlice(env))
					return r, err
				}); err != nil {
					e.problem(n, "%v", err)
					continue
				}
			}
		}
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				e.declare(&s.env, kv, s.env)
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				setEnv(&s.env, kv.Key, kv.Value)
			}
		case *instructions.WorkdirCommand:
			s.workdir = e.abs(s.workdir, c.Path)
		case *instructions.CopyCommand:
			e.copy(s, n, "COPY", c.From, c.SourcesAndDest, false)
		case *instructions.AddCommand:
			e.copy(s, n, "ADD", "", c.SourcesAndDest, true)
		case *instructions.RunCommand:
			e.run(s, n, c)
		case *instructions.EntrypointCommand:
			s.entry = &command{"ENTRYPOINT", n, c.ShellDependantCmdLine}
			if !s.cmdSet {
				s.cmd = nil // as BuildKit does: ENTRYPOINT resets an inherited CMD
			}
		case *instructions.CmdCommand:
			s.cmd, s.cmdSet = &command{"CMD", n, c.ShellDependantCmdLine}, true
		}
	}
	e.stages = append(e.stages, s)
}

func (e *evaluator) abs(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}

func hasWildcard(p string) bool { return strings.ContainsAny(p, "*?[") }

// copy records a COPY or ADD: from the build context, it checks that each
// source is there; from another stage, it remembers what it copies, to
// find the go build whose output the final stage runs.
func (e *evaluator) copy(s *stage, n int, inst, from string, sd instructions.SourcesAndDest, isAdd bool) {
	dest := e.abs(s.workdir, sd.DestPath)
	destDir := strings.HasSuffix(sd.DestPath, "/") || sd.DestPath == "." || len(sd.SourcePaths) > 1
	if from != "" {
		if p := e.lookupStage(from); p != nil {
			s.fromCopy = append(s.fromCopy, stageCopy{from: p, srcs: sd.SourcePaths, dest: dest, destDir: destDir})
		}
		return
	}
	var srcs []string
	for _, src := range sd.SourcePaths {
		if isAdd && (strings.Contains(src, "://") || strings.HasPrefix(src, "git@")) {
			continue // a URL or Git source, not the context's
		}
		found := e.contextSource(n, inst+" "+src, src)
		if len(found) > 1 || hasWildcard(src) {
			destDir = true
		}
		srcs = append(srcs, found...)
	}
	s.copies = append(s.copies, copyStep{srcs: srcs, dest: dest, destDir: destDir})
}

// contextSource checks that src, a COPY or ADD source or a bind mount's
// (what shows it, e.g. "COPY notes.yaml"),
// names something in the build context, and returns the context paths it
// stands for. BuildKit fails on a missing path ("not found") only at
// deploy, and copies nothing for a wildcard that matches nothing.
func (e *evaluator) contextSource(n int, what, src string) []string {
	p := path.Clean("/" + src)[1:]
	if p == "" {
		p = "."
	}
	if hasWildcard(p) {
		found := e.ctx.glob(p)
		// BuildKit resolves the wildcard by walking the directory before
		// it: one that is there makes a wildcard that matches nothing copy
		// nothing, silently; a missing one fails the build (both checked
		// with Docker 20.10's BuildKit). CDK stages every directory that
		// .dockerignore keeps, empty or not, and none that it drops
		// (aws-cdk-lib core/lib/fs/copy.ts).
		dir := p[:strings.IndexAny(p, "*?[")]
		dir = path.Dir(dir + "x")
		switch {
		case len(found) > 0:
		case dir == "." || e.ctx.exists(dir):
			e.problem(n, "%s matches no file of the build context, so BuildKit copies nothing and the build goes on%s", what, e.whyMissing(p, true))
		default:
			e.problem(n, "%s: %s is not in the build context that cdk deploy sends, and docker build fails with \"no such file or directory\"%s", what, dir, e.whyMissing(dir, false))
		}
		return found
	}
	switch {
	case !e.ctx.exists(p):
		e.problem(n, "%s: %s is not in the build context that cdk deploy sends, and docker build fails with \"not found\"%s", what, p, e.whyMissing(p, false))
		return nil
	case p != "." && !e.ctx.hasBelow(p) && !slices.Contains(e.ctx.Files, p):
		e.problem(n, "%s: the build context holds no file of %s, so BuildKit copies an empty directory and the build goes on%s", what, p, e.whyMissing(p, false))
	}
	return []string{p}
}

// whyMissing names the .dockerignore line (or exclude) that drops p's
// files from the context, or says p is not in the directory at all.
func (e *evaluator) whyMissing(p string, glob bool) string {
	var onDisk []string
	if glob {
		onDisk, _ = filepath.Glob(filepath.Join(e.ctx.Dir, filepath.FromSlash(p)))
	} else if _, err := os.Stat(filepath.Join(e.ctx.Dir, filepath.FromSlash(p))); err == nil {
		onDisk = []string{filepath.Join(e.ctx.Dir, filepath.FromSlash(p))}
	}
	for _, f := range onDisk {
		rel, _ := filepath.Rel(e.ctx.Dir, f)
		rel = filepath.ToSlash(rel)
		if by := e.ctx.droppedBy(rel); by != "" {
			return fmt.Sprintf(": %s leaves %s out", by, rel)
		}
		// A directory whose files are all left out.
		var below string
		_ = filepath.WalkDir(f, func(q string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && below == "" {
				r, _ := filepath.Rel(e.ctx.Dir, q)
				if by := e.ctx.droppedBy(filepath.ToSlash(r)); by != "" {
					below = fmt.Sprintf(": %s leaves %s out", by, filepath.ToSlash(r))
				}
			}
			return nil
		})
		if below != "" {
			return below
		}
	}
	if len(onDisk) == 0 {
		return fmt.Sprintf(" (no %s in %s)", p, e.ctx.Dir)
	}
	return ""
}

// final checks the last stage, the image: its platform, its command in
// exec form, and that the command runs a go build's output; and returns
// what it learned.
func (e *evaluator) final(s *stage) *Image {
	img := &Image{Runtime: s.base, Notes: e.notes}
	for r := s; r.parent != nil; r = r.parent {
		img.Runtime = r.parent.base
	}
	if s.pinned {
		e.problem(s.line, "the final stage runs on %s, but the image is for %s (the cpuArchitecture context key): drop its --platform", s.platform, e.platform)
	}
	run := s.entry
	if run == nil {
		run = s.cmd
	}
	if run == nil {
		e.problem(s.line, "the final stage sets no ENTRYPOINT or CMD: write ENTRYPOINT [\"/your-binary\"] (exec form)")
		return img
	}
	if run.PrependShell {
		e.problem(run.line, "%s in shell form runs /bin/sh -c as PID 1, which does not pass ECS's SIGTERM on to the server: write the exec form, e.g. ENTRYPOINT [\"/service\"]", run.name)
		return img
	}
	if s.entry != nil && s.cmd != nil && s.cmd.PrependShell {
		e.problem(s.cmd.line, "a shell-form CMD after ENTRYPOINT passes \"/bin/sh -c ...\" to it as arguments: write CMD in exec form")
	}
	img.Entrypoint = run.CmdLine
	if len(run.CmdLine) == 0 {
		e.problem(run.line, "empty command")
		return img
	}
	if sh := path.Base(run.CmdLine[0]); slices.Contains([]string{"sh", "bash", "ash", "dash"}, sh) && slices.Contains(run.CmdLine, "-c") &&
		!strings.HasPrefix(strings.TrimSpace(run.CmdLine[len(run.CmdLine)-1]), "exec ") {
		e.problem(run.line, "%s -c makes the shell PID 1, which does not pass ECS's SIGTERM on to the server: run the binary directly, or start the script with exec", sh)
		return img
	}
	img.Build = e.entryBuild(s, run)
	if img.Build != nil {
		e.checkBuild(img)
	}
	return img
}

// entryBuild finds the go build whose output the command runs: built in
// the final stage, or COPYed into it from a build stage.
func (e *evaluator) entryBuild(s *stage, run *command) *GoBuild {
	bin := e.abs(s.workdir, run.CmdLine[0])
	var all []*GoBuild
	for _, st := range e.stages {
		all = append(all, st.builds...)
	}
	if len(all) == 0 {
		e.problem(run.line, "no RUN ... go build in the Dockerfile: the offline build test has nothing to build")
		return nil
	}
	for st := s; st != nil; st = st.parent {
		for _, b := range st.builds {
			if b.Output == bin {
				return b
			}
		}
	}
	for st := s; st != nil; st = st.parent {
		for _, c := range st.fromCopy {
			for from := c.from; from != nil; from = from.parent {
				for _, b := range from.builds {
					if copied(b.Output, c) == bin {
						return b
					}
				}
			}
		}
	}
	var outs []string
	for _, b := range all {
		outs = append(outs, fmt.Sprintf("%s (line %d)", b.Output, b.Line))
	}
	e.problem(run.line, "%s runs %s, which no go build's output is copied to (go build writes %s)", run.name, bin, strings.Join(outs, ", "))
	return nil
}

// copied returns where COPY --from puts out, a file of the other stage,
// or "" if it does not copy it.
func copied(out string, c stageCopy) string {
	for _, src := range c.srcs {
		src = path.Clean("/" + src)
		switch ok, _ := path.Match(src, out); {
		case src == out || ok:
			if c.destDir || hasWildcard(src) {
				return path.Join(c.dest, path.Base(out))
			}
			return c.dest
		case strings.HasPrefix(out, strings.TrimSuffix(src, "/")+"/"):
			return path.Join(c.dest, strings.TrimPrefix(out, strings.TrimSuffix(src, "/")+"/"))
		}
	}
	return ""
}

// checkBuild checks the go build that makes the image's binary: built for
// the image's platform, and, with cgo, linked so that the runtime base
// can run it.
func (e *evaluator) checkBuild(img *Image) {
	b := img.Build
	if got := b.GOOS + "/" + b.GOARCH; got != e.platform {
		e.problem(b.Line, "go build builds for %s, but the image is for %s (the cpuArchitecture context key): set GOOS=$TARGETOS GOARCH=$TARGETARCH (with ARG TARGETOS TARGETARCH), or leave them unset", got, e.platform)
	}
	if dir, ok := strings.CutPrefix(b.Package, "."); ok && (dir == "" || strings.HasPrefix(dir, "/") || strings.HasPrefix(dir, "./")) {
		switch src, ok := b.contextPath(e.ctx, path.Join(b.Dir, b.Package)); {
		case !ok:
			e.problem(b.Line, "go build %s: no COPY or bind mount of the build context puts anything at %s in the build stage", b.Package, path.Join(b.Dir, b.Package))
		case !e.ctx.hasGo(src):
			e.problem(b.Line, "go build %s: no Go file of the build context reaches %s in the build stage%s", b.Package, path.Join(b.Dir, b.Package), e.whyMissing(src, false))
		}
	}
	if v, _ := lookup(b.Env, "CGO_ENABLED"); v == "1" && b.crossStage {
		if _, cc := lookup(b.Env, "CC"); !cc {
			e.problem(b.Line, "go build uses cgo for %s/%s in a stage that runs on the build machine's platform: on any other machine gcc cannot build for it: set CC to a cross-compiler that the build stage installs, or CGO_ENABLED=0", b.GOOS, b.GOARCH)
		}
	}
	if b.Cgo && img.Runtime == "scratch" && !slices.ContainsFunc(b.Args, func(a string) bool { return strings.Contains(a, "-static") }) {
		e.problem(b.Line, "go build links cgo against libc dynamically, and the final stage, scratch, has none: set CGO_ENABLED=0, or link statically (-ldflags '-linkmode external -extldflags -static')")
	}
}
