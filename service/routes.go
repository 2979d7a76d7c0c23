package main

import "net/http"

// addRoutes registers every route of the service; it is the one place that
// lists them. A GET pattern also answers HEAD. For anything else ServeMux
// answers 404, or 405 with an Allow header when only the method is wrong.
// The health check is not here: serve.Run answers it, at HEALTH_CHECK_PATH,
// before a request reaches these routes.
func addRoutes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", handleIndex())
}
