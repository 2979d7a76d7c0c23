#!/usr/bin/env bash
# make bench: holds the service against a bare net/http hello world
# (bench/baseline) under the same load, and checks binary size, idle memory
# and start-up time against the project's goals. Loopback only.
#
# Each server runs with GOMAXPROCS=1 pinned to CPU 0 and wrk is pinned to
# CPU 1, so that the two do not fight over a core. After a warm-up, the
# servers are measured in alternating runs; the report gives medians, and the
# goals use the median of the per-run service/baseline ratios.
#
# Settings (environment): BENCH_DURATION seconds per run (6), BENCH_RUNS (5),
# BENCH_CONNECTIONS (64), BENCH_STARTS start-up samples (11), BENCH_PORT the
# service's loopback port (18080; the baseline takes the next one).
# Then runs serve's soak test (package serve, which runs the service) at its
# full 200,000 requests.
# Takes about 2 minutes with the defaults. Exits 1 if a goal is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-6}
runs=${BENCH_RUNS:-5}
conns=${BENCH_CONNECTIONS:-64}
starts=${BENCH_STARTS:-11}
service_port=${BENCH_PORT:-18080}
baseline_port=$((service_port + 1))

if ! command -v wrk >/dev/null; then
	echo "bench: installing wrk" >&2
	apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
if (($(nproc) < 2)); then
	echo "bench: needs 2 CPUs (one for the server, one for wrk); found $(nproc)" >&2
	exit 1
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# Same flags as the Dockerfile.
for pkg in service bench/baseline; do
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/$(basename "$pkg")" "./$pkg"
done

# healthy PORT PATH: one HTTP/1.0 request through bash's /dev/tcp (no process
# to spawn, so it can poll fast); true if the answer is 200.
healthy() {
	local line
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: bench\r\n\r\n' "$2" >&3
	IFS= read -r -t 2 line <&3 || line=
	exec 3<&-
	[[ $line == "HTTP/1."?" 200 "* ]]
}

wait_healthy() { # PORT PATH
	local i
	for ((i = 0; i < 2000; i++)); do
		healthy "$1" "$2" && return 0
		sleep 0.005
	done
	echo "bench: server on port $1 never became healthy" >&2
	exit 1
}

# start NAME PORT: runs a server on CPU 0 with GOMAXPROCS=1.
start() {
	GOMAXPROCS=1 PORT=$2 DRAIN_DELAY=0s taskset -c 0 "$tmp/$1" >"$tmp/$1.log" 2>&1 &
	pids+=($!)
	eval "${1}_pid=$!"
}

cat >"$tmp/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, summary.requests))
end
EOF

# load URL SECONDS PID: prints "req/s p50_ms p99_ms errors cpu_us_per_request",
# the last from the server's user+system CPU time in /proc/PID/stat: a figure
# that other work on a shared machine disturbs far less than req/s.
load() {
	local before after
	before=$(cpu_ticks "$3")
	timeout $(($2 + 30)) taskset -c 1 wrk -t1 -c"$conns" -d"${2}s" --timeout 2s -s "$tmp/report.lua" "$1" |
		awk '/^RESULT/ {print $2, $3, $4, $5, $6}' | {
		read -r rps p50 p99 errs n
		after=$(cpu_ticks "$3")
		echo "$rps $p50 $p99 $errs $(awk -v t=$((after - before)) -v hz="$clk_tck" -v n="$n" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
	}
}
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

