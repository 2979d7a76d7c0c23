#!/usr/bin/env bash
# smoke.sh: check the deployed service over HTTP. The health check must
# answer 200, retried for up to SMOKE_WAIT seconds while a fresh deploy warms
# up; then GET the probe must answer its status with its body text in the
# answer: probePath, probeStatus and probeBody from cdk.json (without them,
# the health check path answering 200), as
# stacks/testdata/deployment/contract.json holds them (make snapshots), or
# SMOKE_PATH, SMOKE_STATUS and SMOKE_BODY for one run. Stops at the first
# failing check, in one line.
set -euo pipefail
here=$(dirname "$0")
wait_for=${SMOKE_WAIT:-120}
contract=${CONTRACT:-$here/../stacks/testdata/deployment/contract.json}
if [[ ! -f $contract ]]; then
  echo "no $contract: run make snapshots (it writes what the app must answer)" >&2
  exit 1
fi
probe() {
  node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(c[process.argv[2]] ?? "")' "$contract" "$1"
}
path=${SMOKE_PATH:-$(probe probePath)}
want=${SMOKE_STATUS:-$(probe probeStatus)}
body=${SMOKE_BODY-$(probe probeBody)}

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
page=${page%$'\n'*}
if [[ $status != "$want" ]] || [[ $page != *"$body"* ]]; then
  excerpt=$(printf '%s' "$page" | tr -s '\n\t' '  ' | sed 's/ *$//' | cut -c1-120)
  wanted="want $want"
  [[ -z $body ]] || wanted+=" with \"$body\" in the body"
  echo "GET $url$path: status $status, body \"$excerpt\"; $wanted (probePath, probeStatus and probeBody in cdk.json, or SMOKE_PATH, SMOKE_STATUS and SMOKE_BODY)" >&2
  exit 1
fi
echo "GET $url$path: ok"
