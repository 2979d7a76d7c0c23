package dockerfile

import (
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// context writes a small service's build context with the Dockerfile
// testdata/name and .dockerignore lines, and reads it.
func context(t *testing.T, name string, ignore ...string) *Context {
	t.Helper()
	dir := t.TempDir()
	df, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Dockerfile":      string(df),
		".dockerignore":   strings.Join(append([]string{"# tooling", "*.md", "docs/"}, ignore...), "\n") + "\n",
		"go.mod":          "module example.com/notes\n\ngo 1.26\n",
		"service/main.go": "package main\n\nimport \"fmt\"\n\nvar version = \"none\"\n\nfunc main() { fmt.Println(version) }\n",
		"notes.yaml":      "notes: []\n",
		"README.md":       "# notes\n",
		"docs/x.go":       "package docs\n",
	}
	for f, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, err := ReadContext(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func TestCheck(t *testing.T) {
	tests := []struct {
		dockerfile string
		ignore     []string
		platform   string
		buildArgs  map[string]string
		// errs are substrings of the error, one per problem; none if it
		// must pass.
		errs []string
		// args and env are the derived build's go arguments (with the
		// binary written to "bin") and some of its environment.
		args []string
		env  []string
		cgo  bool
		dir  string // the build's directory in the build stage, if not /src
		note string // a substring of a note
	}{
		{dockerfile: "good.Dockerfile", platform: "linux/arm64",
			args: []string{"build", "-o", "bin", "-trimpath", "-ldflags=-s -w", "./service"},
			env:  []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "PACKAGE=./service"},
			note: "base image golang:1.26.8-bookworm cannot be pulled here"},
		{dockerfile: "good.Dockerfile", platform: "linux/amd64", buildArgs: map[string]string{"PACKAGE": "./service/"},
			args: []string{"build", "-o", "bin", "-trimpath", "-ldflags=-s -w", "./service/"},
			env:  []string{"GOOS=linux", "GOARCH=amd64", "PACKAGE=./service/"}},
		{dockerfile: "good.Dockerfile", platform: "linux/arm64", buildArgs: map[string]string{"PACKAGE": "./docs"},
			errs: []string{`Dockerfile:8: go build ./docs: no Go file of the build context reaches /src/docs in the build stage: .dockerignore:3 "docs/" leaves docs out`}},
		{dockerfile: "shell-form.Dockerfile", platform: "linux/arm64",
			errs: []string{"Dockerfile:10: ENTRYPOINT in shell form runs /bin/sh -c as PID 1"}},
		{dockerfile: "sh-c.Dockerfile", platform: "linux/amd64",
			errs: []string{"Dockerfile:8: sh -c makes the shell PID 1"}},
		{dockerfile: "cmd-only.Dockerfile", platform: "linux/arm64",
			args: []string{"build", "-o", "bin", "./service"}, env: []string{"GOOS=linux", "GOARCH=arm64"}},
		{dockerfile: "distroless.Dockerfile", platform: "linux/arm64",
			args: []string{"build", "-o", "bin", "./service"},
			note: "base image distroless/static-debian12:nonroot cannot be pulled here: its files, environment, user, entrypoint and platforms are not checked"},
		{dockerfile: "scratch-runtime.Dockerfile", platform: "linux/arm64",
			args: []string{"build", "-o", "bin", "./service"}},
		{dockerfile: "scratch-runtime.Dockerfile", platform: "linux/arm64", ignore: []string{"*.yaml"},
			errs: []string{`Dockerfile:9: COPY notes.yaml: notes.yaml is not in the build context that cdk deploy sends, and docker build fails with "not found": .dockerignore:4 "*.yaml" leaves notes.yaml out`}},
		{dockerfile: "cgo.Dockerfile", platform: "linux/arm64", cgo: true,
			env: []string{"CGO_ENABLED=1", "GOARCH=arm64"}},
		{dockerfile: "cgo-cross.Dockerfile", platform: "linux/arm64",
			errs: []string{"Dockerfile:6: go build uses cgo for linux/arm64 in a stage that runs on the build machine's platform: on any other machine gcc cannot build for it"}},
		{dockerfile: "cgo-scratch.Dockerfile", platform: "linux/amd64",
			errs: []string{"Dockerfile:6: go build links cgo against libc dynamically, and the final stage, scratch, has none"}},
		{dockerfile: "wildcard-none.Dockerfile", platform: "linux/arm64", errs: []string{
			`Dockerfile:8: COPY config/*.json: config is not in the build context that cdk deploy sends, and docker build fails with "no such file or directory" (no config in `,
			"Dockerfile:9: COPY service/*.json matches no file of the build context, so BuildKit copies nothing and the build goes on (no service/*.json in "}},
		{dockerfile: "wildcard-none.Dockerfile", platform: "linux/arm64", ignore: []string{"config/*.json"}, errs: []string{
			`Dockerfile:8: COPY config/*.json matches no file of the build context, so BuildKit copies nothing and the build goes on: .dockerignore:4 "config/*.json" leaves config/a.json out`,
			"Dockerfile:9: COPY service/*.json matches no file"}},
		{dockerfile: "wildcard-none.Dockerfile", platform: "linux/arm64", ignore: []string{"config/"}, errs: []string{
			`Dockerfile:8: COPY config/*.json: config is not in the build context that cdk deploy sends, and docker build fails with "no such file or directory": .dockerignore:4 "config/" leaves config out`,
			"Dockerfile:9: COPY service/*.json matches no file"}},
		{dockerfile: "bind-mount.Dockerfile", platform: "linux/arm64",
			errs: []string{"Dockerfile:5: RUN --mount=type=bind,source=vendor: vendor is not in the build context"}},
		{dockerfile: "args.Dockerfile", platform: "linux/amd64", buildArgs: map[string]string{"VERSION": "1.2.3"}, dir: "/work",
			args: []string{"build", "-o", "bin", "-tags", "netgo osusergo", "-ldflags", "-X main.version=1.2.3", "./svc"},
			env:  []string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOOS=linux", "GOARCH=amd64", "VERSION=1.2.3", "TAGS=netgo osusergo"}},
		{dockerfile: "args.Dockerfile", platform: "linux/amd64", buildArgs: map[string]string{"PACKAGE": "./service"},
			errs: []string{`Dockerfile:12: go build ./service: no COPY or bind mount of the build context puts anything at /work/service in the build stage`}},
		{dockerfile: "heredoc.Dockerfile", platform: "linux/arm64", dir: "/src/service",
			args: []string{"build", "-o", "bin", "."}, env: []string{"CGO_ENABLED=0", "GOARCH=arm64"}},
		{dockerfile: "pinned-platform.Dockerfile", platform: "linux/arm64", errs: []string{
			"Dockerfile:4: go build builds for linux/amd64, but the image is for linux/arm64",
			"Dockerfile:6: the final stage runs on linux/amd64, but the image is for linux/arm64 (the cpuArchitecture context key): drop its --platform"}},
		{dockerfile: "not-built.Dockerfile", platform: "linux/arm64",
			errs: []string{"Dockerfile:9: ENTRYPOINT runs /service, which no go build's output is copied to (go build writes /out/server (line 5))"}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.dockerfile, ".Dockerfile")+"/"+tt.platform+strings.Join(tt.ignore, ","), func(t *testing.T) {
			ctx := context(t, tt.dockerfile, tt.ignore...)
			if strings.Contains(strings.Join(tt.ignore, ""), "config") {
				// config/a.json exists but is left out.
				if err := os.MkdirAll(filepath.Join(ctx.Dir, "config"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(ctx.Dir, "config", "a.json"), []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
				var err error
				if ctx, err = ReadContext(ctx.Dir, nil); err != nil {
					t.Fatal(err)
				}
			}
			img, err := Check(ctx, "Dockerfile", tt.platform, tt.buildArgs)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if len(got) != len(tt.errs) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tt.errs), err)
			}
			for i, want := range tt.errs {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d:\n%s\nwant it to contain\n%s", i, got[i], want)
				}
			}
			if tt.note != "" && !slices.ContainsFunc(img.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("notes %q, want one with %q", img.Notes, tt.note)
			}
			if len(tt.errs) > 0 {
				return
			}
			if img.Build == nil {
				t.Fatal("no go build derived")
			}
			if tt.args != nil && !slices.Equal(img.Build.Command("bin"), tt.args) {
				t.Errorf("derived go %q, want %q", img.Build.Command("bin"), tt.args)
			}
			for _, kv := range tt.env {
				if !slices.Contains(img.Build.Env, kv) {
					t.Errorf("derived environment %q lacks %s", img.Build.Env, kv)
				}
			}
			if dir := cmp.Or(tt.dir, "/src"); img.Build.Dir != dir {
				t.Errorf("derived build runs in %s, want %s", img.Build.Dir, dir)
			}
			if img.Build.Cgo != tt.cgo {
				t.Errorf("cgo %v, want %v", img.Build.Cgo, tt.cgo)
			}
		})
	}
}

