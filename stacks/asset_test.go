package stacks

import (
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/fargo-cdk/fargo/internal/dockerfile"
)

// repoFiles lists the working tree's files that git does not ignore, or
// skips the test outside a git checkout.
func repoFiles(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("needs a git checkout: %v", err)
	}
	var files []string
	for _, f := range strings.Fields(string(out)) {
		// A file deleted but not yet staged is still listed.
		if _, err := os.Stat(filepath.Join(repoRoot, f)); err == nil {
			files = append(files, f)
		}
	}
	return files
}

// copyRepo copies files from the working tree into a new directory that
// lives as long as the test.
func copyRepo(t *testing.T, files []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendFile adds content to the end of an existing file.
func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// TestImageAssetHash proves what the image depends on. CDK hashes the
// build context as .dockerignore leaves it, and `cdk deploy` builds and
// pushes a new image, and replaces the tasks, only when that hash changes:
// it must change with every file the service can be built from, and with
// nothing else.
func TestImageAssetHash(t *testing.T) {
	files := repoFiles(t)
	app := newApp(t, nil)
	stack := awscdk.NewStack(app, jsii.String("Assets"), nil)
	hash := func(t *testing.T, dir string) string {
		var h string
		mustNotPanic(t, func() {
			asset := awsecrassets.NewDockerImageAsset(stack, jsii.String(t.Name()), &awsecrassets.DockerImageAssetProps{
				Directory: jsii.String(dir),
				Platform:  awsecrassets.Platform_LINUX_AMD64(),
			})
			h = *asset.AssetHash()
		})
		return h
	}
	base := hash(t, copyRepo(t, files))

	// Each case edits one file of a copy of the repository: an existing
	// file gets a line more, a new one is created.
	tests := []struct {
		file    string
		changes bool
	}{
		// What the image is built from.
		{"service/server.go", true},
		{"service/static/index.html", true}, // a file the service could embed
		{"serve/serve.go", true},
		{"origin/origin.go", true},
		{"internal/greet/greet.go", true}, // a new helper package
		{"go.mod", true},
		{"go.sum", true},
		{"Dockerfile", true},
		{".dockerignore", true},
		// Everything else.
		{"README.md", false},
		{"service/README.md", false},
		{"main.go", false}, // the CDK app
		{"stacks/service.go", false},
		{"stacks/stacks_test.go", false},
		{"stacks/testdata/Service.template.json", false},
		{"service/server_test.go", false},
		{"serve/load_test.go", false},
		{"internal/greet/greet_test.go", false},
		{"internal/testhelp/testhelp.go", false},     // the tests' own helpers
		{"internal/plan/diff.go", false},             // the change plan tool
		{"internal/plan/newfile.go", false},          //  and a file it gains
		{"internal/dockerfile/dockerfile.go", false}, // the Dockerfile checks
		{"internal/dockerfile/testdata/good.Dockerfile", false},
		{"cmd/plan/main.go", false},
		{"origin/testdata/origins.json", false},
		{"bench/run.sh", false},
		{"bench/baseline/main.go", false},
		{"e2e/e2e_test.go", false},
		{"e2e/harness.go", false},
		{"integ/integ.go", false},
		{"cmd/deployrole/main.go", false},
		{"cmd/spotfallback/main.go", false}, // the Spot fallback function
		{"fallback/fallback.go", false},
		{"scripts/smoke.sh", false},
		{"docs/design.md", false},
		{".ci/run", false},
		{"cdk.json", false},
		{"Makefile", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := copyRepo(t, files)
			path := filepath.Join(dir, tt.file)
			if _, err := os.Stat(path); err == nil {
				appendFile(t, path, "\n")
			} else {
				writeFile(t, path, "package x\n")
			}
			if changed := hash(t, dir) != base; changed != tt.changes {
				t.Errorf("editing %s changed the image hash: %v, want %v", tt.file, changed, tt.changes)
			}
		})
	}
	// What git ignores is not in the copies above but is in a real
	// checkout: what make synth, test, deploy and deploy-role write, the
	// local Node and CDK CLI (whose npm packages ship Go files), test
	// binaries and profiles. Every .gitignore line gets a file of its own.
	for _, f := range ignoredOutputs(t) {
		t.Run("ignored "+f, func(t *testing.T) {
			dir := copyRepo(t, files)
			writeFile(t, filepath.Join(dir, f), "package x\n")
			if hash(t, dir) != base {
				t.Errorf("creating %s, which git ignores, changed the image hash: add it to .dockerignore", f)
			}
		})
	}
}

