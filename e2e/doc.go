// Package e2e runs the service's stop and deploy sequences through a real
// health-checking load balancer: HAProxy, configured as the ALB target group
// is, in front of the real service binary (whatever ./service builds, the
// user's app) on loopback, under load on the probe that cdk.json names
// (probePath, probeStatus, probeBody). Every number comes from the user's
// synthesized templates (the snapshots in stacks/testdata/deployment, which
// make snapshots updates), so the test fails when the stacks and the app
// drift apart.
//
// It has tests only; run them with
//
//	go test ./e2e -v
//
// HAProxy must be installed (apt-get install -y haproxy); without it the
// tests skip, except under CI=true, where they fail.
package e2e
