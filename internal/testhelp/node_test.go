package testhelp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPickNode(t *testing.T) {
	// A repository with go.mod, and the test running in a package below it.
	fakeNode := func(t *testing.T, version string) {
		bin := t.TempDir()
		script := "#!/bin/sh\necho " + version + "\n"
		if err := os.WriteFile(filepath.Join(bin, "node"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin)
	}
	repo := func(t *testing.T, withLocal bool) string {
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/x\n"), 0o644)
		os.MkdirAll(filepath.Join(root, "stacks"), 0o755)
		if withLocal {
			local := filepath.Join(root, LocalNode)
			os.MkdirAll(filepath.Dir(local), 0o755)
			os.WriteFile(local, []byte("#!/bin/sh\n"), 0o755)
		}
		t.Chdir(filepath.Join(root, "stacks"))
		return root
	}
	tests := []struct {
		name      string
		pathNode  string // the version the node on PATH prints
		local     bool
		jsiiNode  string // JSII_NODE as the user set it
		wantLocal bool
		wantNote  string
	}{
		{"old node, local node installed", "20.20.2", true, "", true, ""},
		{"old node, no local node", "20.20.2", false, "", false, "node on PATH is 20.20.2, older than jsii supports (22): run make node"},
		{"new node", "24.1.0", true, "", false, ""},
		{"JSII_NODE already chosen", "20.20.2", true, "/opt/node", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeNode(t, tt.pathNode)
			root := repo(t, tt.local)
			t.Setenv("JSII_NODE", tt.jsiiNode)
			local, note := pickNode()
			if tt.wantNote == "" && note != "" || !strings.HasPrefix(note, tt.wantNote) {
				t.Errorf("note %q, want %q", note, tt.wantNote)
			}
			want := ""
			if tt.wantLocal {
				want = filepath.Join(root, LocalNode)
			}
			if local != want {
				t.Errorf("local node %q, want %q", local, want)
			}
		})
	}
}
