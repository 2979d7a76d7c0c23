package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// secretsFile holds values for the app's secrets on the developer's
// machine, one NAME=value a line, as docker run --env-file reads it (no
// quotes; # starts a comment line). Git ignores it.
const secretsFile = "secrets.env"

// placeholder is what the app gets for a secret that nothing else gives a
// value: not empty, so that an app that refuses to start without its
// secret starts, and plainly no real secret. It opens no database, which is
// why the health check must not need one (docs/contract.md).
func placeholder(name string) string { return "e2e-placeholder-" + name }

// secretValues returns the value the app gets for each secret that ECS
// would set (names): the variable of the same name in go test's
// environment (NOTES_API_KEY=x make test), else the one in file, else a
// placeholder. Only these names are taken from the environment: the app
// otherwise gets the task's plain environment, nothing of the shell's. A
// name in file that is no secret is an error, as a typo would be.
func secretValues(names []string, lookupEnv func(string) (string, bool), file string) (map[string]string, error) {
	fromFile, err := readEnvFile(file)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(fromFile)) {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("%s: %s is not one of the secrets in cdk.json (%s): remove it, or add the secret there", file, name, strings.Join(names, ", "))
		}
	}
	values := map[string]string{}
	for _, name := range names {
		if v, ok := lookupEnv(name); ok {
			values[name] = v
		} else if v, ok := fromFile[name]; ok {
			values[name] = v
		} else {
			values[name] = placeholder(name)
		}
	}
	return values, nil
}

// readEnvFile reads NAME=value lines; a missing file holds nothing.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	values := map[string]string{}
	lines := bufio.NewScanner(f)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%s:%d: want NAME=value, got %q", path, n, line)
		}
		values[name] = value
	}
	return values, lines.Err()
}

func TestSecretValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, secretsFile)
	os.WriteFile(file, []byte("# values for make test\n\nDB_PASSWORD=from-file\nNOTES_API_KEY=from-file=with-equals\n"), 0o600)
	t.Setenv("NOTES_API_KEY", "from-env")
	t.Setenv("OTHER", "not a secret")

	got, err := secretValues([]string{"DB_PASSWORD", "NOTES_API_KEY", "SIGNING_KEY"}, os.LookupEnv, file)
	want := map[string]string{
		"DB_PASSWORD":   "from-file",                // the file, nothing in the environment
		"NOTES_API_KEY": "from-env",                 // the environment wins over the file
		"SIGNING_KEY":   placeholder("SIGNING_KEY"), // neither: a placeholder
	}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("secretValues = %v, %v; want %v", got, err, want)
	}
	if placeholder("SIGNING_KEY") == "" {
		t.Error("an empty placeholder fails a fail-fast app")
	}

	// No file at all: placeholders, and an empty variable is a value.
	t.Setenv("NOTES_API_KEY", "")
	got, err = secretValues([]string{"NOTES_API_KEY", "DB_PASSWORD"}, os.LookupEnv, filepath.Join(dir, "none.env"))
	if want := map[string]string{"NOTES_API_KEY": "", "DB_PASSWORD": placeholder("DB_PASSWORD")}; err != nil || !maps.Equal(got, want) {
		t.Errorf("without a file: %v, %v; want %v", got, err, want)
	}

	// A value for a variable that is no secret, or a line that is no
	// NAME=value, is an error that names it.
	for content, want := range map[string]string{
		"DB_PASSWORD=x\nDB_PASWORD=y\n": "DB_PASWORD is not one of the secrets in cdk.json (DB_PASSWORD)",
		"DB_PASSWORD x\n":               ":1: want NAME=value",
	} {
		os.WriteFile(file, []byte(content), 0o600)
		if _, err := secretValues([]string{"DB_PASSWORD"}, os.LookupEnv, file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", content, err, want)
		}
	}
}
