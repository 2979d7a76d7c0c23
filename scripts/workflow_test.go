package scripts

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// The jobs of deploy.yml's promotion, in order, and the environment each
// deploys to (synth deploys nothing, but production deploys what it
// wrote).
var (
	promotionChain = []string{"synth", "staging", "production"}
	environmentOf  = map[string]string{"staging": "staging", "production": "production", "deploy": "production"}
)

var (
	// statusFunction is a status check that lets a job or step run after
	// a failure or cancellation of what it needs.
	statusFunction = regexp.MustCompile(`\b(always|cancelled|failure)\s*\(`)
	// pipe is a shell pipe (not ||): GitHub's default bash has no
	// pipefail, so a pipe hides its first command's failure.
	pipe         = regexp.MustCompile(`(^|[^|])\|([^|]|$)`)
	ownRole      = "${{ vars.AWS_ROLE_ARN }}"
	stagingSmoke = regexp.MustCompile(`^make smoke ENV=staging$`)
)

// stepRun is a step's script, or "" for an action.
func stepRun(s *actionlint.Step) string {
	if r, ok := s.Exec.(*actionlint.ExecRun); ok && r.Run != nil {
		return strings.TrimSpace(r.Run.Value)
	}
	return ""
}

// stepUses is a step's action without its pin, or "" for a script.
func stepUses(s *actionlint.Step) (string, *actionlint.ExecAction) {
	if a, ok := s.Exec.(*actionlint.ExecAction); ok && a.Uses != nil {
		uses, _, _ := strings.Cut(a.Uses.Value, "@")
		return uses, a
	}
	return "", nil
}

func input(a *actionlint.ExecAction, name string) (string, bool) {
	if a == nil {
		return "", false
	}
	if in := a.Inputs[name]; in != nil && in.Value != nil {
		return in.Value.Value, true
	}
	return "", false
}

// stepIndex is the index of the first step of job whose script matches
// re, or -1.
func stepIndex(job *actionlint.Job, re *regexp.Regexp) int {
	return slices.IndexFunc(job.Steps, func(s *actionlint.Step) bool { return re.MatchString(stepRun(s)) })
}

// needsAll is every job that id needs, directly or through another.
func needsAll(wf *actionlint.Workflow, id string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		job := wf.Jobs[id]
		if job == nil {
			return
		}
		for _, n := range job.Needs {
			if n := strings.ToLower(n.Value); !seen[n] {
				seen[n] = true
				walk(n)
			}
		}
	}
	walk(id)
	return seen
}

