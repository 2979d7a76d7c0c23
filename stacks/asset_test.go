package stacks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/jsii-runtime-go"
)

// TestImageAssetHash proves what the image depends on. CDK hashes the
// build context as .dockerignore leaves it, and `cdk deploy` builds and
// pushes a new image, and replaces the tasks, only when that hash changes.
func TestImageAssetHash(t *testing.T) {
	files, err := exec.Command("git", "-C", repoRoot, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("needs a git checkout: %v", err)
	}
	// A copy of the working tree without ignored files, edited once per case.
	tracked := strings.Fields(string(files))
	copyRepo := func(t *testing.T) string {
		dir := t.TempDir()
		for _, f := range tracked {
			data, err := os.ReadFile(filepath.Join(repoRoot, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
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
	base := hash(t, copyRepo(t))

	tests := []struct {
		file    string
		changes bool
	}{
		{"README.md", false},
		{"stacks/service.go", false},
		{"stacks/stacks_test.go", false},
		{"service/server_test.go", false},
		{"cdk.json", false},
		{"Makefile", false},
		{"service/server.go", true},
		{"go.mod", true},
		{"go.sum", true},
		{"Dockerfile", true},
		{".dockerignore", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := copyRepo(t)
			f, err := os.OpenFile(filepath.Join(dir, tt.file), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("\n")
			f.Close()
			if changed := hash(t, dir) != base; changed != tt.changes {
				t.Errorf("editing %s changed the image hash: %v, want %v", tt.file, changed, tt.changes)
			}
		})
	}
	t.Run("untracked build output", func(t *testing.T) {
		dir := copyRepo(t)
		os.MkdirAll(filepath.Join(dir, "cdk.out"), 0o755)
		os.WriteFile(filepath.Join(dir, "cdk.out", "x.json"), []byte("{}"), 0o644)
		if hash(t, dir) != base {
			t.Error("a cdk.out/ directory changed the image hash")
		}
	})
}
