// Package integ holds the parts of the real-account integration test
// (integ_test.go, build tag integ, run by `make integ`) that need no AWS
// account, so that `make test` checks them: a unique app name, the guard that
// always tears the app down, the CDK CLI runner, the removal of what the
// stacks retain, and the checks of the HTTP contract, the task placement and
// a redeploy.
package integ

import (
	"crypto/rand"
	"fmt"
	"io"
	"strings"
)

// Prefix starts the name of every app the integration test deploys, so that
// leftovers are easy to tell from real deployments. `make integ-clean`
// refuses any other name.
const Prefix = "fargo-integ-"

// suffixLen random characters follow Prefix: 12 + 8 = 20 characters, inside
// appName's 30, and 36^8 (about 2.8e12) names, so two runs in one account
// never collide.
const suffixLen = 8

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewAppName returns Prefix followed by random lower-case letters and
// digits, read from random (crypto/rand.Reader when nil). Lower case,
// because S3 bucket names, which CloudFormation derives from stack names,
// allow nothing else.
func NewAppName(random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	var b strings.Builder
	b.WriteString(Prefix)
	buf := make([]byte, 1)
	for b.Len() < len(Prefix)+suffixLen {
		if _, err := io.ReadFull(random, buf); err != nil {
			return "", fmt.Errorf("integ: random app name: %w", err)
		}
		// Rejection sampling keeps every character equally likely: 252 is
		// the largest multiple of 36 that fits in a byte.
		if buf[0] < 252 {
			b.WriteByte(alphabet[int(buf[0])%len(alphabet)])
		}
	}
	return b.String(), nil
}

// CheckAppName accepts only a name that NewAppName could have made, so that
// `make integ-clean APP=...` cannot be pointed at a real deployment.
func CheckAppName(app string) error {
	suffix, ok := strings.CutPrefix(app, Prefix)
	if !ok || len(suffix) != suffixLen || strings.Trim(suffix, alphabet) != "" {
		return fmt.Errorf("integ: %q is not an integration test app: want %s followed by %d lower-case letters or digits, as make integ prints", app, Prefix, suffixLen)
	}
	return nil
}

// StackNames are the CloudFormation stacks of app, in deploy order (as
// stacks.New names them: <appName>-<construct id>).
func StackNames(app string) []string {
	return []string{app + "-Network", app + "-LoadBalancer", app + "-Cluster", app + "-Service"}
}
