// Package testhelp holds what the tests of serve, service and e2e share
// when they run a server and read its JSON logs, and what the docs and
// stacks tests share to keep a generated table in a page. It is for tests only: the
// image's build context leaves it out.
package testhelp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that a server or a process can write while
// a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the complete lines written so far.
func (b *SyncBuffer) Lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// DecodeJSON decodes a JSON log line, failing the test if it is not one.
func DecodeJSON(t testing.TB, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q is not JSON: %v", line, err)
	}
	return m
}

// FreePort returns an IPv4 loopback port that was free a moment ago. The
// servers take PORT from 1 up, so tests cannot ask them for port 0.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitForReady polls url until it answers 200, sleeping between tries, and
// gives up early if gone is closed (the server exited). It leaves no
// connection open.
func WaitForReady(t testing.TB, url string, timeout time.Duration, gone <-chan struct{}) {
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

// Get sends a GET and returns the status and the whole body.
func Get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Do sends one request with header added, without following redirects, and
// returns the response with its body read.
func Do(t testing.TB, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// Start starts cmd and returns a channel that is closed once it has exited,
// with Wait's error in *waitErr by then. When the test ends the process is
// killed if it is still running and, if the test failed, the test logs what
// output returns (what the process printed).
func Start(t testing.TB, cmd *exec.Cmd, output func() string) (exited <-chan struct{}, waitErr *error) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	waitErr = new(error)
	go func() {
		*waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), output())
		}
	})
	return done, waitErr
}

// GeneratedSection compares the text of file between the lines begin and
// end (the markers of a generated table in a Markdown page) with want. With
// update it writes want there and reports no difference; otherwise it
// returns the text there now, and whether it differs. A file without the
// markers is an error.
func GeneratedSection(file, begin, end, want string, update bool) (got string, differs bool, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false, err
	}
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		return "", false, fmt.Errorf("%s has no generated section between %q and %q", file, begin, end)
	}
	got = doc[i+len(begin)+1 : j]
	if got == want {
		return got, false, nil
	}
	if update {
		return want, false, os.WriteFile(file, []byte(doc[:i+len(begin)+1]+want+doc[j:]), 0o644)
	}
	return got, true, nil
}
