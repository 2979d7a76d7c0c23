package e2e

import (
	"maps"
	"path/filepath"
	"testing"
)

// TestAnyContractApp runs an app that keeps the contract and shares nothing
// else with hello world (testdata/failfast) through the checks the e2e
// tests make of the user's app: it refuses to start without its secret,
// NOTES_API_KEY, logs plain text besides serve.Run's JSON start-up line,
// and sets no probe keys. It must start on a placeholder for the secret,
// show an idle timeout above the load balancer's, and lose no request when
// a Spot interruption stops it under load on the default probe, the health
// check path.
func TestAnyContractApp(t *testing.T) {
	requireHAProxy(t)
	s := readSettings(t)
	var err error
	if s.app, err = build("./e2e/testdata/failfast"); err != nil {
		t.Fatal(err)
	}
	// The secret as cdk.json would name it, with nothing in the
	// environment or a secrets file to give it a value.
	s.contract.Secrets = []string{"NOTES_API_KEY"}
	none := func(string) (string, bool) { return "", false }
	secrets, err := secretValues(s.contract.Secrets, none, filepath.Join(t.TempDir(), secretsFile))
	if err != nil {
		t.Fatal(err)
	}
	s.env = maps.Clone(s.env)
	maps.Copy(s.env, secrets)
	// No probe keys: the probe is the health check path, answering 200.
	s.contract.ProbePath, s.contract.ProbeStatus, s.contract.ProbeBody = s.healthPath, 200, ""

	t.Run("idle timeout", func(t *testing.T) {
		t.Parallel()
		checkIdleTimeout(t, s, startInstance(t, s, "notes", env(s)))
	})
	t.Run("spot interruption", func(t *testing.T) {
		t.Parallel()
		results, start, took := spotInterruption(t, s, s.drainDelay)
		if n, desc := failures(results, start); n > 0 {
			t.Errorf("%d of %d requests failed:%s", n, len(results), desc)
		}
		if after := answered(results, start)["old1"]; after == 0 {
			t.Error("old1 answered no request sent after SIGTERM: it was not taking traffic when stopped")
		}
		t.Logf("%d requests; old1 exited %s after SIGTERM", len(results), took)
	})
}
