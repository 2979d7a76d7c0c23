package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// validationFindings reads what aws-cdk-lib's built-in CloudFormation
// validator reported, errors and warnings alike, for a synthesized app.
func validationFindings(t *testing.T, outdir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(outdir, "validation-report.json"))
	if err != nil {
		t.Fatalf("the built-in validator wrote no report (is @aws-cdk/core:validateAgainstDefaultRules on?): %v", err)
	}
	var report struct {
		PluginReports []struct {
			PluginName string `json:"pluginName"`
			Violations []struct {
				RuleName            string `json:"ruleName"`
				Description         string `json:"description"`
				Severity            string `json:"severity"`
				ViolatingConstructs []struct {
					ConstructPath string `json:"constructPath"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatalf("validation-report.json: %v", err)
	}
	var out []string
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			for _, c := range v.ViolatingConstructs {
				out = append(out, fmt.Sprintf("%s %s %s at %s: %s", p.PluginName, v.Severity, v.RuleName, c.ConstructPath, v.Description))
			}
		}
	}
	return out
}

// annotations returns every warning and error CDK attached to the stack:
// `make synth` must print none. (cdk-nag's findings are errors, which also
// land in the validation report and fail synth.)
func annotations(t *testing.T, st awscdk.Stack) []string {
	t.Helper()
	var out []string
	mustNotPanic(t, func() {
		a := assertions.Annotations_FromStack(st)
		any := assertions.Match_AnyValue()
		for _, m := range append(*a.FindError(jsii.String("*"), any), *a.FindWarning(jsii.String("*"), any)...) {
			out = append(out, fmt.Sprintf("%s %s: %v", m.Level, *m.Id, m.Entry.Data))
		}
	})
	return out
}

func TestBuiltInValidatorFindsNothing(t *testing.T) {
	for name := range variants {
		for _, f := range validationFindings(t, variant(t, name).outdir) {
			t.Errorf("%s: %s", name, f)
		}
	}
}

func TestNoWarningsAndCdkNagClean(t *testing.T) {
	for name := range variants {
		for _, st := range variant(t, name).all() {
			for _, a := range annotations(t, st) {
				t.Errorf("%s: %s", name, a)
			}
		}
	}
}

// quietProbe is the context a probe app adds so that the findings it is
// built to have land only in validation-report.json and in the synth
// error, which the probe reads, and not on stderr, where a passing make
// test would print them as ERROR and WARNING lines. In CDK's in-memory
// mode (what it picks itself for JavaScript and Python tests) a failed
// validation throws with the report instead of printing it; a synth that
// passes with warnings prints them unless the app leaves reporting to the
// CLI (failSynthOnValidationErrors false), which the warning probe does.
func quietProbe(failOnErrors bool) map[string]any {
	return map[string]any{
		"@aws-cdk/core:appMode":                     "inmemory",
		"@aws-cdk/core:failSynthOnValidationErrors": failOnErrors,
	}
}

// The two checks above pass only if they can fail: plant a mistake of each
// kind in an app with the same context and see each one report it.
func TestChecksBite(t *testing.T) {
	t.Run("validator warning", func(t *testing.T) {
		app := newApp(t, quietProbe(false))
		st := awscdk.NewStack(app, jsii.String("Probe"), nil)
		vpc := awsec2.NewCfnVPC(st, jsii.String("Vpc"), &awsec2.CfnVPCProps{CidrBlock: jsii.String("10.0.0.0/16")})
		vpc.AddPropertyOverride(jsii.String("InstanceTenancy"), "shared")
		mustNotPanic(t, func() { app.Synth(nil) })
		if f := validationFindings(t, *app.Outdir()); len(f) != 1 || !strings.Contains(f[0], "InstanceTenancy") {
			t.Errorf("findings = %q, want one about InstanceTenancy", f)
		}
	})
	t.Run("validator error", func(t *testing.T) {
		app := newApp(t, quietProbe(true))
		st := awscdk.NewStack(app, jsii.String("Probe"), nil)
		vpc := awsec2.NewCfnVPC(st, jsii.String("Vpc"), &awsec2.CfnVPCProps{CidrBlock: jsii.String("10.0.0.0/16")})
		vpc.AddPropertyOverride(jsii.String("EnableDnsHostnamez"), true)
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "ValidationFailed") || !strings.Contains(fmt.Sprint(r), "EnableDnsHostnamez") {
				t.Errorf("synth with a misspelled property: recovered %v, want a ValidationFailed panic naming EnableDnsHostnamez", r)
			}
		}()
		app.Synth(nil)
	})
	t.Run("cdk-nag", func(t *testing.T) {
		app := newApp(t, quietProbe(true))
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
		st := awscdk.NewStack(app, jsii.String("Probe"), nil)
		awss3.NewBucket(st, jsii.String("Bucket"), nil)
		defer func() {
			r := recover()
			found := strings.Join(validationFindings(t, *app.Outdir()), "\n")
			if r == nil || !strings.Contains(found, "AwsSolutions-S10") {
				t.Errorf("cdk-nag did not stop synth of a bucket without enforceSSL: recovered %v, findings:\n%s", r, found)
			}
		}()
		app.Synth(nil)
	})
}
