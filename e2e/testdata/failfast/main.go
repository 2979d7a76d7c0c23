// Command failfast is an app as users write them, for the e2e tests: it
// refuses to start without its secret, logs plain text around serve.Run's
// JSON start-up line, and leaves the probe keys unset. TestAnyContractApp
// runs it through the checks the e2e tests make of the user's app.
package main

import (
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/fargo-cdk/fargo/serve"
)

func main() {
	log.SetOutput(os.Stdout)
	log.Printf("notes: starting")
	key := os.Getenv("NOTES_API_KEY")
	if key == "" {
		log.Fatal("notes: NOTES_API_KEY is not set")
	}
	cfg, err := serve.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]string{})
	})
	log.Printf("notes: serving on port %d", cfg.Port)
	if err := serve.Run(context.Background(), slog.New(slog.NewJSONHandler(os.Stdout, nil)), cfg, mux); err != nil {
		log.Fatal(err)
	}
	log.Printf("notes: stopped")
}
