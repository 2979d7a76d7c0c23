package e2e

import (
	"maps"
	"testing"
	"time"
)

// TestStopPaths stops tasks behind HAProxy in the three ways ECS does, under
// constant keep-alive load, and checks that no request fails and that each
// task exits 0 within its stop timeout. A control run without the drain
// must lose requests, which shows the test can fail.
func TestStopPaths(t *testing.T) {
	requireHAProxy(t)
	s := readSettings(t)
	t.Logf("production timings ÷ %d: health check %s every %s (timeout %s), healthy after %d, unhealthy after %d; "+
		"deregistration delay %s; DRAIN_DELAY %s, SHUTDOWN_TIMEOUT %s, stop timeout %s",
		timeScale, s.healthPath, scaled(s.healthInterval), scaled(s.healthTimeout), s.healthyThreshold, s.unhealthyThreshold,
		scaled(s.deregistration), scaled(s.drainDelay), scaled(s.shutdownTimeout), scaled(s.stopTimeout))

	t.Run("spot interruption", func(t *testing.T) {
		t.Parallel()
		results, start, took := spotInterruption(t, s, s.drainDelay)
		n, desc := failures(results, start)
		if n > 0 {
			t.Errorf("%d of %d requests failed:%s", n, len(results), desc)
		}
		// Without traffic after SIGTERM this would be a scale-in.
		after := answered(results, start)["old1"]
		if after == 0 {
			t.Error("old1 answered no request sent after SIGTERM: it was not taking traffic when stopped")
		}
		t.Logf("spot interruption: %d requests, %d failed; old1 answered %d sent after SIGTERM, the last %s after it, and exited %s after it",
			len(results), n, after, lastSent(results, "old1").Sub(start).Round(time.Millisecond), took)
	})

	t.Run("control: spot interruption without drain", func(t *testing.T) {
		t.Parallel()
		results, start, took := spotInterruption(t, s, 0)
		n, desc := failures(results, start)
		if n == 0 {
			t.Errorf("no request failed with DRAIN_DELAY=0 in %d: the test cannot see lost requests", len(results))
		}
		t.Logf("control, DRAIN_DELAY=0: %d requests, %d failed; old1 exited %s after SIGTERM; first failures:%s",
			len(results), n, took, desc)
	})

	t.Run("scale-in", func(t *testing.T) {
		t.Parallel()
		old1, p, l := twoTasks(t, s, env(s))

		start, took := stopDeregistered(t, s, p, old1)
		results := l.stop()
		n, desc := failures(results, start)
		if n > 0 {
			t.Errorf("%d of %d requests failed:%s", n, len(results), desc)
		}
		if n := answered(results, start)["old1"]; n > 0 {
			t.Errorf("old1 answered %d requests sent after it was deregistered", n)
		}
		t.Logf("scale-in: %d requests, %d failed; old1 got SIGTERM %s after deregistration and exited %s after it",
			len(results), n, scaled(s.deregistration), took)
	})

	t.Run("rolling deploy", func(t *testing.T) {
		t.Parallel()
		old1, p, l := twoTasks(t, s, env(s))

		// 100/200: the new task starts and must be healthy before an old
		// one stops.
		new1 := startInstance(t, s, "new1", env(s))
		p.register(new1)
		registered := time.Now()
		healthy := p.waitStatus("new1", "UP", scaled(s.healthInterval)*time.Duration(2*s.healthyThreshold)+2*time.Second)
		l.waitServed(registered, 2*time.Second, "new1")
		t.Logf("rolling deploy: new1 healthy %s after registration (%d checks every %s)",
			healthy.Round(10*time.Millisecond), s.healthyThreshold, scaled(s.healthInterval))

		start, took := stopDeregistered(t, s, p, old1)
		results := l.stop()
		n, desc := failures(results, start)
		if n > 0 {
			t.Errorf("%d of %d requests failed:%s", n, len(results), desc)
		}
		counts := answered(results, time.Time{})
		for _, name := range []string{"old1", "old2", "new1"} {
			if counts[name] == 0 {
				t.Errorf("%s answered no request; answers: %v", name, counts)
			}
		}
		if n := answered(results, start)["old1"]; n > 0 {
			t.Errorf("old1 answered %d requests sent after it was deregistered", n)
		}
		t.Logf("rolling deploy: %d requests, %d failed; answers %v; old1 exited %s after SIGTERM",
			len(results), n, counts, took)
	})
}

