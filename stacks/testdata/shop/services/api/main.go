// Command api serves /api of the shop, with the shared greeting.
package main

import (
	_ "embed"
	"fmt"
	"net/http"
	"os"

	"example.com/shop/internal/shared"
)

//go:embed static/version.txt
var version string

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, shared.Greeting("api"), version) })
	fmt.Println(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