// ignoredOutputs returns a file for each pattern of .gitignore that a
// checkout may hold: under a directory pattern a Go file, for a name
// pattern that name, and for a glob, which the go tool's outputs
// (service.test, cover.out) match in any package directory, a name at the
// root and one in service/.
func ignoredOutputs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue
		}
		p = strings.TrimPrefix(p, "/")
		switch {
		case strings.HasSuffix(p, "/"):
			out = append(out, p+"x/x.go")
		case strings.Contains(p, "*"):
			name := strings.ReplaceAll(p, "*", "x")
			out = append(out, name, "service/"+name)
		default:
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal(".gitignore lists nothing")
	}
	return out
}

// TestImageAssetBuilds builds what `cdk deploy` builds: it synthesizes the
// service image asset with staging on, as the CLI does, takes the staged
// build context, platform and build arguments from the cloud assembly,
// checks the Dockerfile against them (internal/dockerfile) and runs the
// go build that the Dockerfile runs, derived from its RUN line with its
// build arguments, ARG defaults and ENV, in what the build stage copies
// from that context, for that platform, for each cpuArchitecture, offline,
// from a module cache of its own that starts empty and holds only what
// the test provisions first (provisionModules): nothing that a module
// cache happens to hold can pass or fail it. The binary must be one that
// architecture runs, and static on a scratch runtime stage. The
// repository gets a helper package under internal/ that the service
// imports, as a user's app would have; a package the context missed would
// fail here, not at deploy. The control proves the test can fail: the
// same app whose context leaves out its helper package must not build.
func TestImageAssetBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service; skipped with -short")
	}
	helper := map[string]string{
		"internal/greet/greet.go": "// Package greet is a helper of the service.\npackage greet\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
		"service/greet.go":        "package main\n\nimport \"github.com/fargo-cdk/fargo/internal/greet\"\n\nvar _ = greet.Hello\n",
	}
	files := repoFiles(t)
	addHelper := func(t *testing.T, dir string) {
		for f, content := range helper {
			writeFile(t, filepath.Join(dir, f), content)
		}
	}
	tests := []struct {
		name string
		// arch is the -c cpuArchitecture override; "" keeps cdk.json's.
		arch Architecture
		edit func(t *testing.T, dir string)
		// platform is the image asset's; machine the binary's.
		platform string
		machine  elf.Machine
		fails    string // a word of the build error, or "" if it must build
	}{
		{"the repository with a helper package", "", addHelper, "linux/arm64", elf.EM_AARCH64, ""},
		{"the same with cpuArchitecture=x86_64", X86_64, addHelper, "linux/amd64", elf.EM_X86_64, ""},
		{"control: a context without the helper package", "", func(t *testing.T, dir string) {
			addHelper(t, dir)
			appendFile(t, filepath.Join(dir, ".dockerignore"), "\ninternal/greet/\n")
		}, "linux/arm64", elf.EM_AARCH64, "internal/greet"},
	}

	// Synthesize one at a time (jsii), then build all at once.
	type build struct {
		image  imageSource
		source *dockerfile.Context // the repository copy's context
		img    *dockerfile.Image
		dir    string // where the build runs: the build stage's working directory
		skip   string
	}
	builds := make([]build, len(tests))
	for i, tt := range tests {
		dir := copyRepo(t, files)
		tt.edit(t, dir)
		b := &builds[i]
		b.image = stageImage(t, dir, tt.arch)
		var err error
		if b.source, err = dockerfile.ReadContext(dir, nil); err != nil {
			t.Fatal(err)
		}
		// docker build applies .dockerignore again to the staged copy.
		ctx, err := dockerfile.ReadContext(b.image.Directory, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.img, err = dockerfile.Check(ctx, b.image.dockerFile(), b.image.Platform, b.image.BuildArgs); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if b.dir, err = b.img.Build.Stage(ctx, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		b.skip = cgoSkip(b.img.Build)
	}
	var provision []buildCommand
	for i, tt := range tests {
		if tt.fails == "" && builds[i].skip == "" {
			provision = append(provision, buildCommand{builds[i].dir, builds[i].img.Build})
		}
	}
	modcache := provisionModules(t, provision)
	bins := make([]string, len(tests))
	outputs := make([]string, len(tests))
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i := range tests {
		if builds[i].skip != "" {
			continue
		}
		bins[i] = filepath.Join(t.TempDir(), "service")
		wg.Go(func() {
			outputs[i], errs[i] = goBuild(buildCommand{builds[i].dir, builds[i].img.Build}, bins[i], modcache)
		})
	}
	wg.Wait()

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := builds[i]
			for _, note := range b.img.Notes {
				t.Log(note)
			}
			if b.image.Platform != tt.platform {
				t.Errorf("image asset platform %q, want %s", b.image.Platform, tt.platform)
			}
			if b.skip != "" {
				t.Skip(b.skip)
			}
			t.Logf("go %s in the build stage's %s, with %s", strings.Join(b.img.Build.Command(b.img.Build.Output), " "), b.img.Build.Dir, strings.Join(b.img.Build.Env, " "))
			if tt.fails == "" && errs[i] == nil {
				checkMachine(t, bins[i], tt.machine, b.img.Runtime == "scratch")
			}
			switch {
			case tt.fails == "" && errs[i] != nil:
				t.Errorf("go build in the staged context: %v\n%s", errs[i], outputs[i])
			case tt.fails != "" && errs[i] == nil:
				t.Errorf("go build succeeded, want it to fail on %s", tt.fails)
			case tt.fails != "" && !strings.Contains(outputs[i], tt.fails):
				t.Errorf("go build failed without naming %s: %v\n%s", tt.fails, errs[i], outputs[i])
			}
		})
	}
	t.Run("staged files", func(t *testing.T) {
		for f := range helper {
			files = append(files, f)
		}
		checkStaged(t, builds[0].image.Directory, files)
		// The context internal/dockerfile reads from the source directory
		// is what CDK stages, less the two files CDK always adds: the
		// checks see what cdk deploy sends.
		staged := walkFiles(t, builds[0].image.Directory)
		want := append([]string{".dockerignore"}, builds[0].source.Files...)
		slices.Sort(want)
		if !slices.Equal(staged, want) {
			t.Errorf("CDK staged %q\nthe Dockerfile checks' context (with .dockerignore) is %q", staged, want)
		}
	})
}

