package stacks

import (
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
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
		{"internal/testhelp/testhelp.go", false}, // the tests' own helpers
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

// dockerBuild is the Dockerfile's build command; TestDockerfile checks that
// the Dockerfile still runs exactly this, with CGO_ENABLED=0.
var dockerBuild = []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/service", "$PACKAGE"}

const dockerBuildLine = `go build -trimpath -ldflags="-s -w" -o /out/service $PACKAGE`

// TestImageAssetBuilds builds what `cdk deploy` builds: it synthesizes the
// service image asset with staging on, as the CLI does, takes the staged
// build context and platform from the cloud assembly and runs the
// Dockerfile's go build in it for that platform, for each cpuArchitecture,
// offline, from a module cache of its own that starts empty and holds only
// what the test provisions first (provisionModules): nothing that a module
// cache happens to hold can pass or fail it. The binary must be one that
// architecture runs. The repository gets a helper package under internal/
// that the service imports, as a user's app would have; a package the
// context missed would fail here, not at deploy. The control proves the
// test can fail: the same app whose context leaves out its helper package
// must not build.
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
			appendFile(t, filepath.Join(dir, ".dockerignore"), "\ninternal/\n")
		}, "linux/arm64", elf.EM_AARCH64, "internal/greet"},
	}

	// Synthesize one at a time (jsii), then build all at once.
	staged := make([]string, len(tests))
	platforms := make([]string, len(tests))
	for i, tt := range tests {
		dir := copyRepo(t, files)
		tt.edit(t, dir)
		staged[i], platforms[i] = stageImage(t, dir, tt.arch)
	}
	modcache := provisionModules(t)
	bins := make([]string, len(tests))
	outputs := make([]string, len(tests))
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i := range tests {
		bins[i] = filepath.Join(t.TempDir(), "service")
		wg.Go(func() { outputs[i], errs[i] = goBuild(staged[i], bins[i], platforms[i], modcache, "./service") })
	}
	wg.Wait()

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if platforms[i] != tt.platform {
				t.Errorf("image asset platform %q, want %s", platforms[i], tt.platform)
			}
			if tt.fails == "" && errs[i] == nil {
				checkMachine(t, bins[i], tt.machine)
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
		checkStaged(t, staged[0], files)
	})
}

// stageImage synthesizes, with asset staging on, an app whose one task runs
// ServiceImage(dir, cpuArchitecture), as main.go does, with arch as the
// cpuArchitecture override (none if empty), and returns the staged build
// context and the platform that the cloud assembly's asset manifest names.
func stageImage(t *testing.T, dir string, arch Architecture) (string, string) {
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
		return staged, image.Platform
	}
	return "", ""
}

// buildEnv is the environment of the Dockerfile's go build for goos/goarch
// with the module cache modcache. -modcacherw leaves the cache removable by
// t.TempDir's cleanup.
func buildEnv(modcache, goos, goarch string) []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch,
		"GOMODCACHE="+modcache, "GOFLAGS=-mod=readonly -modcacherw", "GOWORK=off", "GOTOOLCHAIN=local")
}

// provisionModules returns a new module cache holding what the offline
// build needs, and nothing more: the go.mod file of every module in the
// graph (a build that misses a package looks for a module providing it
// in the whole graph) and the source of the modules the service's packages
// come from. It reads them from the repository with the user's module
// proxy, behind the module cache's own download directory, so a warm
// machine copies them and a fresh one downloads them (through the proxy
// only: make test may use it).
func provisionModules(t *testing.T) string {
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
	for _, args := range [][]string{{"list", "-m", "all"}, {"list", "-deps", "./service"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(buildEnv(modcache, "linux", "amd64"), "GOPROXY="+proxy)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("go %s with GOPROXY=%s: %v\n%s", strings.Join(args, " "), proxy, err, out)
		}
	}
	return modcache
}

