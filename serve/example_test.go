package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/fargo-cdk/fargo/serve"
)

// The main of a service with its own routes: the README's "Bring your own
// app" shows the same code.
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

	if err := serve.Run(context.Background(), logger, cfg, mux); err != nil {
		logger.Error("stopped with error", "error", err)
		os.Exit(1)
	}
}