// cgoSkip says why the derived build cannot run here, or "": a cgo build
// needs a C compiler for the target, and here there is only the host's.
func cgoSkip(b *dockerfile.GoBuild) string {
	if !b.Cgo {
		return ""
	}
	if b.GOOS != runtime.GOOS || b.GOARCH != runtime.GOARCH {
		return fmt.Sprintf("the Dockerfile builds with cgo (CGO_ENABLED=1, or unset in a native build), which needs a C cross-compiler for %s/%s: only the %s/%s build is checked here", b.GOOS, b.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	cc, err := exec.Command("go", "env", "CC").Output()
	if _, lookErr := exec.LookPath(strings.TrimSpace(string(cc))); err != nil || lookErr != nil {
		return fmt.Sprintf("the Dockerfile builds with cgo, and this machine has no C compiler (go env CC: %q)", strings.TrimSpace(string(cc)))
	}
	return ""
}

// stageImage synthesizes, with asset staging on, an app whose one task runs
// ServiceImage(dir, cpuArchitecture), as main.go does, with arch as the
// cpuArchitecture override (none if empty), and returns the image asset's
// source from the cloud assembly's asset manifest, its directory the
// staged build context.
func stageImage(t *testing.T, dir string, arch Architecture) imageSource {
	t.Helper()
	outdir := t.TempDir()
	ctx := cdkContext(t)
	delete(ctx, "aws:cdk:disable-asset-staging")
	if arch != "" {
		ctx["cpuArchitecture"] = string(arch)
	}
	mustNotPanic(t, func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
		cfg, err := LoadConfig(app, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		stack := awscdk.NewStack(app, jsii.String("Service"), nil)
		taskDef := awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDefinition"), nil)
		taskDef.AddContainer(jsii.String("Web"), &awsecs.ContainerDefinitionOptions{Image: ServiceImage(dir, cfg.CpuArchitecture)})
		app.Synth(nil)
	})
	images := imageAssets(t, outdir)
	if len(images) != 1 {
		t.Fatalf("Service.assets.json has %d image assets, want 1", len(images))
	}
	for _, image := range images {
		staged := filepath.Join(outdir, image.Directory)
		if image.Directory == "" || staged == dir {
			t.Fatalf("image source directory %q: want a staged copy in the cloud assembly", image.Directory)
		}
		image.Directory = staged
		return image
	}
	return imageSource{}
}

// buildCommand is a derived go build and the directory it runs in.
type buildCommand struct {
	dir   string
	build *dockerfile.GoBuild
}

// env is the build's environment offline: the Dockerfile's variables,
// cgo as the Dockerfile has it, the module cache modcache and no network
// unless proxy is given. -modcacherw leaves the cache removable by
// t.TempDir's cleanup.
func (c buildCommand) env(modcache, proxy string) []string {
	env := append(os.Environ(), c.build.Env...)
	goflags, _ := os.LookupEnv("GOFLAGS")
	for _, kv := range c.build.Env {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			goflags = v
		}
	}
	cgo := "0"
	if c.build.Cgo {
		cgo = "1"
	}
	return append(env, "CGO_ENABLED="+cgo, "GOMODCACHE="+modcache, "GOFLAGS="+strings.TrimSpace(goflags+" -mod=readonly -modcacherw"),
		"GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY="+proxy)
}

// provisionModules returns a new module cache holding what the offline
// builds need, and nothing more: the go.mod file of every module in the
// graph (a build that misses a package looks for a module providing it
// in the whole graph) and the source of the modules each build's package
// comes from, for its platform and tags. It reads them with the user's
// module proxy, behind the module cache's own download directory, so a
// warm machine copies them and a fresh one downloads them (through the
// proxy only: make test may use it).
func provisionModules(t *testing.T, builds []buildCommand) string {
	t.Helper()
	goEnv := func(key string) string {
		out, err := exec.Command("go", "env", key).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", key, err)
		}
		return strings.TrimSpace(string(out))
	}
	proxy := "file://" + filepath.ToSlash(filepath.Join(goEnv("GOMODCACHE"), "cache", "download")) + "," + goEnv("GOPROXY")
	modcache := t.TempDir()
	for i, b := range builds {
		// -e: a package the build cannot find fails the build itself,
		// which says so. The build tags choose files, and so imports.
		deps := []string{"list", "-e", "-deps"}
		cmdArgs := b.build.Command("x")
		for j, a := range cmdArgs {
			if a == "-tags" && j+1 < len(cmdArgs) {
				deps = append(deps, a, cmdArgs[j+1])
			} else if strings.HasPrefix(a, "-tags=") {
				deps = append(deps, a)
			}
		}
		lists := [][]string{append(deps, b.build.Package)}
		if i == 0 {
			lists = append(lists, []string{"list", "-m", "all"})
		}
		for _, args := range lists {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = b.dir
			cmd.Env = b.env(modcache, proxy)
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("go %s with GOPROXY=%s: %v\n%s", strings.Join(args, " "), proxy, err, out)
			}
		}
	}
	return modcache
}

