#!/usr/bin/env bash
# plan.sh CDK BASE [CDK_ARGS...]: synthesize the app as it is now into
# cdk.out and print the change plan from BASE to it (go run ./cmd/plan).
# BASE is a saved cloud assembly (make deploy keeps the last one it
# deployed in cdk.out.deployed) or a git revision such as main, which is
# synthesized in a temporary worktree with the same CLI and arguments.
# Needs no AWS credentials: without them both sides are synthesized
# environment-agnostic. It exits as the plan command does: 0 when the
# deploy is safe, 1 when one deploy breaks an invariant (the plan prints the
# safe order of deploys or the procedure; docs/plans.md), 2 on a usage or
# input error. PLAN overrides the plan command (for the tests). PLAN_ENV
# names the environment (make plan ENV=...) both sides are read for.
set -euo pipefail
cdk=$1 base=${2:-}
shift 2 || true
plan=${PLAN:-go run ./cmd/plan}
if [[ -z $base ]]; then
  echo "make plan: say what to compare with: BASE=cdk.out.deployed (saved by make deploy) or BASE=main (a git revision)" >&2
  exit 2
fi
cdk=$(realpath "$cdk")
if [[ -f $base/manifest.json ]]; then
  before=$base
elif git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  tmp=$(mktemp -d)
  trap 'git worktree remove --force "$tmp/src" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
  git worktree add --quiet --detach "$tmp/src" "$base"
  echo "synthesizing $base in a temporary worktree" >&2
  # CDK_ARGS describe the change: only the new side gets them.
  (cd "$tmp/src" && "$cdk" synth --quiet --output "$tmp/cdk.out" >&2)
  before=$tmp/cdk.out
else
  echo "make plan: BASE=$base is neither a synthesized cloud assembly (a directory with manifest.json) nor a git revision" >&2
  exit 2
fi
"$cdk" synth --quiet "$@" >&2
if [[ -n ${PLAN_ENV:-} ]]; then
  $plan -env "$PLAN_ENV" "$before" cdk.out
else
  $plan "$before" cdk.out
fi
