package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/rs/cors"

	"github.com/fargo-cdk/fargo/serve"
)

// The main of a service with its own routes, behind the CORS settings the
// stacks pass (CORS_ALLOWED_ORIGINS, CORS_ALLOW_CREDENTIALS) as hello
// world's server.go applies them: the README's "Bring your own app" shows
// the same code.
func ExampleRun() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := serve.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", r.PathValue("name"))
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
