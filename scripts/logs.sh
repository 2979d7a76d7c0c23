#!/usr/bin/env bash
# logs.sh: follow the service's logs from the log group in cdk-outputs.json,
# with `aws logs tail`, which only version 2 of the AWS CLI has; without it
# or without the outputs, fail in one line.
set -euo pipefail
here=$(dirname "$0")
if ! command -v aws >/dev/null; then
  echo "make logs: needs the AWS CLI version 2 (aws), which is not installed" >&2
  exit 1
fi
version=$(aws --version 2>&1 || true)
if [[ $version != aws-cli/2.* ]]; then
  echo "make logs: needs the AWS CLI version 2 for aws logs tail; found ${version%% *}: install version 2" >&2
  exit 1
fi
group=$("$here/output.sh" LogGroupName)
exec aws logs tail "$group" --follow --since "${SINCE:-10m}"
