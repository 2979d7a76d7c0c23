package integ

import (
	"path/filepath"
	"strings"
	"testing"
)

// noAWS empties the environment of everything the SDK reads credentials,
// a region or a profile from, and turns off the EC2 metadata service, so
// that nothing is asked over the network.
func noAWS(t *testing.T) {
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestPreflightRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing", nil, "no region is set"},
		{"no credentials", map[string]string{"AWS_REGION": "eu-west-1"}, "credentials"},
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}, "no region is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noAWS(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, _, err := Preflight(t.Context(), false)
			if err == nil {
				t.Fatal("Preflight passed")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, Needs+": ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Preflight = %q\nwant one line: %s: …%s…", msg, Needs, tt.want)
			}
		})
	}
}
