package e2e

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// bakeScale divides the minutes-long waits of a native deployment (the
// bakes, and the alarm periods and metric delay that they wait for) further
// than timeScale divides the health checks and the stop: a deployment's
// minutes would otherwise take the test minutes. The bakes and the alarms
// are scaled alike, so a bake still ends after the alarms could fire, or
// before, exactly as in production.
const bakeScale = 100

func baked(d time.Duration) time.Duration { return d / bakeScale }

// metricDelay is how late ALB metrics reach CloudWatch, at most; the
// stacks assume the same when they ask stepBakeMinutes to outlast the
// deployment alarms (deploymentAlarmWindow). It is AWS's, in no template.
const metricDelay = 2 * time.Minute

// canaryMargin is how many percentage points above canaryPercent a bad
// canary may fail: requests already sent to the new tasks when the weights
// change, and rounding in the proxy's weighted round robin.
const canaryMargin = 1.0

// TestCanaryDeploy deploys releases behind HAProxy the way ECS's canary
// moves an ALB's weighted target groups: new tasks in the alternate group
// at weight 0 until healthy, canaryPercent of the requests for the canary
// bake, all of them for the bake, then the old tasks deregistered, drained
// and stopped; the deployment alarm on a group's 5xx rate rolls it back.
// A good release loses no request; a bad one (it answers 500 but passes its
// health check) fails about canaryPercent of the requests until the
// rollback, where the same bad release in a rolling deploy fails far more.
func TestCanaryDeploy(t *testing.T) {
	requireHAProxy(t)
	s := readSettings(t)
	if s.strategy != "CANARY" {
		// The project's own cdk.json deploys with canary, so its CI always
		// runs this; a user's rolling or linear deployment has no canary.
		t.Skipf("your Service template deploys with %q (deploymentStrategy); this test checks the canary strategy", s.strategy)
	}
	if s.canaryPercent != math.Trunc(s.canaryPercent) {
		t.Fatalf("canary percent %v: the proxy's weights are whole numbers", s.canaryPercent)
	}
	t.Logf("production timings ÷ %d, bakes and alarms ÷ %d: canary %v%% for %s, bake %s; alarm above %v%% for %d × %s, %s late",
		timeScale, bakeScale, s.canaryPercent, baked(s.canaryBake), baked(s.bake),
		s.alarmPercent, s.alarmPeriods, baked(s.alarmPeriod), baked(metricDelay))

	t.Run("good release", func(t *testing.T) {
		t.Parallel()
		blue, p, l := blueTasks(t, s)
		green := []*instance{startInstance(t, s, "new1", env(s)), startInstance(t, s, "new2", env(s))}
		d := canary(t, s, p, l, blue, green)
		results := l.stop()
		n, desc := failures(results, d.start)
		if n > 0 {
			t.Errorf("%d of %d requests failed:%s", n, len(results), desc)
		}
		if d.rolledBack {
			t.Error("the deployment alarm rolled back a release that fails nothing")
		}
		if want := fmt.Sprint(s.contract.ProbeStatus); d.tested != "new1 "+want && d.tested != "new2 "+want {
			t.Errorf("a request with %s: %s before the shift answered by %q, want a new task's %d", s.testHeader, s.testValue, d.tested, s.contract.ProbeStatus)
		}
		canaryServed := 0
		for _, r := range results {
			if r.err == "" && (r.server == "new1" || r.server == "new2") && r.sent.Before(d.full) {
				canaryServed++
			}
		}
		if canaryServed == 0 {
			t.Error("the new tasks answered no request during the canary")
		}
		for _, b := range blue {
			if n := answered(results, d.full)[b.name]; n > 0 {
				t.Errorf("%s answered %d requests sent after the full shift", b.name, n)
			}
		}
		t.Logf("good release: %d requests, %d failed; the test rule's request before the shift: %s; the new tasks answered %d during the canary; answers %v",
			len(results), n, d.tested, canaryServed, answered(results, time.Time{}))
	})

	t.Run("bad release", func(t *testing.T) {
		t.Parallel()
		blue, p, l := blueTasks(t, s)
		green := []*instance{badRelease(t, "bad1", s), badRelease(t, "bad2", s)}
		d := canary(t, s, p, l, blue, green)
		results := l.stop()
		if !d.rolledBack {
			t.Fatal("the deployment alarm did not roll back a release that fails every request it gets")
		}
		share, failed, total := failedShare(results, d.shift, d.end)
		if limit := s.canaryPercent + canaryMargin; share > limit {
			t.Errorf("%.2f%% of requests failed from the shift to the rollback (%d of %d), want at most %v%% (canary %v%% + %v)",
				share, failed, total, limit, s.canaryPercent, canaryMargin)
		}
		if share == 0 {
			t.Error("no request failed: the bad release got no traffic")
		}
		t.Logf("bad release, canary: %.2f%% of requests failed (%d of %d) in the %s from the shift to the end of the rollback",
			share, failed, total, d.end.Sub(d.shift).Round(10*time.Millisecond))
	})

	t.Run("control: rolling deploy of the bad release", func(t *testing.T) {
		t.Parallel()
		blue, p, l := blueTasks(t, s)
		green := []*instance{badRelease(t, "bad1", s), badRelease(t, "bad2", s)}
		start, end := rolling(t, s, p, l, blue, green)
		results := l.stop()
		share, failed, total := failedShare(results, start, end)
		// Far more: all of the bad tasks' share once they are healthy, all
		// of the traffic once the old ones are gone.
		if min := 4 * (s.canaryPercent + canaryMargin); share < min {
			t.Errorf("rolling deploy of the bad release: %.2f%% of requests failed (%d of %d), want at least %v%%: the control does not show what the canary saves",
				share, failed, total, min)
		}
		t.Logf("bad release, rolling: %.2f%% of requests failed (%d of %d) in the %s from registration to the end of the rollback",
			share, failed, total, end.Sub(start).Round(10*time.Millisecond))
	})
}