// TestDerivedBuildRuns runs the build derived from a Dockerfile with build
// arguments, ARG defaults, ENV and a renamed copy of the package, in the
// tree Stage writes, for this machine's platform, and runs the binary:
// the -ldflags the Dockerfile passes reach it.
func TestDerivedBuildRuns(t *testing.T) {
	ctx := context(t, "args.Dockerfile")
	img, err := Check(ctx, "Dockerfile", "linux/"+runtime.GOARCH, map[string]string{"VERSION": "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := img.Build.Stage(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command("go", img.Build.Command(bin)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), img.Build.Env...), "GOTOOLCHAIN=local", "GOWORK=off", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(cmd.Args[1:], " "), dir, err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "1.2.3" {
		t.Errorf("the binary prints %q, want 1.2.3 (the VERSION build argument through -ldflags -X)", got)
	}
}

// TestContext checks the context against .dockerignore as Docker reads it:
// the last matching line decides, "!" keeps, a directory pattern drops
// what is below it, and the asset's excludes come last.
func TestContext(t *testing.T) {
	ctx := context(t, "good.Dockerfile", "*.yaml", "!keep.yaml", "service/*_test.go")
	for _, f := range []string{"keep.yaml", "service/main_test.go", "x.txt"} {
		if err := os.WriteFile(filepath.Join(ctx.Dir, filepath.FromSlash(f)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, err := ReadContext(ctx.Dir, []string{"x.txt"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".dockerignore", "Dockerfile", "go.mod", "keep.yaml", "service/main.go"}
	if !slices.Equal(ctx.Files, want) {
		t.Errorf("context %q, want %q", ctx.Files, want)
	}
	for f, by := range map[string]string{
		"notes.yaml":           `.dockerignore:4 "*.yaml"`,
		"docs/x.go":            `.dockerignore:3 "docs/"`,
		"service/main_test.go": `.dockerignore:6 "service/*_test.go"`,
		"x.txt":                `the asset's exclude "x.txt"`,
		"keep.yaml":            "",
	} {
		if got := ctx.droppedBy(f); got != by {
			t.Errorf("%s dropped by %q, want %q", f, got, by)
		}
	}
}
