#!/usr/bin/env bash
# ecs-service-linked-role.sh: create ECS's service-linked role, which a
# brand-new account lacks until its first cluster; without it CloudFormation
# can fail the first cluster with "Unable to assume the service linked
# role". An existing role is fine.
set -euo pipefail
if ! command -v aws >/dev/null; then
  echo "make bootstrap: the AWS CLI (aws) is needed to create ECS's service-linked role: install it, or run once: aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com" >&2
  exit 1
fi
if out=$(aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com 2>&1); then
  echo "ECS service-linked role: created"
elif [[ $out == *"has been taken in this account"* ]]; then
  echo "ECS service-linked role: already there"
else
  echo "$out" >&2
  exit 1
fi
