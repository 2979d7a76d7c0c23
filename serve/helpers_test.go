package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// appBody is what the test app answers on /. It is not the service's hello
// world on purpose: these tests prove what Run does for any handler, so a
// user who replaces the service's routes keeps them.
const appBody = `{"items":[]}`

// testApp is the app every test here serves: a JSON route and a POST that
// reads its whole body before it answers, so a slow upload keeps the
// handler in flight.
func testApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, appBody)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // the client went away or the read timed out
		}
		w.Write(body)
	})
	return mux
}

// env returns a getenv that reads from m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// syncBuffer is a bytes.Buffer safe for a server writing logs while a test
// reads them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the complete lines written so far.
func (b *syncBuffer) Lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

func decodeJSON(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q is not JSON: %v", line, err)
	}
	return m
}

// freePort returns a TCP port that was free a moment ago. Run only accepts
// ports from 1 up, so tests cannot ask it for port 0.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitForReady polls url until it answers 200, sleeping between tries, and
// gives up early if gone is closed (the server exited). It leaves no
// connection open.
func waitForReady(t *testing.T, url string, timeout time.Duration, gone <-chan struct{}) {
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-gone:
			t.Fatalf("%s: the server exited before it was ready", url)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s not ready after %s", url, timeout)
}

func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// checkApp fails unless a GET / on a new connection gets the app's answer.
func checkApp(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	status, body, err := get(client, url+"/")
	if err != nil || status != 200 || body != appBody {
		t.Fatalf("GET / = %d %q %v, want 200 %q", status, body, err, appBody)
	}
}
