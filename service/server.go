package main

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rs/cors"
)

// NewServer returns the service's HTTP handler: the routes of addRoutes
// behind CORS and, if cfg.AccessLog is set, an access log. serve.Run puts
// the health check in front of it, so neither sees the load balancer's
// health checks.
func NewServer(logger *slog.Logger, cfg config) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux)
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

// handleIndex answers / with hello world: replace it with your app.
func handleIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<h1>HELLO WORLD</h1>")
	})
}

// accessLog logs a line per request. Health checks, which the load balancer
// sends every few seconds from each of its nodes, never get here.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
