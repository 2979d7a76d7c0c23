package main

import (
	"net/http"
	"sync/atomic"
)

// addRoutes registers every route of the service; it is the one place that
// lists them. A GET pattern also answers HEAD. For anything else ServeMux
// answers 404, or 405 with an Allow header when only the method is wrong.
func addRoutes(mux *http.ServeMux, draining *atomic.Bool) {
	mux.Handle("GET /healthcheck", handleHealthcheck(draining))
	mux.Handle("GET /{$}", handleIndex())
}