// blueTasks starts the running release: two tasks behind the proxy, under
// load.
func blueTasks(t *testing.T, s settings) ([]*instance, *proxy, *load) {
	t.Helper()
	blue := []*instance{startInstance(t, s, "old1", env(s)), startInstance(t, s, "old2", env(s))}
	p := startProxy(t, s, blue...)
	l := startLoad(t, p.url, s.contract)
	l.waitServed(time.Time{}, 5*time.Second, "old1", "old2")
	return blue, p, l
}

// badRelease is a release that passes its health check and answers 500 to
// every other request, the health check path's included when a client
// rather than the load balancer's checker asks (the probe may be the
// health check path).
func badRelease(t *testing.T, name string, s settings) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var code int
	fmt.Sscan(s.healthCode, &code)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == s.healthPath && r.UserAgent() == healthCheckerAgent {
			w.WriteHeader(code)
			return
		}
		http.Error(w, "broken release", http.StatusInternalServerError)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &instance{t: t, name: name, addr: ln.Addr().String()}
}

// weigh sets the proxy weight of each server. With two tasks in each
// target group, a weight of w on each task of a group is that group's
// weight in the production rule.
func (p *proxy) weigh(servers []*instance, w int) {
	p.t.Helper()
	for _, in := range servers {
		p.mustCommand(fmt.Sprintf("set weight %s/%s %d", backend, in.name, w), "")
	}
}

// deployment is what a canary did, and when.
type deployment struct {
	start, shift, full, end time.Time
	rolledBack              bool
	// tested is the server that answered a request with the test header
	// before the shift, and its status.
	tested string
}

// testRequest sends one request with the test rule's header and returns
// the server that answered and the status.
func (p *proxy) testRequest(s settings) string {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.url+s.contract.ProbePath, nil)
	req.Header.Set(s.testHeader, s.testValue)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("request with %s: %v", s.testHeader, err)
	}
	resp.Body.Close()
	return fmt.Sprintf("%s %d", resp.Header.Get("X-Server"), resp.StatusCode)
}

// canary runs one canary deployment of green beside blue, as ECS does,
// and returns once it has finished or rolled back.
func canary(t *testing.T, s settings, p *proxy, l *load, blue, green []*instance) deployment {
	t.Helper()
	d := deployment{start: time.Now()}
	for _, g := range green {
		p.register(g)
		p.weigh([]*instance{g}, 0)
	}
	for _, g := range green {
		p.waitStatus(g.name, "UP", scaled(s.healthInterval)*time.Duration(2*s.healthyThreshold)+2*time.Second)
	}
	// The test rule reaches the new tasks before any production request.
	for _, g := range green {
		p.mustCommand(fmt.Sprintf("add server %s/%s %s", testBackend, g.name, g.addr), "New server registered.")
		p.mustCommand(fmt.Sprintf("set server %s/%s state ready", testBackend, g.name), "")
	}
	d.tested = p.testRequest(s)
	fired := l.watchAlarm(s, green)
	rollback := func() deployment {
		p.weigh(blue, 100)
		p.weigh(green, 0)
		for _, g := range green {
			p.deregister(g)
		}
		time.Sleep(scaled(s.deregistration))
		d.rolledBack, d.end = true, time.Now()
		return d
	}

	pct := int(s.canaryPercent)
	d.shift = time.Now()
	p.weigh(blue, 100-pct)
	p.weigh(green, pct)
	select {
	case <-fired:
		return rollback()
	case <-time.After(baked(s.canaryBake)):
	}
	p.weigh(green, 100)
	p.weigh(blue, 0)
	// After the weights: a request sent while they change may still go to
	// an old task.
	d.full = time.Now()
	select {
	case <-fired:
		return rollback()
	case <-time.After(baked(s.bake)):
	}
	// The old tasks go as in any deploy.
	retire(p, s, blue)
	afterExit(s)
	d.end = time.Now()
	return d
}

