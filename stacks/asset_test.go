package stacks

import (
	"context"
	"encoding/json"
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
	// checkout: build output, and tooling whose npm packages ship Go files.
	t.Run("untracked build output and tooling", func(t *testing.T) {
		dir := copyRepo(t, files)
		writeFile(t, filepath.Join(dir, "cdk.out", "asset.x", "service", "main.go"), "package main\n")
		writeFile(t, filepath.Join(dir, "bin", "service"), "binary")
		writeFile(t, filepath.Join(dir, ".cdk-cli", "node_modules", "aws-cdk", "x.template.go"), "package x\n")
		writeFile(t, filepath.Join(dir, ".node", "node_modules", "x", "x.go"), "package x\n")
		if hash(t, dir) != base {
			t.Error("cdk.out/, bin/, .cdk-cli/ or .node/ changed the image hash")
		}
	})
}

// dockerBuild is the Dockerfile's build command; TestDockerfile checks that
// the Dockerfile still runs exactly this, with CGO_ENABLED=0.
var dockerBuild = []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/service", "./service"}

const dockerBuildLine = `go build -trimpath -ldflags="-s -w" -o /out/service ./service`

// TestImageAssetBuilds builds what `cdk deploy` builds: it synthesizes the
// service image asset with staging on, as the CLI does, takes the staged
// build context from the cloud assembly and runs the Dockerfile's go build
// in it, offline from the module cache. The repository gets a helper
// package under internal/ that the service imports, as a user's app would
// have; a package the context missed would fail here, not at deploy. The
// control proves the test can fail: the same app whose context leaves out
// its helper package must not build.
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
		name  string
		edit  func(t *testing.T, dir string)
		fails string // a word of the build error, or "" if it must build
	}{
		{"the repository with a helper package", addHelper, ""},
		{"control: a context without the helper package", func(t *testing.T, dir string) {
			addHelper(t, dir)
			appendFile(t, filepath.Join(dir, ".dockerignore"), "\ninternal/\n")
		}, "internal/greet"},
	}

	// Synthesize one at a time (jsii), then build all at once.
	staged := make([]string, len(tests))
	for i, tt := range tests {
		dir := copyRepo(t, files)
		tt.edit(t, dir)
		staged[i] = stageImage(t, dir)
	}
	outputs := make([]string, len(tests))
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i := range tests {
		wg.Go(func() { outputs[i], errs[i] = goBuild(staged[i], t.TempDir()) })
	}
	wg.Wait()

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
// ServiceImage(dir), as main.go does, and returns the staged build context
// that the cloud assembly's asset manifest names.
func stageImage(t *testing.T, dir string) string {
	t.Helper()
	outdir := t.TempDir()
	ctx := cdkContext(t)
	delete(ctx, "aws:cdk:disable-asset-staging")
	mustNotPanic(t, func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
		stack := awscdk.NewStack(app, jsii.String("Service"), nil)
		taskDef := awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDefinition"), nil)
		taskDef.AddContainer(jsii.String("Web"), &awsecs.ContainerDefinitionOptions{Image: ServiceImage(dir)})
		app.Synth(nil)
	})
	data, err := os.ReadFile(filepath.Join(outdir, "Service.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory string `json:"directory"`
				Platform  string `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatalf("Service.assets.json: %v", err)
	}
	if len(manifest.DockerImages) != 1 {
		t.Fatalf("Service.assets.json has %d image assets, want 1", len(manifest.DockerImages))
	}
	for _, image := range manifest.DockerImages {
		if image.Source.Platform != "linux/amd64" {
			t.Errorf("image platform %q, want linux/amd64", image.Source.Platform)
		}
		staged := filepath.Join(outdir, image.Source.Directory)
		if image.Source.Directory == "" || staged == dir {
			t.Fatalf("image source directory %q: want a staged copy in the cloud assembly", image.Source.Directory)
		}
		return staged
	}
	return ""
}

// goBuild runs the Dockerfile's build in dir for linux/amd64, offline: only
// the module cache, and go.mod and go.sum as they are.
func goBuild(dir, out string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := slices.Clone(dockerBuild)
	args[slices.Index(args, "/out/service")] = filepath.Join(out, "service")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64",
		"GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local")
	b, err := cmd.CombinedOutput()
	return string(b), err
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
// the go build that TestImageAssetBuilds runs, static; the runtime stage
// ships the CA bundle and zoneinfo where Go looks for them, a /tmp for the
// task's volume, and runs as UID 65532.
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
	has(build, "the static build TestImageAssetBuilds runs", "RUN ", "CGO_ENABLED=0", dockerBuildLine)
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
