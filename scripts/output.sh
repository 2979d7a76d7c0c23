#!/usr/bin/env bash
# output.sh NAME: print the stack output NAME from the file `make deploy`
# writes (cdk-outputs.json, or $OUTPUTS), or fail in one line. With
# SERVICE=<name> (a key of services) the output comes from that service's
# stack (<appName>-Service-<name>) where it has one, such as ServiceName
# or LogGroupName; without it, never from another service's stack.
set -euo pipefail
file=${OUTPUTS:-cdk-outputs.json}
if [[ ! -f $file ]]; then
  echo "no $file: run make deploy first (it writes the stacks' outputs there)" >&2
  exit 1
fi
value=$(node -e '
  const outputs = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const [name, service] = [process.argv[2], process.argv[3]];
  const stacks = Object.keys(outputs);
  const own = service ? stacks.filter(s => s.endsWith("-Service-" + service)) : [];
  if (service && own.length === 0) { console.error("no stack of service " + service + " in " + process.argv[1] + ": deploy it, or check SERVICE against the services key"); process.exit(2); }
  const shared = stacks.filter(s => !/-Service-[a-z0-9-]+$/.test(s));
  const v = [...own, ...shared].map(s => outputs[s][name]).find(Boolean);
  if (v) console.log(v);
' "$file" "$1" "${SERVICE:-}")
if [[ -z $value ]]; then
  echo "no output $1 in $file${SERVICE:+ for SERVICE=$SERVICE}: deploy all stacks with make deploy, which rewrites it" >&2
  exit 1
fi
echo "$value"
