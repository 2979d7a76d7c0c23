// Command service is the shop's own service: every request no other
// service's rule claims.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "shop") })
	fmt.Println(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
