#!/usr/bin/env bash
# live-rule.sh: read the service's production listener rule as the load
# balancer has it now, and say whether it is the template's (a forward to
# the primary target group only). After a canary, linear or blue/green
# deploy ECS has rewritten it into a weighted forward over both target
# groups (go-to-k/cdk-real-drift#1730), and which one holds the weight is
# known only here. Before a change that updates the rule or removes the
# alternate group (leaving a native strategy; make plan says which), it must
# be the template's again (docs/deploy-strategies.md). With FIX=1 and all
# the weight on the primary group, it writes the template's action back,
# which moves no request. Exits 0 when the rule is the template's (or FIX=1
# made it so), 1 otherwise. SERVICE=<name> reads that service's rule.
set -euo pipefail
here=$(dirname "$0")
if ! command -v aws >/dev/null; then
  echo "make live-rule: needs the AWS CLI (aws), which is not installed" >&2
  exit 1
fi
# The app's own service's stack, or with SERVICE=<name> that service's.
stack=$(node -e '
  const outputs = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const service = process.argv[2];
  const s = Object.keys(outputs).find(k => outputs[k].ServiceName &&
    (service ? k.endsWith("-Service-" + service) : !/-Service-[a-z0-9-]+$/.test(k)));
  if (s) console.log(s);
' "${OUTPUTS:-cdk-outputs.json}" "${SERVICE:-}" 2>/dev/null || true)
if [[ -z $stack ]]; then
  "$here/output.sh" ServiceName >/dev/null # says why
  exit 1
fi
# The logical ids start with the construct ids (ProductionRule, TargetGroup).
read -r rule primary < <(aws cloudformation describe-stack-resources --stack-name "$stack" --output json | node -e '
  const rs = JSON.parse(require("fs").readFileSync(0, "utf8")).StackResources;
  const id = re => (rs.find(r => re.test(r.LogicalResourceId)) || {}).PhysicalResourceId || "";
  console.log(id(/^ProductionRule[0-9A-F]{8}$/), id(/^TargetGroup[0-9A-F]{8}$/));
')
if [[ -z $rule || -z $primary ]]; then
  echo "make live-rule: $stack has no ProductionRule or TargetGroup resource" >&2
  exit 1
fi
# One line per group the rule forwards to: ARN and weight.
groups=$(aws elbv2 describe-rules --rule-arns "$rule" --output json | node -e '
  const rule = JSON.parse(require("fs").readFileSync(0, "utf8")).Rules[0];
  for (const a of rule.Actions.filter(a => a.Type === "forward")) {
    const tgs = (a.ForwardConfig && a.ForwardConfig.TargetGroups) || [{TargetGroupArn: a.TargetGroupArn, Weight: 1}];
    for (const g of tgs) console.log(g.TargetGroupArn, g.Weight === undefined ? 1 : g.Weight);
  }
')
echo "make live-rule: $rule forwards to:"
sed 's/^/  /; s/ \([0-9]*\)$/ weight \1/' <<<"$groups"
others=$(awk -v p="$primary" '$1 != p' <<<"$groups")
if [[ -z $others ]]; then
  echo "make live-rule: the rule is the template's (the primary group $primary only)"
  exit 0
fi
if awk -v p="$primary" '$1 != p && $2 > 0 { found = 1 } END { exit !found }' <<<"$groups"; then
  echo "make live-rule: the weight is on another group than the primary one: deploy one more release with the strategy unchanged (aws ecs update-service --force-new-deployment), which moves it to the primary group, then run make live-rule again" >&2
  exit 1
fi
if [[ ${FIX:-} != 1 ]]; then
  echo "make live-rule: all the weight is on the primary group, but the rule still names another: make live-rule FIX=1 writes the template's action back (it moves no request)" >&2
  exit 1
fi
aws elbv2 modify-rule --rule-arn "$rule" --actions "Type=forward,TargetGroupArn=$primary" >/dev/null
echo "make live-rule: wrote the template's action back: forward to $primary only"
