package main

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/cors"
)

// NewServer returns the service's HTTP handler: the routes of addRoutes
// behind CORS and, if cfg.AccessLog is set, an access log. Once draining is
// set, /healthcheck answers 503 so that the load balancer stops routing here.
func NewServer(logger *slog.Logger, cfg config, draining *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, draining)
	var h http.Handler = cors.New(cors.Options{
		AllowedOrigins:   cfg.AllowedOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodHead},
		AllowCredentials: cfg.AllowCredentials,
	}).Handler(mux)
	if cfg.AccessLog {
		h = accessLog(logger, h)
	}
	return h
}

// handleHealthcheck answers the load balancer's health checks: "Healthy"
// (a JSON string), or 503 "Draining" once the service is stopping.
func handleHealthcheck(draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "0")
		if draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `"Draining"`)
			return
		}
		io.WriteString(w, `"Healthy"`)
	})
}

func handleIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<h1>HELLO WORLD</h1>")
	})
}

// accessLog logs a line per request except health checks, which the load
// balancer sends every few seconds from each of its nodes.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthcheck" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote_addr", r.RemoteAddr),
		)
	})
}

// statusRecorder remembers the status and body size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status, bytes int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
