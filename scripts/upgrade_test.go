package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// git runs git in dir, with an identity, and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// write writes files under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// make runs make in dir and returns its exit code and combined output.
func makeIn(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("make", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return cmd.ProcessState.ExitCode(), string(out)
	}
	return 0, string(out)
}

// TestUpgrade proves docs/upgrading.md on a synthetic fargo with three
// releases: a user clones release 1, renames the module, replaces the app
// and configures it, and takes releases 2 and 3 with make upgrade. Each
// release changes a file of fargo's that names the module and the
// hello-world app and snapshot the user replaced: the merges must need no
// hand, keep the user's files and module path, and bring fargo's change
// under the user's path. It builds its own repositories, so it needs no
// history of this one (CI's checkout is shallow).
func TestUpgrade(t *testing.T) {
	for _, tool := range []string{"git", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	tooling := map[string]string{}
	for _, f := range []string{"Makefile", "scripts/upgrade.sh", "cmd/rename/main.go"} {
		tooling[f] = read(t, filepath.Join("..", f))
	}
	const fargo, mine = "github.com/fargo-cdk/fargo", "example.com/me/notes"
	stacksGo := func(release string) string {
		return "package stacks\n\nimport \"" + fargo + "/serve\"\n\n// Release is fargo's release.\nconst Release = \"" + release + "\"\n\n// Fallback is built by its path.\nconst Fallback = \"" + fargo + "/serve\"\n\nvar _ = serve.Port\n"
	}
	upstream := t.TempDir()
	write(t, upstream, tooling)
	os.Chmod(filepath.Join(upstream, "scripts/upgrade.sh"), 0o755)
	write(t, upstream, map[string]string{
		"go.mod":           "module " + fargo + "\n\ngo 1.22\n",
		"serve/serve.go":   "package serve\n\n// Port is the default port.\nconst Port = 5000\n",
		"stacks/stacks.go": stacksGo("1"),
		"service/main.go":  "package main\n\nimport \"" + fargo + "/serve\"\n\nfunc main() { println(\"HELLO WORLD\", serve.Port) }\n",
		"cdk.json":         "{\n  \"app\": \"go run .\",\n  \"context\": {\n    \"appName\": \"fargo\",\n    \"@aws-cdk/core:flag1\": true\n  }\n}\n",
		"stacks/testdata/deployment/contract.json": "{\n  \"appName\": \"fargo\",\n  \"probeBody\": \"HELLO WORLD\"\n}\n",
	})
	write(t, upstream, map[string]string{"Dockerfile": "FROM golang:1.26-bookworm\n"})
	git(t, upstream, "init", "-q", "-b", "main")
	git(t, upstream, "add", "-A")
	git(t, upstream, "commit", "-qm", "release 1")
	git(t, upstream, "tag", "v1")

	// The user's copy: renamed, their app, their settings and snapshot.
	user := filepath.Join(t.TempDir(), "notes")
	git(t, ".", "clone", "-q", upstream, user)
	if code, out := makeIn(t, user, "rename", "MODULE="+mine); code != 0 {
		t.Fatalf("make rename: %s", out)
	}
	userApp := "package main\n\nimport \"" + mine + "/serve\"\n\nfunc main() { println(\"notes\", serve.Port) }\n"
	write(t, user, map[string]string{
		"service/main.go":                          userApp,
		"stacks/testdata/deployment/contract.json": "{\n  \"appName\": \"notes\",\n  \"probeBody\": \"[]\"\n}\n",
		"cdk.json": "{\n  \"app\": \"go run .\",\n  \"context\": {\n    \"appName\": \"notes\",\n    \"@aws-cdk/core:flag1\": true\n  }\n}\n",
	})
	git(t, user, "commit", "-qam", "my notes app")

	for _, release := range []string{"2", "3"} {
		// fargo's release: its own file, its hello world and snapshot, a
		// new feature flag in cdk.json.
		write(t, upstream, map[string]string{
			"stacks/stacks.go":                         stacksGo(release),
			"service/main.go":                          "package main\n\nimport \"" + fargo + "/serve\"\n\nfunc main() { println(\"HELLO WORLD " + release + "\", serve.Port) }\n",
			"stacks/testdata/deployment/contract.json": "{\n  \"appName\": \"fargo\",\n  \"probeBody\": \"HELLO WORLD " + release + "\"\n}\n",
		})
		git(t, upstream, "commit", "-qam", "release "+release)
		git(t, upstream, "tag", "v"+release)

		code, out := makeIn(t, user, "upgrade", "FARGO="+upstream+"@v"+release)
		if code != 0 {
			t.Fatalf("make upgrade to release %s: exit %d\n%s", release, code, out)
		}
		if got := read(t, filepath.Join(user, "stacks/stacks.go")); got != strings.ReplaceAll(stacksGo(release), fargo, mine) {
			t.Errorf("release %s: stacks/stacks.go is not fargo's, renamed:\n%s", release, got)
		}
		if got := read(t, filepath.Join(user, "service/main.go")); got != userApp {
			t.Errorf("release %s: your app changed:\n%s", release, got)
		}
		for file, want := range map[string]string{"go.mod": "module " + mine, "cdk.json": `"appName": "notes"`, "stacks/testdata/deployment/contract.json": `"probeBody": "[]"`} {
			if got := read(t, filepath.Join(user, file)); !strings.Contains(got, want) {
				t.Errorf("release %s: %s lost %s:\n%s", release, file, want, got)
			}
		}
		if status := git(t, user, "status", "--porcelain"); status != "" {
			t.Errorf("release %s: the work tree is not clean after make upgrade:\n%s", release, status)
		}
		cmd := exec.Command("go", "build", "./...")
		cmd.Dir = user
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("release %s: go build: %v\n%s", release, err, out)
		}
	}

	// A copy made without git clone holds no fargo commit: the first
	// upgrade asks, in one line, for the release it started from.
	copied := filepath.Join(t.TempDir(), "copied")
	git(t, ".", "clone", "-q", "--branch", "v1", upstream, copied)
	os.RemoveAll(filepath.Join(copied, ".git"))
	git(t, copied, "init", "-q")
	if code, out := makeIn(t, copied, "rename", "MODULE="+mine); code != 0 {
		t.Fatalf("make rename: %s", out)
	}
	git(t, copied, "add", "-A")
	git(t, copied, "commit", "-qm", "my copy")
	code, out := makeIn(t, copied, "upgrade", "FARGO="+upstream+"@v2")
	if code == 0 || !strings.Contains(out, "make upgrade: your history holds no fargo release: run once with FROM=") {
		t.Errorf("make upgrade without FROM in a copy without fargo's history: exit %d\n%s", code, out)
	}
	if code, out := makeIn(t, copied, "upgrade", "FARGO="+upstream+"@v2", "FROM="+upstream+"@v1"); code != 0 {
		t.Fatalf("make upgrade with FROM: exit %d\n%s", code, out)
	}
	if got := read(t, filepath.Join(copied, "stacks/stacks.go")); got != strings.ReplaceAll(stacksGo("2"), fargo, mine) {
		t.Errorf("with FROM: stacks/stacks.go is not release 2, renamed:\n%s", got)
	}
}
