// Baseline is a bare net/http hello world, the yardstick bench/run.sh holds
// the service against: same body on /, and nothing else (no CORS, no
// timeouts, no logging).
package main

import (
	"io"
	"log"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "5001"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<h1>HELLO WORLD</h1>")
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
