// Package e2e runs the service's stop and deploy sequences through a real
// health-checking load balancer: HAProxy, configured as the ALB target group
// is, in front of the real service binary (whatever ./service builds, the
// user's app) on loopback, under load on the probe that cdk.json names
// (probePath, probeStatus, probeBody; the health check path answering 200
// without them). Every number comes from the user's synthesized templates
// (the snapshots in stacks/testdata/deployment, which make snapshots
// updates), so the test fails when the stacks and the app drift apart.
//
// The binary gets the task's plain environment and a value for each of
// cdk.json's secrets: the variable of that name in go test's environment,
// else its line in e2e/secrets.env (git-ignored), else a placeholder. What
// it logs is its own business but for one JSON start-up line, which
// serve.Run writes. docs/contract.md lists every rule and its test.
//
// It has tests only; run them with
//
//	go test ./e2e -v
//
// HAProxy must be installed (apt-get install -y haproxy); without it the
// tests skip, except under CI=true, where they fail.
package e2e