// retire takes old tasks out as ECS does in any deploy: deregistered,
// drained for the deregistration delay, then stopped together.
func retire(p *proxy, s settings, old []*instance) {
	for _, b := range old {
		p.deregister(b)
	}
	time.Sleep(scaled(s.deregistration))
	var wg sync.WaitGroup
	for _, b := range old {
		if b.cmd != nil {
			wg.Go(func() { b.stop(scaled(s.stopTimeout)) })
		}
	}
	wg.Wait()
}

// rolling deploys green as a rolling deployment does (minimum 100 %,
// maximum 200 %): the new tasks register in the one target group and take
// their share once healthy, then the old tasks are stopped; when the alarm
// fires, ECS rolls back by starting tasks of the old release. It returns
// when the new tasks registered and when the rollback ended.
func rolling(t *testing.T, s settings, p *proxy, l *load, blue, green []*instance) (start, end time.Time) {
	t.Helper()
	fired := l.watchAlarm(s, green)
	start = time.Now()
	healthy := scaled(s.healthInterval)*time.Duration(2*s.healthyThreshold) + 2*time.Second
	for _, g := range green {
		p.register(g)
	}
	for _, g := range green {
		p.waitStatus(g.name, "UP", healthy)
	}
	retire(p, s, blue)
	limit := baked(time.Duration(s.alarmPeriods)*s.alarmPeriod+metricDelay) * 4
	select {
	case <-fired:
	case <-time.After(limit):
		t.Fatalf("the deployment alarm did not fire within %s of a release that fails every request", limit)
	}
	back := []*instance{startInstance(t, s, "back1", env(s)), startInstance(t, s, "back2", env(s))}
	for _, b := range back {
		p.register(b)
	}
	for _, b := range back {
		p.waitStatus(b.name, "UP", healthy)
	}
	for _, g := range green {
		p.deregister(g)
	}
	time.Sleep(scaled(s.deregistration))
	return start, time.Now()
}

// watchAlarm plays the deployment alarm of the target group that holds
// servers: every alarm period it takes the 5xx share of the requests those
// servers got, and once alarmPeriods periods in a row are above the
// threshold it waits out the metrics' delay and fires by closing the
// channel.
func (l *load) watchAlarm(s settings, servers []*instance) <-chan struct{} {
	fired := make(chan struct{})
	names := map[string]bool{}
	for _, in := range servers {
		names[in.name] = true
	}
	period := baked(s.alarmPeriod)
	go func() {
		breaching := 0
		for !l.stopping.Load() {
			from := time.Now()
			time.Sleep(period)
			failed, total := 0, 0
			l.mu.Lock()
			for _, r := range l.results {
				if names[r.server] && !r.sent.Before(from) && r.sent.Before(from.Add(period)) {
					total++
					if r.err != "" {
						failed++
					}
				}
			}
			l.mu.Unlock()
			if total > 0 && 100*float64(failed)/float64(total) > s.alarmPercent {
				breaching++
			} else {
				breaching = 0
			}
			if breaching == s.alarmPeriods {
				time.Sleep(baked(metricDelay))
				close(fired)
				return
			}
		}
	}()
	return fired
}

// failedShare is the percentage of the requests sent from from to to that
// failed.
func failedShare(results []result, from, to time.Time) (share float64, failed, total int) {
	for _, r := range results {
		if r.sent.Before(from) || !r.sent.Before(to) {
			continue
		}
		total++
		if r.err != "" {
			failed++
		}
	}
	if total == 0 {
		return 0, 0, 0
	}
	return 100 * float64(failed) / float64(total), failed, total
}
