package stacks

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// benchServices is the services key of bench/synth.sh: n-1 services
// besides the app's own, each built from ./bench/baseline.
func benchServices(n int) string {
	out, sep := "{", ""
	for i := 1; i < n; i++ {
		out += fmt.Sprintf(`%s"s%d": {"package": "./bench/baseline", "paths": ["/s%d"], "priority": %d}`, sep, i, i, 100+2*i)
		sep = ", "
	}
	return out + "}"
}

// TestSynthProfile is where synth's time goes, for make bench-synth
// (bench/synth.sh sets FARGO_SYNTH_PROFILE): the app with 1 and 10
// services, in one process after a warm-up, each phase timed, with and
// without cdk-nag's checks and the built-in validator; medians of 3.
// Without FARGO_SYNTH_PROFILE it is skipped: it measures, it checks
// nothing but that each variant synthesizes.
func TestSynthProfile(t *testing.T) {
	if os.Getenv("FARGO_SYNTH_PROFILE") == "" {
		t.Skip("a measurement for make bench-synth")
	}
	type phases struct{ images, constructs, synth time.Duration }
	run := func(n int, nag, validate bool) phases {
		ctx := cdkContext(t)
		maps.Copy(ctx, testContext(t))
		ctx["services"] = benchServices(n)
		cfg, err := loadConfig(ctx, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		var p phases
		mustNotPanic(t, func() {
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir()), BuiltinCloudFormationValidation: jsii.Bool(validate)})
			t0 := time.Now()
			images, err := NewImages(repoRoot, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			build(app, cfg, images, nag)
			t2 := time.Now()
			app.Synth(nil)
			p = phases{t1.Sub(t0), t2.Sub(t1), time.Since(t2)}
		})
		return p
	}
	// The first synth of a process pays for Node, the library's load, the
	// Spot fallback's go build and the validator's start.
	first := run(1, true, true)
	t.Logf("first synth of the process (1 service): images %v, constructs %v, synth %v", first.images.Round(time.Millisecond), first.constructs.Round(time.Millisecond), first.synth.Round(time.Millisecond))
	median := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	t.Logf("%-8s %-5s %-8s %10s %12s %10s %10s", "services", "nag", "validate", "images", "constructs", "synth", "total")
	for _, n := range []int{1, 10} {
		for _, v := range []struct{ nag, validate bool }{{true, true}, {false, true}, {true, false}, {false, false}} {
			var images, constructs, synth, total []time.Duration
			for range 3 {
				p := run(n, v.nag, v.validate)
				images, constructs, synth = append(images, p.images), append(constructs, p.constructs), append(synth, p.synth)
				total = append(total, p.images+p.constructs+p.synth)
			}
			t.Logf("%-8d %-5v %-8v %10v %12v %10v %10v", n, v.nag, v.validate,
				median(images).Round(time.Millisecond), median(constructs).Round(time.Millisecond), median(synth).Round(time.Millisecond), median(total).Round(time.Millisecond))
		}
	}
}
