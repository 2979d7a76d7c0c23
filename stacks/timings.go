package stacks

import "time"

// The timings below are chosen together, and the stacks pass the drain and
// shutdown values to the container explicitly so that the service and the
// load balancer cannot drift apart (the service's own defaults are the same).
//
//   - The target group checks the health path every HealthCheckInterval and
//     needs HealthyThreshold passes before a new task takes traffic:
//     3 x 5 s = 15 s (the original needed 5 x 60 s = 5 minutes).
//   - On SIGTERM the service answers 503 on the health path at once; the ALB
//     stops routing to it after UnhealthyThreshold failures: 2 x 5 s = 10 s.
//     DrainDelay = 10 s + 5 s margin = 15 s, during which it still serves
//     everything else. On a scale-in or deploy ECS has already deregistered
//     the task; on a Spot interruption SIGTERM can arrive while the task is
//     still registered and taking requests, which is why the drain matters.
//   - Then http.Server.Shutdown waits up to ShutdownTimeout = 10 s for
//     requests in flight, which the service's 10 s WriteTimeout bounds.
//   - StopTimeout = DrainDelay + ShutdownTimeout + 5 s = 30 s before ECS
//     sends SIGKILL: well inside the 120 s Spot interruption warning.
//   - DeregistrationDelay = 15 s: the ALB lets requests already sent to a
//     deregistering task finish for longer than WriteTimeout allows any of
//     them to run, and the whole stop still ends far inside 120 s.
//   - HealthCheckGracePeriod = 30 s, twice the 15 s a task needs to turn
//     healthy, so ECS does not kill tasks that are still registering.
//   - IdleTimeout = 60 s is the ALB's idle timeout (the AWS default, set so
//     that it is visible); the service keeps idle connections open for
//     longer (75 s), or the ALB could send a request on a connection the
//     task has just closed and answer the client 502.
const (
	HealthCheckInterval    = 5 * time.Second
	HealthCheckTimeout     = 2 * time.Second
	HealthyThreshold       = 3
	UnhealthyThreshold     = 2
	DrainDelay             = 15 * time.Second
	ShutdownTimeout        = 10 * time.Second
	StopTimeout            = DrainDelay + ShutdownTimeout + 5*time.Second
	DeregistrationDelay    = 15 * time.Second
	HealthCheckGracePeriod = 30 * time.Second
	IdleTimeout            = 60 * time.Second
)
