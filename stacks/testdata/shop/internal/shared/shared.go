// Package shared is code two of the shop's services could import.
package shared

// Greeting greets from the named service.
func Greeting(service string) string { return "hello from " + service }
