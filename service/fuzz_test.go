package main

import (
	"bufio"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzServer sends arbitrary requests through the app's whole handler chain
// (CORS, access log, routes), as the server would after parsing them, and
// checks invariants that hold for any input. serve's FuzzHandler covers the
// health check in front of it. Plain go test runs the seeds;
// go test -fuzz=FuzzServer explores.
func FuzzServer(f *testing.F) {
	listedOrigins := []string{"https://app.example.com", "http://localhost:3000"}
	type variant struct {
		name string
		cfg  config
	}
	variants := []variant{
		{"wildcard", config{AllowedOrigins: []string{"*"}}},
		{"listed with credentials, access log", config{AllowedOrigins: listedOrigins, AllowCredentials: true, AccessLog: true}},
	}
	handlers := make([]http.Handler, len(variants))
	for i, v := range variants {
		handlers[i] = NewServer(slog.New(slog.DiscardHandler), v.cfg)
	}

	for _, seed := range []struct{ method, target, origin, reqMethod, reqHeaders string }{
		{"GET", "/", "", "", ""},
		{"HEAD", "/", "", "", ""},
		{"GET", "/", "https://app.example.com", "", ""},
		{"GET", "/", "HTTPS://APP.EXAMPLE.COM", "", ""},
		{"GET", "/?q=1", "https://evil.example.com", "", ""},
		{"OPTIONS", "/", "https://app.example.com", "GET", "content-type"},
		{"OPTIONS", "/", "http://localhost:3000", "DELETE", ""},
		{"OPTIONS", "/nope", "https://evil.example.com", "GET", "x-secret"},
		{"OPTIONS", "/", "", "", ""},
		{"POST", "/", "https://app.example.com", "", ""},
		{"DELETE", "/", "", "", ""},
		{"GET", "/..//healthcheck/../", "null", "", ""},
		{"GET", "/%2e%2e/%00", "", "", ""},
		{"GET", "http://other.example/healthcheck?x=%zz", "", "", ""},
		{"GET", "*", "", "", ""},
		{"CONNECT", "example.com:443", "", "", ""},
		{"BREW", "/coffee", "https://app.example.com", "BREW", "*"},
	} {
		f.Add(seed.method, seed.target, seed.origin, seed.reqMethod, seed.reqHeaders)
	}

	f.Fuzz(func(t *testing.T, method, target, origin, reqMethod, reqHeaders string) {
		for _, v := range []string{method, target, origin, reqMethod, reqHeaders} {
			if strings.ContainsAny(v, "\r\n") {
				return // one value cannot span lines on the wire
			}
		}
		for i, h := range handlers {
			// Parse anew for each handler: ServeMux records the match in
			// the request.
			req, ok := parseRequest(method, target, map[string]string{
				"Origin":                         origin,
				"Access-Control-Request-Method":  reqMethod,
				"Access-Control-Request-Headers": reqHeaders,
			})
			if !ok {
				return // the server answers 400 itself; no handler runs
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkInvariants(t, variants[i].name, variants[i].cfg, req, rec)
		}
	})
}

// parseRequest builds the request the server would hand to its handler, or
// reports false if the server would reject it before that.
func parseRequest(method, target string, header map[string]string) (*http.Request, bool) {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: service.test\r\n")
	for k, v := range header {
		if v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil || len(req.Header.Values("Origin")) > 1 {
		return nil, false
	}
	return req, true
}

func checkInvariants(t *testing.T, name string, cfg config, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	res := rec.Result()
	body := rec.Body.String()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s %q Origin %q: "+format, append([]any{name, req.Method, req.RequestURI, req.Header.Get("Origin")}, args...)...)
	}

	preflight := req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != ""
	switch status := res.StatusCode; {
	case preflight:
		if status != http.StatusNoContent {
			fail("preflight status %d, want 204", status)
		}
	case status == http.StatusOK:
		if body != "<h1>HELLO WORLD</h1>" {
			fail("200 with body %q", body)
		}
	case status == http.StatusMethodNotAllowed:
		if allow := res.Header.Get("Allow"); allow != "GET, HEAD" {
			fail("405 with Allow %q", allow)
		}
	case status == http.StatusNotFound, status == http.StatusTemporaryRedirect, status == http.StatusBadRequest:
	default:
		fail("unexpected status %d", status)
	}

	if !slices.ContainsFunc(res.Header.Values("Vary"), func(v string) bool { return strings.Contains(v, "Origin") }) {
		fail("no Vary: Origin")
	}
	acao := res.Header.Values("Access-Control-Allow-Origin")
	acac := res.Header.Get("Access-Control-Allow-Credentials")
	if len(acao) == 0 {
		if acac != "" {
			fail("Access-Control-Allow-Credentials without Allow-Origin")
		}
		return
	}
	origin := req.Header.Get("Origin")
	switch {
	case len(acao) != 1:
		fail("Access-Control-Allow-Origin %q", acao)
	case origin == "":
		fail("Access-Control-Allow-Origin %q without Origin", acao[0])
	case cfg.AllowedOrigins[0] == "*":
		if acao[0] != "*" || acac != "" {
			fail("wildcard answered Allow-Origin %q, Allow-Credentials %q", acao[0], acac)
		}
	default:
		if acao[0] != origin || !slices.Contains(cfg.AllowedOrigins, strings.ToLower(origin)) {
			fail("Access-Control-Allow-Origin %q for an origin not listed", acao[0])
		}
		if acac != "true" {
			fail("Access-Control-Allow-Credentials %q, want true", acac)
		}
	}
}