// goBuild runs the Dockerfile's build of pkg (its PACKAGE) in dir, writing the binary to out,
// offline: only the module cache modcache, and go.mod and go.sum as they
// are. It builds for platform as BuildKit does for docker build --platform,
// whose os/arch become the Dockerfile's TARGETOS and TARGETARCH.
func goBuild(dir, out, platform, modcache, pkg string) (string, error) {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok {
		return "", fmt.Errorf("image platform %q, want os/arch", platform)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := slices.Clone(dockerBuild)
	args[slices.Index(args, "/out/service")] = out
	args[slices.Index(args, "$PACKAGE")] = pkg
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(buildEnv(modcache, goos, goarch), "GOPROXY=off")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// checkMachine checks that bin is a Linux ELF executable for machine.
func checkMachine(t *testing.T, bin string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the binary: %v", err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("the binary is %v %v, want %v %v", f.Type, f.Machine, elf.ET_EXEC, machine)
	}
}

// checkStaged compares the staged build context with the intent that
// .dockerignore implements: go.mod, go.sum and every package directory's
// files, but no other file at the root (the CDK app, settings, docs), no
// tooling under hidden directories, nothing from the stacks, the tooling's
// commands and scripts, bench, e2e or integ, and no tests, test helpers,
// test data or docs anywhere. CDK adds the Dockerfile and .dockerignore.
func checkStaged(t *testing.T, staged string, repo []string) {
	t.Helper()
	want := []string{"Dockerfile", ".dockerignore"}
	for _, f := range repo {
		parts := strings.Split(f, "/")
		switch {
		case f == "go.mod" || f == "go.sum":
		case len(parts) == 1 || strings.HasPrefix(parts[0], "."):
			continue
		case slices.Contains([]string{"bin", "cdk.out", "docs", "stacks", "cmd", "fallback", "scripts", "bench", "e2e", "integ"}, parts[0]):
			continue
		case strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".md") || slices.Contains(parts, "testdata") || strings.HasPrefix(f, "internal/testhelp/"):
			continue
		}
		if !slices.Contains(want, f) {
			want = append(want, f)
		}
	}
	var got []string
	err := filepath.WalkDir(staged, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(staged, path)
		got = append(got, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
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

// TestDockerfile checks the Dockerfile's promises that no build here can
// run (no registry is reachable for the golang image): the build stage runs
// on the build machine's own platform and cross-compiles, with the go build
// that TestImageAssetBuilds runs, static, for the target platform (so no
// emulator is needed, and the binary is the one checked there); the
// runtime stage ships the CA bundle and zoneinfo where Go looks for them,
// a /tmp for the task's volume, and runs as UID 65532.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines and drop comments.
	var lines []string
	var cur strings.Builder
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(body)
			continue
		}
		cur.WriteString(line)
		if cur.Len() > 0 {
			lines = append(lines, cur.String())
		}
		cur.Reset()
	}
	// Split into stages.
	var stages [][]string
	for _, line := range lines {
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, runtime)", len(stages))
	}
	has := func(stage []string, what string, want ...string) {
		t.Helper()
		for _, line := range stage {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("Dockerfile: %s stage: no line with %q (%s)", strings.Fields(stage[0])[len(strings.Fields(stage[0]))-1], want, what)
	}
	build, runtime := stages[0], stages[1]
	if !strings.HasPrefix(build[0], "FROM --platform=$BUILDPLATFORM ") {
		t.Errorf("build stage %q, want FROM --platform=$BUILDPLATFORM: it must run natively and cross-compile", build[0])
	}
	has(build, "the target platform's os and arch", "ARG TARGETOS TARGETARCH")
	has(build, "the static build TestImageAssetBuilds runs, for the target platform", "RUN ", "CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", dockerBuildLine)
	has(build, "an empty /tmp, writable by anyone", "RUN ", "mkdir -m 1777 /out/root/tmp")
	if runtime[0] != "FROM scratch" {
		t.Errorf("runtime stage %q, want FROM scratch", runtime[0])
	}
	// crypto/x509 reads this file first on Linux; time.LoadLocation reads
	// /usr/share/zoneinfo.
	has(runtime, "the CA bundle", "COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt")
	has(runtime, "the time-zone database", "COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo")
	has(runtime, "the binary", "COPY --from=build /out/service /service")
	has(runtime, "/tmp with its mode", "COPY --from=build /out/root/ /")
	has(runtime, "/tmp as a volume, whose permissions Fargate gives the task volume", `VOLUME ["/tmp"]`)
	has(runtime, "the non-root user", "USER 65532:65532")
	has(runtime, "the binary as PID 1", `ENTRYPOINT ["/service"]`)
}
