// Package e2e runs the service's stop and deploy sequences through a real
// health-checking load balancer: HAProxy, configured as the ALB target group
// is, in front of the real service binary on loopback. Every number comes
// from the synthesized templates (the golden snapshots in stacks/testdata),
// so the test fails when the stacks and the service drift apart.
//
// It has tests only; run them with
//
//	go test ./e2e -v
//
// HAProxy must be installed (apt-get install -y haproxy); without it the
// tests skip, except under CI=true, where they fail.
package e2e