// spotInterruption sends SIGTERM to a task that is still registered and
// taking traffic, as a Fargate Spot interruption can, with the container's
// DRAIN_DELAY set to drainDelay (before scaling). It returns every request,
// when SIGTERM was sent and how long the task took to exit.
func spotInterruption(t *testing.T, s settings, drainDelay time.Duration) ([]result, time.Time, time.Duration) {
	t.Helper()
	e := env(s)
	e["DRAIN_DELAY"] = scaled(drainDelay).String()
	old1, _, l := twoTasks(t, s, e)

	start := time.Now()
	l.drain(old1.name)
	took := old1.stop(scaled(s.stopTimeout))
	afterExit(s)
	return l.stop(), start, took
}

// twoTasks starts the tasks old1 and old2 with environment e behind the
// proxy and puts them under load. It returns old1, the one to stop, once
// both have answered.
func twoTasks(t *testing.T, s settings, e map[string]string) (*instance, *proxy, *load) {
	t.Helper()
	old1, old2 := startInstance(t, s, "old1", e), startInstance(t, s, "old2", e)
	p := startProxy(t, s, old1, old2)
	l := startLoad(t, p.url, s.contract)
	l.waitServed(time.Time{}, 5*time.Second, "old1", "old2")
	return old1, p, l
}

// stopDeregistered stops a task as ECS does on a scale-in or deploy:
// deregister, wait the deregistration delay, then SIGTERM. It returns when
// the deregistration began and how long the task took to exit after
// SIGTERM.
func stopDeregistered(t *testing.T, s settings, p *proxy, in *instance) (time.Time, time.Duration) {
	t.Helper()
	p.deregister(in)
	start := time.Now()
	time.Sleep(scaled(s.deregistration))
	took := in.stop(scaled(s.stopTimeout))
	afterExit(s)
	return start, took
}

// afterExit keeps the load running after a task exits: were the proxy
// still routing to it, the next requests would fail at once, and one
// health-check interval is plenty of them.
func afterExit(s settings) { time.Sleep(scaled(s.healthInterval)) }

// env is the container's environment with its durations scaled.
func env(s settings) map[string]string {
	e := maps.Clone(s.env)
	e["DRAIN_DELAY"] = scaled(s.drainDelay).String()
	e["SHUTDOWN_TIMEOUT"] = scaled(s.shutdownTimeout).String()
	return e
}

// TestKeepAliveOutlastsALB checks the keep-alive contract: the service must
// keep an idle connection open longer than the load balancer does, or the
// load balancer may send a request on a connection the service is closing
// and answer the client 502.
func TestKeepAliveOutlastsALB(t *testing.T) {
	s := readSettings(t)
	checkIdleTimeout(t, s, startInstance(t, s, "service", env(s)))
}

// checkIdleTimeout reads the app's idle timeout from its start-up line and
// compares it with the load balancer's. Only the app knows it, and
// measuring it would take longer than the ALB's 60 s.
func checkIdleTimeout(t *testing.T, s settings, in *instance) {
	t.Helper()
	v, _ := in.listening()["idle_timeout"].(string)
	idle, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("listening log line: idle_timeout %q: want a duration such as 1m15s", v)
	}
	if idle <= s.albIdleTimeout {
		t.Errorf("service idle timeout %s, want more than the load balancer's idle_timeout.timeout_seconds (%s)", idle, s.albIdleTimeout)
	}
}