last() { local a=($1); echo "${a[-1]}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

for port in $service_port $baseline_port; do
	if healthy "$port" /; then
		echo "bench: port $port is already in use" >&2
		exit 1
	fi
done
start service $service_port
start baseline $baseline_port
wait_healthy $service_port /healthcheck
wait_healthy $baseline_port /
sleep 0.2
idle_rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$service_pid/status")

targets=(baseline "http://127.0.0.1:$baseline_port/"
	service "http://127.0.0.1:$service_port/"
	health "http://127.0.0.1:$service_port/healthcheck")
declare -A pid_of=([baseline]=$baseline_pid [service]=$service_pid [health]=$service_pid)
echo "bench: warm-up, then $runs x ${duration}s per target, $conns connections, wrk on CPU 1, servers on CPU 0" >&2
for ((t = 0; t < ${#targets[@]}; t += 2)); do load "${targets[t + 1]}" 3 "${pid_of[${targets[t]}]}" >/dev/null; done
declare -A rps p50 p99 cpu
rps_ratios= p99_ratios=
errors=0
for ((r = 1; r <= runs; r++)); do
	order=(0 2 4)
	((r % 2)) || order=(2 0 4) # alternate which of the pair goes first
	for t in "${order[@]}"; do
		name=${targets[t]}
		read -r a b c e u < <(load "${targets[t + 1]}" "$duration" "${pid_of[$name]}")
		echo "bench: run $r $name: $a req/s, p50 $b ms, p99 $c ms, $e errors, $u CPU us/request" >&2
		rps[$name]+="$a "
		p50[$name]+="$b "
		p99[$name]+="$c "
		cpu[$name]+="$u "
		errors=$((errors + e))
	done
	# Ratios per run compare measurements taken seconds apart, which
	# cancels most of the drift of a shared machine.
	rps_ratios+="$(ratio "$(last "${rps[service]}")" "$(last "${rps[baseline]}")") "
	p99_ratios+="$(ratio "$(last "${p99[service]}")" "$(last "${p99[baseline]}")") "
done
loaded_hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$service_pid/status")
kill "$service_pid" "$baseline_pid"
wait "$service_pid" "$baseline_pid" 2>/dev/null || true

# Start-up: from fork to the first 200 from /healthcheck.
start_ms=()
for ((i = 0; i < starts; i++)); do
	t0=$EPOCHREALTIME
	GOMAXPROCS=1 PORT=$service_port DRAIN_DELAY=0s "$tmp/service" >/dev/null 2>&1 &
	pid=$!
	pids+=("$pid")
	deadline=$((${t0%.*} + 5))
	until healthy $service_port /healthcheck; do
		if ((${EPOCHREALTIME%.*} >= deadline)); then
			echo "bench: service not healthy 5 s after start" >&2
			exit 1
		fi
	done
	t1=$EPOCHREALTIME
	start_ms+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) * 1000}')")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
done

binary_bytes=$(stat -c %s "$tmp/service")
for name in baseline service health; do
	rps[$name]=$(median <<<"${rps[$name]}")
	p50[$name]=$(median <<<"${p50[$name]}")
	p99[$name]=$(median <<<"${p99[$name]}")
	cpu[$name]=$(median <<<"${cpu[$name]}")
done
start_median=$(median <<<"${start_ms[*]}")

fail=0
# check NAME VALUE OP GOAL: prints one goal line.
check() {
	local verdict=FAIL
	if [[ $2 =~ ^[0-9.]+$ ]] && awk -v v="$2" -v g="$4" -v op="$3" 'BEGIN {exit !(op == ">=" ? v >= g : v <= g)}'; then
		verdict=PASS
	else
		fail=1
	fi
	printf '  %-34s %10s  goal %s %-6s %s\n' "$1" "$2" "$3" "$4" "$verdict"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "machine: $(nproc) CPUs ($cpu), $(go env GOVERSION), $(wrk --version 2>&1 | awk 'NR == 1 {print $1, $2}')"
echo "load: wrk -t1 -c$conns, ${duration}s x $runs runs (median), servers GOMAXPROCS=1 on CPU 0, wrk on CPU 1"
printf '  %-24s %10s %8s %8s %16s\n' target req/s p50_ms p99_ms CPU_us/request
declare -A label=([baseline]="baseline GET /" [service]="service GET /" [health]="service GET /healthcheck")
for name in baseline service health; do
	printf '  %-24s %10s %8s %8s %16s\n' "${label[$name]}" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" "${cpu[$name]}"
done
echo "  service/baseline per run: req/s ${rps_ratios% }; p99 ${p99_ratios% } (goals use the medians)"
echo "  service/baseline CPU per request: $(ratio "${cpu[service]}" "${cpu[baseline]}")"
echo "  wrk errors over all runs: $errors"
echo "  service peak RSS under load (VmHWM): $(mib "$loaded_hwm_kb") MiB"
echo "  start-up samples (ms): ${start_ms[*]}"
echo "goals:"
check "throughput service/baseline" "$(median <<<"$rps_ratios")" ">=" 0.9
check "p99 latency service/baseline" "$(median <<<"$p99_ratios")" "<=" 1.2
check "idle RSS (MiB)" "$(mib "$idle_rss_kb")" "<=" 15
check "start to healthy, median (ms)" "$start_median" "<=" 50
check "binary size (MiB)" "$(awk -v b="$binary_bytes" 'BEGIN {printf "%.2f", b / 1048576}')" "<=" 10
check "wrk errors" "$errors" "<=" 0

# serve's soak test at full count: memory, descriptors and goroutines must
# come back after 200,000 requests.
echo "soak: go test -run TestSoak ./serve with SOAK_REQUESTS=200000"
if SOAK_REQUESTS=200000 go test -count=1 -run '^TestSoak$' -v ./serve >"$tmp/soak.log" 2>&1; then
	grep -E '^ +load_test' "$tmp/soak.log" | sed 's/^ */  /'
	echo "  soak                                    PASS"
else
	cat "$tmp/soak.log"
	echo "  soak                                    FAIL"
	fail=1
fi

exit $fail