// goBuild runs the derived build, writing the binary to out, offline:
// only the module cache modcache, and go.mod and go.sum as they are.
func goBuild(c buildCommand, out, modcache string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", c.build.Command(out)...)
	cmd.Dir = c.dir
	cmd.Env = c.env(modcache, "off")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// checkMachine checks that bin is a Linux ELF executable for machine and,
// if static, asks for no dynamic loader (scratch has none).
func checkMachine(t *testing.T, bin string, machine elf.Machine, static bool) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the binary: %v", err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("the binary is %v %v, want %v %v", f.Type, f.Machine, elf.ET_EXEC, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP && static {
			t.Errorf("the binary is dynamically linked, and the runtime stage, scratch, has no loader or libc")
		}
	}
}

func walkFiles(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		got = append(got, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// fargoTooling are the directories under internal/ that hold fargo's own
// tooling, not the service's code: the tests' helpers, the change plan
// and the Dockerfile checks.
var fargoTooling = []string{"internal/testhelp/", "internal/plan/", "internal/dockerfile/"}

// checkStaged compares the staged build context with the intent that
// .dockerignore implements: go.mod, go.sum and every package directory's
// files, but no other file at the root (the CDK app, settings, docs), no
// tooling under hidden directories, nothing from the stacks, the tooling's
// commands and scripts, bench, e2e or integ, and no tests, test helpers,
// test data or docs anywhere. CDK adds the Dockerfile and .dockerignore.
// A file at the root that a "!" line of .dockerignore keeps is the user's
// choice (a settings file the Dockerfile copies, as in the walkthrough).
func checkStaged(t *testing.T, staged string, repo []string) {
	t.Helper()
	kept := keptByException(t, filepath.Join(staged, ".dockerignore"))
	want := []string{"Dockerfile", ".dockerignore"}
	for _, f := range repo {
		parts := strings.Split(f, "/")
		switch {
		case f == "go.mod" || f == "go.sum":
		case len(parts) == 1 && kept(f):
		case len(parts) == 1 || strings.HasPrefix(parts[0], "."):
			continue
		case slices.Contains([]string{"bin", "cdk.out", "docs", "stacks", "cmd", "fallback", "scripts", "bench", "e2e", "integ"}, parts[0]):
			continue
		case strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".md") || slices.Contains(parts, "testdata"):
			continue
		case slices.ContainsFunc(fargoTooling, func(dir string) bool { return strings.HasPrefix(f, dir) }):
			continue
		}
		if !slices.Contains(want, f) {
			want = append(want, f)
		}
	}
	got := walkFiles(t, staged)
	slices.Sort(want)
	for _, f := range got {
		if !slices.Contains(want, f) {
			t.Errorf("staged context holds %s, which cannot affect the image", f)
		}
	}
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("staged context misses %s", f)
		}
	}
	for _, f := range []string{"go.mod", "service/main.go", "serve/serve.go", "origin/origin.go", "internal/greet/greet.go"} {
		if !slices.Contains(got, f) {
			t.Errorf("staged context misses %s, which the service is built from", f)
		}
	}
}

