package main

import (
	"io"
	"strings"
	"testing"
)

// A real deployment's name is refused before any AWS call: there are no
// credentials here, so reaching Preflight would fail differently.
func TestRefusesRealApps(t *testing.T) {
	for _, app := range []string{"fargo", "prod-fargo", "fargo-integ-"} {
		err := run(t.Context(), []string{"-app", app}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "is not an integration test app") {
			t.Errorf("integ-clean -app %s: %v, want a refusal", app, err)
		}
	}
}
