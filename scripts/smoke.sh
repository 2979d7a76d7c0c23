#!/usr/bin/env bash
# smoke.sh: check the deployed service over HTTP. The health check must
# answer 200, retried for up to SMOKE_WAIT seconds while a fresh deploy warms
# up; then GET SMOKE_PATH must answer 200 with SMOKE_BODY in its body. Stops
# at the first failing check, in one line.
set -euo pipefail
here=$(dirname "$0")
wait_for=${SMOKE_WAIT:-120}
path=${SMOKE_PATH:-/}
body=${SMOKE_BODY:-HELLO WORLD}

health=$("$here/output.sh" HealthCheckUrl)
url=$("$here/output.sh" ServiceUrl)
echo "smoke test of $url"

deadline=$((SECONDS + wait_for))
interval=${SMOKE_INTERVAL:-5}
until status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$health" 2>/dev/null) && [[ $status == 200 ]]; do
  if ((SECONDS >= deadline)); then
    echo "GET $health: ${status:-no answer} after ${wait_for}s, want 200 (make logs shows the service's side)" >&2
    exit 1
  fi
  sleep "$interval"
done
echo "GET $health: ok"

page=$(curl -sS --max-time 10 -w '\n%{http_code}' "$url$path") || { echo "GET $url$path: no answer" >&2; exit 1; }
status=${page##*$'\n'}
if [[ $status != 200 ]] || [[ $page != *"$body"* ]]; then
  echo "GET $url$path: status $status, want 200 with \"$body\" in the body (set SMOKE_PATH and SMOKE_BODY for your app)" >&2
  exit 1
fi
echo "GET $url$path: ok"
