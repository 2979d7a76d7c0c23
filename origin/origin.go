// Package origin is the one rule for CORS allowed origins. The stacks check
// the corsAllowedOrigins context key with it at synth, and the service
// checks CORS_ALLOWED_ORIGINS with it at start-up, so that synth rejects
// exactly what a task would refuse.
package origin

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Any is the list that allows every origin (never with credentials).
const Any = "*"

// Want says, for an error message, what a list may hold.
const Want = `"*" or a comma-separated list of origins such as https://app.example.com or http://localhost:3000`

// ParseList splits a comma-separated list of origins and checks each one.
// "*" alone allows any origin and comes back as []string{"*"}. The error
// names the first bad entry and why it is bad.
func ParseList(s string) ([]string, error) {
	if strings.TrimSpace(s) == Any {
		return []string{Any}, nil
	}
	var origins []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.TrimSpace(o)
		if err := Check(o); err != nil {
			return nil, fmt.Errorf("entry %q: %w", o, err)
		}
		origins = append(origins, o)
	}
	return origins, nil
}

// Check reports why o is not an origin as a browser sends it in the Origin
// header (scheme://host[:port], lower case, no default port, nothing
// after the host), or nil. Such an entry could never match a request.
func Check(o string) error {
	switch {
	case o == "":
		return errors.New("empty: remove the extra comma")
	case o == Any:
		return errors.New(`"*" must stand alone`)
	case strings.Contains(o, "*"):
		return errors.New("wildcards are not supported: list each origin")
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return errors.New("want http:// or https:// followed by a host")
	}
	switch {
	case u.User != nil:
		return errors.New("user information is not part of an origin")
	case u.Path == "/" && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "":
		return errors.New("remove the trailing slash")
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		return errors.New("an origin has no path, query or fragment")
	case o != strings.ToLower(o):
		return errors.New("write it in lower case, as browsers send it")
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(port)
		switch {
		case err != nil || n < 1 || n > 65535:
			return fmt.Errorf("port %q is not 1 to 65535", port)
		case (u.Scheme == "http" && n == 80) || (u.Scheme == "https" && n == 443):
			return fmt.Errorf("remove the default port %d: browsers omit it", n)
		}
	}
	return nil
}
