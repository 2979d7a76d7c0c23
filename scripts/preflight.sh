#!/usr/bin/env bash
# preflight.sh CDK [ARGS...]: before `make deploy` changes anything, say
# which account and region the CDK CLI will deploy to, and check that Docker
# can build the image: the Dockerfile needs BuildKit (FROM --platform,
# RUN --mount), and the legacy builder fails on it halfway through a deploy.
set -euo pipefail
cdk=$1
shift

if [[ -n ${FARGO_ENV:-} ]]; then
  # An environment's stacks name their account (FARGO_ACCOUNT, with
  # FARGO_REGION, from its entry in cdk.json), so the CLI needs no
  # credentials to list them: synthesize (a bad setting stops here), then
  # ask AWS whose credentials these are.
  "$cdk" list "$@" >/dev/null
  what="make deploy ENV=$FARGO_ENV: environment $FARGO_ENV deploys to account $FARGO_ACCOUNT, region $FARGO_REGION"
  if ! command -v aws >/dev/null; then
    echo "$what: the AWS CLI (aws) is needed to check the credentials are that account's; install it, then run it again" >&2
    exit 1
  fi
  if ! caller=$(aws sts get-caller-identity --query Account --output text 2>/dev/null); then
    echo "$what: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) to that account's, then run it again" >&2
    exit 1
  fi
  if [[ $caller != "$FARGO_ACCOUNT" ]]; then
    echo "$what, but the credentials are account $caller's: set AWS_PROFILE to account $FARGO_ACCOUNT's, then run it again" >&2
    exit 1
  fi
  echo "$what (its entry in cdk.json's environments chooses them; see docs/environments.md)"
else
  # `cdk list` resolves credentials and the region exactly as `cdk deploy`
  # will, and synthesizes the app, so a bad setting stops here too.
  envs=$("$cdk" list --long --json "$@" | node -e '
    const stacks = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log([...new Set(stacks.map(s => s.environment.account + " " + s.environment.region))].join("\n"));
  ')
  if [[ $envs == *unknown-account* ]]; then
    echo "make deploy: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run it again" >&2
    exit 1
  fi
  while read -r account region; do
    echo "make deploy: AWS account $account, region $region (AWS_REGION, your profile's region or -c region=... choose it; see README, Deploy)"
  done <<<"$envs"
fi

docker=${CDK_DOCKER:-docker}
if ! "$docker" info >/dev/null 2>&1; then
  echo "make deploy: Docker is not running ($docker info failed): start it, or install Docker; cdk deploy builds the image with it" >&2
  exit 1
fi
probe='FROM --platform=$BUILDPLATFORM scratch
LABEL fargo.preflight=buildkit'
if ! image=$(DOCKER_BUILDKIT=1 "$docker" build --platform linux/amd64 --quiet - <<<"$probe" 2>/dev/null); then
  echo "make deploy: Docker cannot build with BuildKit, which the Dockerfile needs: install Docker's buildx plugin (docker-buildx-plugin from Docker's packages, docker-buildx on Debian and Ubuntu) or use Docker Desktop" >&2
  exit 1
fi
"$docker" image rm "$image" >/dev/null 2>&1 || true
