// Command admin serves admin.example.com of the shop.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "admin") })
	fmt.Println(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
