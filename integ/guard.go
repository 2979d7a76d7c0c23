package integ

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Guard makes sure a test's app is torn down whatever happens to the test.
// Call it before creating anything. It registers teardown with tb.Cleanup,
// which runs when the test passes, fails (t.Fatal included) or panics, and
// turns the first SIGINT or SIGTERM into the cancellation of the returned
// context, so that the checks stop and the teardown runs instead of the
// process dying. Later signals are reported and ignored until the teardown
// ends. The teardown gets a fresh context of its own, with timeout.
//
// Only SIGKILL, or `go test -timeout` (which aborts without cleanups: leave
// the teardown time inside it), can stop a teardown; then
// `make integ-clean APP=<app>` finishes the job.
func Guard(tb testing.TB, app string, teardown func(context.Context) error, timeout time.Duration) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case s := <-signals:
				if ctx.Err() == nil {
					tb.Logf("%v: stopping the checks and tearing down %s", s, app)
					cancel()
				} else {
					tb.Logf("%v: still tearing down %s; stopping now would leave resources behind (make integ-clean APP=%s removes them)", s, app, app)
				}
			case <-done:
				return
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		tctx, tcancel := context.WithTimeout(context.Background(), timeout)
		defer tcancel()
		start := time.Now()
		if err := teardown(tctx); err != nil {
			tb.Errorf("teardown of %s: %v\nremove what is left with: make integ-clean APP=%s", app, err, app)
		} else {
			tb.Logf("teardown of %s: done in %s", app, time.Since(start).Round(time.Second))
		}
		signal.Stop(signals)
		close(done)
		<-exited // no logging after the test has ended
	})
	return ctx
}
