package serve

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fargo-cdk/fargo/internal/testhelp"
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

// checkApp fails unless a GET / on a new connection gets the app's answer.
func checkApp(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	status, body, err := testhelp.Get(client, url+"/")
	if err != nil || status != 200 || body != appBody {
		t.Fatalf("GET / = %d %q %v, want 200 %q", status, body, err, appBody)
	}
}
