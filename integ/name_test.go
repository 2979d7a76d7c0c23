package integ

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewAppName(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		name, err := NewAppName(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckAppName(name); err != nil {
			t.Fatal(err)
		}
		if len(name) > 30 {
			t.Fatalf("%q: longer than appName allows", name)
		}
		if seen[name] {
			t.Fatalf("%q twice in 1000 names", name)
		}
		seen[name] = true
	}
}

func TestNewAppNameSkipsBiasedBytes(t *testing.T) {
	// 252..255 would favour the first four characters: they are skipped.
	random := bytes.NewReader([]byte{252, 253, 254, 255, 0, 1, 35, 36, 71, 251, 100, 200})
	name, err := NewAppName(random)
	if want := Prefix + "ab9a992u"; err != nil || name != want {
		t.Errorf("NewAppName = %q, %v; want %q", name, err, want)
	}
}

func TestNewAppNameRandomFails(t *testing.T) {
	if _, err := NewAppName(iotest.ErrReader(errors.New("no entropy"))); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("NewAppName = %v, want the reader's error", err)
	}
	if _, err := NewAppName(io.LimitReader(strings.NewReader("abcdefgh"), 3)); err == nil {
		t.Error("NewAppName accepted a short read")
	}
}

func TestCheckAppName(t *testing.T) {
	for _, ok := range []string{"fargo-integ-abcd1234", "fargo-integ-00000000"} {
		if err := CheckAppName(ok); err != nil {
			t.Errorf("CheckAppName(%q) = %v", ok, err)
		}
	}
	// Real deployments, and near misses.
	for _, bad := range []string{"fargo", "", "fargo-integ-", "fargo-integ-abcd123", "fargo-integ-abcd12345", "fargo-integ-ABCD1234", "fargo-integ-abcd-123", "my-fargo-integ-abcd1234"} {
		if err := CheckAppName(bad); err == nil {
			t.Errorf("CheckAppName(%q) accepted it", bad)
		}
	}
}

func TestStackNames(t *testing.T) {
	if got := strings.Join(StackNames("a"), " "); got != "a-Network a-LoadBalancer a-Cluster a-Service" {
		t.Errorf("StackNames = %s", got)
	}
}
