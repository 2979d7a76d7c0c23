package stacks

import (
	"slices"
	"testing"

	"github.com/fargo-cdk/fargo/integ"
)

// The integration test makes its own app names and derives the stack names
// from them; both must agree with what the stacks accept and produce.

func TestIntegAppNamesAreValidAppNames(t *testing.T) {
	ctx := cdkContext(t)
	for range 200 {
		name, err := integ.NewAppName(nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx["appName"] = name
		if _, err := loadConfig(ctx, noEnv); err != nil {
			t.Fatalf("integ.NewAppName gave %q: %v", name, err)
		}
	}
}

func TestIntegStackNamesAreTheStacks(t *testing.T) {
	var got []string
	for _, st := range defaults(t).all() {
		got = append(got, *st.StackName())
	}
	if want := integ.StackNames("fargo"); !slices.Equal(got, want) {
		t.Errorf("stack names %v, integ expects %v", got, want)
	}
}
