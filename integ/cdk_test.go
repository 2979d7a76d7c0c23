package integ

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCdk is a stand-in for the CDK CLI: it records its directory and
// arguments, writes cdk.context.json as the real one does after a lookup,
// writes an outputs file when asked, and, with FAKE_CDK_HANG, starts a child
// and waits, as the CLI waits for CloudFormation. It writes the child's pid
// to FAKE_CDK_HANG through a temporary file renamed into place, so that the
// file never exists half written; FAKE_CDK_PID_DELAY seconds pass between
// creating the temporary file and writing the pid, to show that a reader
// cannot see it early.
const fakeCdk = `#!/bin/sh
{ pwd; for a in "$@"; do echo "$a"; done; } > "$FAKE_CDK_LOG"
echo '{"looked up": true}' > cdk.context.json
while [ $# -gt 0 ]; do
	if [ "$1" = --outputs-file ]; then echo '{}' > "$2"; fi
	shift
done
if [ -n "$FAKE_CDK_HANG" ]; then
	sleep 60 &
	{ sleep "${FAKE_CDK_PID_DELAY:-0}"; echo $!; } > "$FAKE_CDK_HANG.tmp"
	mv "$FAKE_CDK_HANG.tmp" "$FAKE_CDK_HANG"
	wait
fi
exit "${FAKE_CDK_EXIT:-0}"
`

// newFakeCLI returns a CLI that runs fakeCdk in a fake repository root.
func newFakeCLI(t *testing.T) (*CLI, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "repo")
	bin := filepath.Join(dir, "cdk")
	log := filepath.Join(dir, "log")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte(fakeCdk), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_CDK_LOG", log)
	return &CLI{Root: root, Bin: bin, OutDir: filepath.Join(dir, "out"), StopGrace: time.Second}, log
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestCLIDeployAndDestroy(t *testing.T) {
	cli, log := newFakeCLI(t)
	context := filepath.Join(cli.Root, "cdk.context.json")
	if err := os.WriteFile(context, []byte(`{"committed": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	overrides := " -c appName=" + testApp + " -c account= -c region= -c domainName= -c hostedZoneId= -c hostedZoneName= -c certificateArn= -c alarmEmail="

	outputs, err := cli.Deploy(t.Context(), testApp)
	if err != nil {
		t.Fatal(err)
	}
	got := readLog(t, log)
	want := "deploy --all --require-approval never --outputs-file " + filepath.Join(cli.OutDir, "cdk-outputs.json") +
		" --output " + filepath.Join(cli.OutDir, "cdk.out") + overrides
	if got[0] != cli.Root || strings.Join(got[1:], " ") != want {
		t.Errorf("deploy ran in %s as\n%s\nwant in %s\n%s", got[0], strings.Join(got[1:], " "), cli.Root, want)
	}
	if outputs != filepath.Join(cli.OutDir, "cdk-outputs.json") {
		t.Errorf("outputs file %s", outputs)
	}
	if _, err := os.Stat(outputs); err != nil {
		t.Errorf("no outputs file: %v", err)
	}
	if data, _ := os.ReadFile(context); string(data) != `{"committed": true}` {
		t.Errorf("cdk.context.json = %s, want it as it was", data)
	}

	if err := cli.Destroy(t.Context(), testApp); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(readLog(t, log)[1:], " "), "destroy --all --force --output "+filepath.Join(cli.OutDir, "cdk.out")+overrides; got != want {
		t.Errorf("destroy ran as\n%s\nwant\n%s", got, want)
	}
}

func TestCLIRemovesTheContextFileItCreated(t *testing.T) {
	cli, _ := newFakeCLI(t)
	if err := cli.Destroy(t.Context(), testApp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cli.Root, "cdk.context.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cdk.context.json left behind: %v", err)
	}
}

func TestCLIFailure(t *testing.T) {
	cli, _ := newFakeCLI(t)
	t.Setenv("FAKE_CDK_EXIT", "1")
	if _, err := cli.Deploy(t.Context(), testApp); err == nil || !strings.Contains(err.Error(), "cdk deploy for "+testApp+": exit status 1") {
		t.Errorf("Deploy = %v, want the CLI's exit status", err)
	}
}

func TestCLIRefusesOtherApps(t *testing.T) {
	cli, log := newFakeCLI(t)
	if err := cli.Destroy(t.Context(), "fargo"); err == nil {
		t.Error("Destroy(fargo) ran")
	}
	if _, err := os.Stat(log); !errors.Is(err, os.ErrNotExist) {
		t.Error("the CLI ran for fargo")
	}
}
