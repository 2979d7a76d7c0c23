#!/usr/bin/env bash
# env.sh TARGET [ENV]: the environment make TARGET acts on, from the
# environments key of cdk.json (or $CDK_JSON): prints its name, the CDK
# CLI's selector of its stacks, its account and its region; the selector is '<env>/*' for an environment in its own
# CDK Stage and --all for the adopted one, whose stacks are the only ones
# at the top of the app (docs/environments.md). Without ENV it is the only
# environment; with several it fails with their list. Without the
# environments key it prints nothing, and the targets act as before.
set -euo pipefail
target=$1 want=${2:-}
node -e '
  const [file, target, want] = process.argv.slice(1);
  const fail = (msg) => { console.error("make " + target + ": " + msg); process.exit(2); };
  const ctx = JSON.parse(require("fs").readFileSync(file, "utf8")).context || {};
  let envs = ctx.environments || {};
  if (typeof envs === "string") envs = JSON.parse(envs);
  const names = Object.keys(envs).sort();
  if (names.length === 0) {
    if (want) fail("ENV=" + want + ", but " + file + " has no environments key: leave ENV out, or add the environment (docs/environments.md)");
    process.exit(0);
  }
  const list = names.join(", ");
  if (!want && names.length > 1) fail("say which environment: ENV=" + names.join(" or ENV=") + " (" + file + " has " + names.length + ": " + list + ")");
  const name = want || names[0];
  if (!names.includes(name)) fail("no environment " + name + " in " + file + "; it has " + list);
  console.log([name, envs[name].adopt === true ? "--all" : name + "/*", envs[name].account, envs[name].region].join(" "));
' "${CDK_JSON:-cdk.json}" "$target" "$want"