// promotionProblems says why, in the workflow src, production could run
// without staging's deploy and smoke test having succeeded in the same
// run, or with another image or role than its own.
func promotionProblems(src []byte) []string {
	wf, errs := actionlint.Parse(src)
	if len(errs) > 0 {
		return []string{errs[0].Error()}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, id := range promotionChain {
		if wf.Jobs[id] == nil {
			bad("no job %s", id)
		}
	}
	if len(problems) > 0 {
		return problems
	}

	// The order: production after staging, after synth.
	if !needsAll(wf, "production")["staging"] {
		bad("production does not need staging")
	}
	if !needsAll(wf, "staging")["synth"] {
		bad("staging does not need synth")
	}

	// Nothing in the chain runs after a failure, or lets one pass.
	for _, id := range promotionChain {
		job := wf.Jobs[id]
		if job.If != nil && statusFunction.MatchString(job.If.Value) {
			bad("job %s runs if %q: after a failure or cancellation", id, job.If.Value)
		}
		if job.ContinueOnError != nil {
			bad("job %s has continue-on-error", id)
		}
		for _, s := range job.Steps {
			if s.If != nil && statusFunction.MatchString(s.If.Value) {
				bad("job %s: a step runs if %q", id, s.If.Value)
			}
			if s.ContinueOnError != nil {
				bad("job %s: a step has continue-on-error (%s)", id, s.ContinueOnError)
			}
			if id != "synth" && pipe.MatchString(stepRun(s)) {
				bad("job %s: a step pipes, and without pipefail its failure is lost: %q", id, stepRun(s))
			}
		}
	}

	// Staging deploys, smoke-tests, then exports what it ran; production
	// pushes those images, then deploys. None of these steps can be skipped.
	order := func(id string, steps ...*regexp.Regexp) {
		job, last := wf.Jobs[id], -1
		for _, re := range steps {
			i := stepIndex(job, re)
			switch {
			case i < 0:
				bad("job %s has no step %s", id, re)
				return
			case i < last:
				bad("job %s runs %s before the step before it", id, re)
			case job.Steps[i].If != nil:
				bad("job %s: step %s has if: %q, and may be skipped", id, re, job.Steps[i].If.Value)
			}
			last = i
		}
	}
	order("staging", regexp.MustCompile(`^make deploy ENV=staging `), stagingSmoke, regexp.MustCompile(`^go run ./cmd/promote export -assembly "\$ASSEMBLY" -layout verified-images `))
	order("production", regexp.MustCompile(`^go run ./cmd/promote push -assembly "\$ASSEMBLY" -layout verified-images `), regexp.MustCompile(`^make deploy ENV=production `), regexp.MustCompile(`^make smoke ENV=production$`))

	// Each promote step reads its own environment's assembly, as synth
	// found it: pushing from staging's would write to staging's repository.
	for _, id := range []string{"staging", "production"} {
		i := stepIndex(wf.Jobs[id], regexp.MustCompile(`^go run ./cmd/promote `))
		if i < 0 {
			continue // said above
		}
		want := "${{ needs.synth.outputs." + id + "-assembly }}"
		var got string
		if env := wf.Jobs[id].Steps[i].Env; env != nil && env.Vars["assembly"] != nil && env.Vars["assembly"].Value != nil {
			got = env.Vars["assembly"].Value.Value
		}
		if got != want {
			bad("job %s promotes the assembly %q, want %s", id, got, want)
		}
	}
	outputs := wf.Jobs["synth"].Outputs
	for _, id := range []string{"staging", "production"} {
		want := "${{ steps.environments.outputs." + id + "-assembly }}"
		if o := outputs[id+"-assembly"]; o == nil || o.Value == nil || o.Value.Value != want {
			bad("synth's output %s-assembly is not %s", id, want)
		}
	}

	// The artifacts: staging uploads the layout it exported, production
	// downloads it from this run, not another.
	uploaded := slices.ContainsFunc(wf.Jobs["staging"].Steps, func(s *actionlint.Step) bool {
		uses, a := stepUses(s)
		name, _ := input(a, "name")
		path, _ := input(a, "path")
		return uses == "actions/upload-artifact" && name == "verified-images" && strings.TrimSuffix(path, "/") == "verified-images"
	})
	if !uploaded {
		bad("staging does not upload verified-images/ as the artifact verified-images")
	}
	downloaded := false
	for _, s := range wf.Jobs["production"].Steps {
		uses, a := stepUses(s)
		if uses != "actions/download-artifact" {
			continue
		}
		for _, in := range []string{"run-id", "github-token", "repository"} {
			if _, ok := input(a, in); ok {
				bad("production downloads an artifact with %s: from another run", in)
			}
		}
		name, _ := input(a, "name")
		downloaded = downloaded || name == "verified-images"
	}
	if !downloaded {
		bad("production does not download the artifact verified-images")
	}

	// Environments and roles: each deploying job names its environment
	// and assumes the role from that environment's variables; no job
	// without one may get an OIDC token, and no such job uses a cache.
	if wf.Permissions != nil && (wf.Permissions.All != nil || wf.Permissions.Scopes["id-token"] != nil) {
		bad("the workflow's permissions reach id-token beyond the deploying jobs")
	}
	for id, job := range wf.Jobs {
		env := ""
		if job.Environment != nil && job.Environment.Name != nil {
			env = job.Environment.Name.Value
		}
		if want, deploys := environmentOf[id]; deploys && env != want {
			bad("job %s's environment is %q, want %q", id, env, want)
		}
		token := job.Permissions != nil && (job.Permissions.All != nil || job.Permissions.Scopes["id-token"] != nil)
		if token && env == "" {
			bad("job %s gets an OIDC token without an environment", id)
		}
		roles := 0
		for _, s := range job.Steps {
			uses, a := stepUses(s)
			switch uses {
			case "aws-actions/configure-aws-credentials":
				roles++
				if role, _ := input(a, "role-to-assume"); role != ownRole || env == "" {
					bad("job %s assumes %q in environment %q, want %s from its own environment", id, role, env, ownRole)
				}
			case "actions/cache", "actions/cache/restore":
				bad("job %s uses a cache", id)
			case "actions/setup-go":
				if v, _ := input(a, "cache"); v != "false" && (token || id == "synth") {
					bad("job %s: setup-go caches (cache: %q)", id, v)
				}
			case "actions/setup-node":
				_, cache := input(a, "cache")
				if v, _ := input(a, "package-manager-cache"); (cache || v != "false") && (token || id == "synth") {
					bad("job %s: setup-node caches", id)
				}
			}
		}
		if _, deploys := environmentOf[id]; deploys && (roles != 1 || !token) {
			bad("job %s assumes %d roles with id-token %v, want its own environment's, once", id, roles, token)
		}
	}
	return problems
}

// TestPromotionWaitsForStaging proves, from deploy.yml as GitHub reads it,
// that the production job runs only after the staging job deployed and
// smoke-tested staging in the same run, with the images staging exported
// and the role of its own environment; each property is then broken in a
// copy, which must be refused.
func TestPromotionWaitsForStaging(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", "deploy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range promotionProblems(src) {
		t.Error("deploy.yml: " + p)
	}

	mutations := []struct {
		name, old, new, want string
	}{
		{"production does not need staging", "needs: [synth, staging]", "needs: [synth]", "production does not need staging"},
		{"production runs after a failure", "needs: [synth, staging]\n    if: needs.synth.outputs.promote == 'true'", "needs: [synth, staging]\n    if: always() && needs.synth.outputs.promote == 'true'", "runs if"},
		{"production runs unless cancelled", "needs: [synth, staging]\n    if: needs.synth.outputs.promote == 'true'", "needs: [synth, staging]\n    if: ${{ !cancelled() }}", "runs if"},
		{"staging's job lets a failure pass", "    environment: staging\n", "    environment: staging\n    continue-on-error: true\n", "job staging has continue-on-error"},
		{"the smoke step lets a failure pass", "      - run: make smoke ENV=staging\n", "      - run: make smoke ENV=staging\n        continue-on-error: true\n", "a step has continue-on-error"},
		{"the smoke step may be skipped", "      - run: make smoke ENV=staging\n", "      - run: make smoke ENV=staging\n        if: github.event_name == 'push'\n", "may be skipped"},
		{"the smoke step runs after a failure", "      - run: make smoke ENV=staging\n", "      - run: make smoke ENV=staging\n        if: failure()\n", "a step runs if"},
		{"no smoke test", "      - run: make smoke ENV=staging\n", "", "has no step"},
		{"the smoke test before the deploy", "      - run: make deploy ENV=staging CDK_ARGS=\"--app cdk.out --require-approval never\"\n\n      - run: make smoke ENV=staging\n", "      - run: make smoke ENV=staging\n\n      - run: make deploy ENV=staging CDK_ARGS=\"--app cdk.out --require-approval never\"\n", "before the step before it"},
		{"production deploys before the push", "      - name: Promote the verified images\n", "      - run: make deploy ENV=production CDK_ARGS=\"--app cdk.out --require-approval never\"\n      - name: Promote the verified images\n", "before the step before it"},
		{"production pushes from staging's assembly", "          ASSEMBLY: ${{ needs.synth.outputs.production-assembly }}", "          ASSEMBLY: ${{ needs.synth.outputs.staging-assembly }}", "job production promotes the assembly"},
		{"production's artifact from another run", "          name: verified-images\n          path: verified-images\n", "          name: verified-images\n          path: verified-images\n          run-id: ${{ github.event.workflow_run.id }}\n", "from another run"},
		{"a pipe hides the push's failure", " -layout verified-images > promoted.txt\n          cat promoted.txt\n          cat promoted.txt >> \"$GITHUB_STEP_SUMMARY\"\n\n      - run: make deploy ENV=production", " -layout verified-images | tee promoted.txt\n\n      - run: make deploy ENV=production", "pipes"},
		{"production in staging's environment", "    environment: production\n    # One production deploy", "    environment: staging\n    # One production deploy", "production's environment is \"staging\""},
		{"staging in production's environment", "    environment: staging\n", "    environment: production\n", "staging's environment is \"production\""},
		{"staging assumes a fixed role", "          role-to-assume: ${{ vars.AWS_ROLE_ARN }}\n          aws-region: ${{ vars.AWS_REGION }}\n          role-session-name: fargo-staging-", "          role-to-assume: ${{ vars.PRODUCTION_ROLE_ARN }}\n          aws-region: ${{ vars.AWS_REGION }}\n          role-session-name: fargo-staging-", "job staging assumes"},
		{"the OIDC token for every job", "permissions:\n  contents: read\n\n# No workflow-wide", "permissions:\n  contents: read\n  id-token: write\n\n# No workflow-wide", "id-token beyond the deploying jobs"},
		{"synth caches", "      # poisoned cache would reach it.\n      - uses: actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e # v7.0.0\n        with:\n          go-version: ${{ steps.versions.outputs.go }}\n          cache: false", "      # poisoned cache would reach it.\n      - uses: actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e # v7.0.0\n        with:\n          go-version: ${{ steps.versions.outputs.go }}\n          cache: true", "setup-go caches"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			if strings.Count(string(src), m.old) != 1 {
				t.Fatalf("the mutation's text is not in deploy.yml exactly once: %q", m.old)
			}
			mutated := strings.Replace(string(src), m.old, m.new, 1)
			problems := promotionProblems([]byte(mutated))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, m.want) }) {
				t.Errorf("not refused (want a problem containing %q); problems: %q", m.want, problems)
			}
		})
	}
}