// keptByException reports whether one of the "!" lines of the
// .dockerignore at path matches a file, as moby's pattern matcher does.
func keptByException(t *testing.T, path string) func(file string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	var exceptions []string
	for _, p := range patterns {
		if e, ok := strings.CutPrefix(p, "!"); ok {
			exceptions = append(exceptions, e)
		}
	}
	pm, err := patternmatcher.New(exceptions)
	if err != nil {
		t.Fatal(err)
	}
	return func(file string) bool {
		ok, err := pm.MatchesOrParentMatches(file)
		return err == nil && ok
	}
}

// TestDockerfile checks the Dockerfile of every image asset of the app
// against the build context that `cdk deploy` sends, with the asset's
// build arguments, for each cpuArchitecture's platform (TestCpuArchitecture
// proves the asset's platform follows it), with internal/dockerfile
// (BuildKit's parser, moby's pattern matcher): the command in exec form,
// the platform, every file taken from the context present in it, and a go
// build whose output the command runs, which TestImageAssetBuilds then
// runs offline. The non-root user is the task definition's (serviceUser,
// pinned in TestServiceStack), not the image's. A base image other than
// scratch cannot be pulled here: the test logs what it did not check.
func TestDockerfile(t *testing.T) {
	images := imageAssets(t, defaults(t).outdir)
	if len(images) == 0 {
		t.Fatal("the app has no image asset")
	}
	for _, image := range images {
		ctx, err := dockerfile.ReadContext(image.Directory, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, platform := range []string{*X86_64.ImagePlatform().Platform(), *ARM64.ImagePlatform().Platform()} {
			img, err := dockerfile.Check(ctx, image.dockerFile(), platform, image.BuildArgs)
			if err != nil {
				t.Errorf("%s for %s:\n%v", filepath.Join(image.Directory, image.dockerFile()), platform, err)
				continue
			}
			for _, note := range img.Notes {
				t.Logf("%s: %s", platform, note)
			}
		}
	}
}

// TestCheckImage checks what main.go runs before synthesizing: the
// repository's Dockerfile passes for either architecture, and the
// Dockerfile of an app that COPYs a file .dockerignore leaves out
// stops synth with a line naming the file and the .dockerignore line.
func TestCheckImage(t *testing.T) {
	for _, arch := range []Architecture{ARM64, X86_64} {
		if err := CheckImage(repoRoot, arch, nil, nil); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
	}
	// The line that drops the file is the test's own: the user's
	// .dockerignore may keep any file (the walkthrough's keeps notes.yaml).
	dir := copyRepo(t, repoFiles(t))
	writeFile(t, filepath.Join(dir, "dropped.yaml"), "notes: []\n")
	appendFile(t, filepath.Join(dir, ".dockerignore"), "\ndropped.yaml\n")
	appendFile(t, filepath.Join(dir, "Dockerfile"), "\nCOPY dropped.yaml /etc/dropped.yaml\n")
	err := CheckImage(dir, ARM64, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `COPY dropped.yaml: dropped.yaml is not in the build context`) || !strings.Contains(err.Error(), `"dropped.yaml" leaves dropped.yaml out`) {
		t.Errorf("a COPY of a file .dockerignore drops: %v, want an error naming dropped.yaml and the .dockerignore line", err)
	}
}
