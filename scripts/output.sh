#!/usr/bin/env bash
# output.sh NAME: print the stack output NAME from the file `make deploy`
# writes (cdk-outputs.json, or $OUTPUTS), or fail in one line.
set -euo pipefail
file=${OUTPUTS:-cdk-outputs.json}
if [[ ! -f $file ]]; then
  echo "no $file: run make deploy first (it writes the stacks' outputs there)" >&2
  exit 1
fi
value=$(node -e '
  const outputs = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const v = Object.values(outputs).map(o => o[process.argv[2]]).find(Boolean);
  if (v) console.log(v);
' "$file" "$1")
if [[ -z $value ]]; then
  echo "no output $1 in $file: deploy all stacks with make deploy, which rewrites it" >&2
  exit 1
fi
echo "$value"
