package integ

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The guard is tested on the real thing: this test binary runs itself as a
// child that plays a test of each kind (TestGuardChild), and the parent
// checks, from the child's output and a file its teardown writes, that the
// teardown ran, and ran with a live context.

const childEnv = "INTEG_GUARD_CHILD"

// TestGuardChild is the child's side; it does nothing in a normal run.
func TestGuardChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("run by TestGuard as a child process")
	}
	marker := os.Getenv("INTEG_GUARD_MARKER")
	teardown := func(ctx context.Context) error {
		fmt.Println("teardown started")
		if mode == "interrupt" {
			time.Sleep(500 * time.Millisecond) // time for a second Ctrl-C
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := os.WriteFile(marker, []byte("torn down"), 0o644); err != nil {
			return err
		}
		if mode == "teardown fails" {
			return errors.New("the VPC is still in use")
		}
		return nil
	}
	ctx := Guard(t, testApp, teardown, time.Minute)
	switch mode {
	case "pass", "teardown fails":
	case "fatal":
		t.Fatal("a check failed")
	case "panic":
		panic("a check panicked")
	case "interrupt":
		fmt.Println("deploying")
		select {
		case <-ctx.Done():
			t.Fatal("interrupted:", context.Cause(ctx))
		case <-time.After(time.Minute):
			t.Fatal("no interrupt came")
		}
	}
}

func TestGuard(t *testing.T) {
	for _, mode := range []string{"pass", "fatal", "panic", "interrupt", "teardown fails"} {
		t.Run(mode, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "marker")
			cmd := exec.Command(os.Args[0], "-test.run=^TestGuardChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+mode, "INTEG_GUARD_MARKER="+marker)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			lines := bufio.NewScanner(stdout)
			for lines.Scan() {
				out.WriteString(lines.Text() + "\n")
				if mode != "interrupt" {
					continue
				}
				// Ctrl-C during the deploy, and again during the teardown.
				switch lines.Text() {
				case "deploying", "teardown started":
					if err := cmd.Process.Signal(os.Interrupt); err != nil {
						t.Fatal(err)
					}
				}
			}
			err = cmd.Wait()
			if mode == "pass" && err != nil || mode != "pass" && err == nil {
				t.Errorf("child exited with %v", err)
			}
			if data, _ := os.ReadFile(marker); string(data) != "torn down" {
				t.Errorf("the teardown did not finish:\n%s", out.String())
			}
			wants := map[string][]string{
				"pass":           {"teardown of " + testApp + ": done in"},
				"fatal":          {"a check failed", "teardown of " + testApp + ": done in"},
				"panic":          {"a check panicked", "teardown of " + testApp + ": done in"},
				"interrupt":      {"interrupt: stopping the checks and tearing down " + testApp, "interrupt: still tearing down " + testApp, "teardown of " + testApp + ": done in"},
				"teardown fails": {"the VPC is still in use", "make integ-clean APP=" + testApp},
			}[mode]
			for _, want := range wants {
				if !strings.Contains(out.String(), want) {
					t.Errorf("child output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
