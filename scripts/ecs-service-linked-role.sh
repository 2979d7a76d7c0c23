#!/usr/bin/env bash
# ecs-service-linked-role.sh: create the service-linked roles that a
# brand-new account lacks until it first uses the service, and that the
# stacks need on their first deploy; an existing role is fine.
#   - ECS's (AWSServiceRoleForECS): without it CloudFormation can fail the
#     first cluster with "Unable to assume the service linked role".
#   - Application Auto Scaling's for ECS
#     (AWSServiceRoleForApplicationAutoScaling_ECSService): the scalable
#     target names it, and CloudFormation does not create it
#     (aws/aws-cdk#4108).
set -euo pipefail
roles=(
  "ECS:ecs.amazonaws.com"
  "Application Auto Scaling (ECS):ecs.application-autoscaling.amazonaws.com"
)
if ! command -v aws >/dev/null; then
  echo "make bootstrap: the AWS CLI (aws) is needed to create the service-linked roles: install it, or run once: aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com; aws iam create-service-linked-role --aws-service-name ecs.application-autoscaling.amazonaws.com" >&2
  exit 1
fi
for role in "${roles[@]}"; do
  label=${role%%:*} service=${role#*:}
  if out=$(aws iam create-service-linked-role --aws-service-name "$service" 2>&1); then
    echo "$label service-linked role: created"
  elif [[ $out == *"has been taken in this account"* ]]; then
    echo "$label service-linked role: already there"
  else
    echo "$out" >&2
    exit 1
  fi
done
