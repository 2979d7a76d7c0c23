#!/usr/bin/env bash
# make bench-synth: what `cdk synth` costs per service. Synthesizes, through
# the pinned CLI, a one-bucket CDK Go app (bench/synthbase, the least a CDK
# Go app synthesizes) and this app with 1, 3 and 10 services (the app's own
# and 0, 2 or 9 more from the services key, each built from
# ./bench/baseline, a stdlib-only main package), in rounds that run each
# variant once, in an order that rotates from round to round, so that the
# drift of a shared machine falls on every variant alike. Reports the
# median time of each and the medians of the per-round ratios; the goal:
# 10 services in at most 3 times the time of one.
#
# Then prints where the time goes inside one process (TestSynthProfile in
# stacks: each phase with 1 and 10 services, with and without cdk-nag and
# the built-in validator).
#
# Settings (environment): BENCH_SYNTH_RUNS rounds (5), CDK the CLI
# (.cdk-cli/node_modules/.bin/cdk). One warm-up round is not counted: it
# fills Go's build cache for `go run` and jsii's runtime cache. Takes 4 to
# 10 minutes. Exits 1 if the goal is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_SYNTH_RUNS:-5}
cdk=${CDK:-.cdk-cli/node_modules/.bin/cdk}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# services N: the services key of N-1 services besides the app's own,
# each on its own path and priority.
services() {
	local i sep= out='{'
	for ((i = 1; i < $1; i++)); do
		out+="$sep\"s$i\": {\"package\": \"./bench/baseline\", \"paths\": [\"/s$i\"], \"priority\": $((100 + 2 * i))}"
		sep=', '
	done
	echo "$out}"
}

variants=(bucket 1 3 10)
# synth VARIANT: one cdk synth, into its own output directory; prints the
# seconds it took.
synth() {
	local args=(synth --quiet --output "$tmp/$1")
	if [[ $1 == bucket ]]; then
		args+=(--app 'go run ./bench/synthbase')
	else
		args+=(--context "services=$(services "$1")")
	fi
	local t0=$EPOCHREALTIME
	if ! "$cdk" "${args[@]}" >"$tmp/$1.log" 2>&1; then
		cat "$tmp/$1.log" >&2
		echo "bench: cdk synth ($1) failed" >&2
		exit 1
	fi
	local t1=$EPOCHREALTIME
	rm -rf "${tmp:?}/$1"
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "bench: warm-up, then $runs rounds of ${variants[*]} (rotating order); load average $(load)" >&2
for v in "${variants[@]}"; do synth "$v" >/dev/null; done
declare -A times ratios
for ((r = 0; r < runs; r++)); do
	declare -A round=()
	for ((i = 0; i < ${#variants[@]}; i++)); do
		v=${variants[(i + r) % ${#variants[@]}]}
		round[$v]=$(synth "$v")
		times[$v]+="${round[$v]} "
	done
	for v in bucket 3 10; do
		if [[ $v == bucket ]]; then
			ratios[1/bucket]+="$(ratio "${round[1]}" "${round[bucket]}") "
		else
			ratios[$v/1]+="$(ratio "${round[$v]}" "${round[1]}") "
		fi
	done
	echo "bench: round $((r + 1)): bucket ${round[bucket]} s, 1 service ${round[1]} s, 3 ${round[3]} s, 10 ${round[10]} s; load average $(load)" >&2
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "machine: $(nproc) CPUs ($cpu), $(go env GOVERSION), node $(node --version), cdk $("$cdk" --version | cut -d' ' -f1); load average at the end $(load)"
printf '  %-22s %8s  %s\n' variant median_s "seconds per round"
printf '  %-22s %8s  %s\n' "one-bucket app" "$(median <<<"${times[bucket]}")" "${times[bucket]% }"
for v in 1 3 10; do
	printf '  %-22s %8s  %s\n' "$v service(s)" "$(median <<<"${times[$v]}")" "${times[$v]% }"
done
echo "ratios (median of the per-round ratios; per round):"
for k in 1/bucket 3/1 10/1; do
	printf '  %-22s %8s  %s\n' "$k" "$(median <<<"${ratios[$k]}")" "${ratios[$k]% }"
done
per=$(awk -v a="$(median <<<"${times[10]}")" -v b="$(median <<<"${times[1]}")" 'BEGIN {printf "%.2f", (a - b) / 9}')
echo "  each service beyond the first: $per s (difference of the medians / 9)"

echo "where the time goes, in one process (go test ./stacks -run TestSynthProfile; medians of 3, after a warm-up):"
if ! FARGO_SYNTH_PROFILE=1 go test -count=1 -run '^TestSynthProfile$' -v ./stacks >"$tmp/profile.log" 2>&1; then
	cat "$tmp/profile.log" >&2
	echo "bench: TestSynthProfile failed" >&2
	exit 1
fi
sed -n 's/^ *synthprofile_test.go:[0-9]*: /  /p' "$tmp/profile.log"

goal=$(median <<<"${ratios[10/1]}")
if awk -v g="$goal" 'BEGIN {exit !(g <= 3)}'; then
	echo "goal: 10 services / 1 <= 3: $goal PASS"
else
	echo "goal: 10 services / 1 <= 3: $goal FAIL"
	exit 1
fi
