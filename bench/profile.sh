#!/bin/sh
# Profiles one hello-world server under wrk load: syscalls per request
# (perf stat on syscall tracepoints) and where the CPU goes (perf record,
# grouped by bench/perf-breakdown.mjs). Linux, root (or perf_event_paranoid <= 1).
#
#   sh bench/profile.sh [tsgi|node-http|fastify]      (default tsgi)
#
# Environment: SECONDS_MEASURED (8), CONNECTIONS (64), SERVER_CPU (0), WRK_CPU (1),
# PORT (18400), OUT (/tmp/tsgi-profile), TSGI_ROOT (see servers/tsgi.mjs),
# NODE_FLAGS (extra node flags, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
set -eu
server=${1:-tsgi}
here=$(cd "$(dirname "$0")" && pwd)
W=${SECONDS_MEASURED:-8}
C=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
PORT=${PORT:-18400}
OUT=${OUT:-/tmp/tsgi-profile}
mkdir -p "$OUT"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
  echo "port $PORT is already in use: set PORT=" >&2; exit 1
fi
command -v perf >/dev/null || { echo "perf is missing: apt-get install -y linux-perf" >&2; exit 1; }

PORT=$PORT taskset -c "$SERVER_CPU" node --perf-basic-prof ${NODE_FLAGS:-} "$here/servers/$server.mjs" >"$OUT/server.log" 2>&1 &
pid=$!
stop() {
  kill -TERM $pid 2>/dev/null || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pid 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL $pid 2>/dev/null || true
}
trap stop EXIT INT TERM
i=0
until curl -sf "http://127.0.0.1:$PORT/" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "profile: $server pid $pid; warming up" >&2
taskset -c "$WRK_CPU" wrk -t1 -c"$C" -d3s "http://127.0.0.1:$PORT/" >/dev/null

rps_of() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }

# 1. Syscalls per request.
taskset -c "$WRK_CPU" wrk -t1 -c"$C" -d$((W + 2))s "http://127.0.0.1:$PORT/" >"$OUT/wrk-stat.txt" &
wrk=$!
sleep 1
events=""
for s in read recvfrom readv sendmsg sendto writev write epoll_wait epoll_pwait epoll_ctl futex getpid; do
  events="${events}syscalls:sys_enter_$s,"
done
perf stat -x, -e "${events}raw_syscalls:sys_enter" -p $pid -- sleep "$W" 2>"$OUT/syscalls.csv" || true
wait $wrk
rps=$(rps_of "$OUT/wrk-stat.txt")
reqs=$(node -e "console.log(Math.round($rps * $W))")
echo "## $server: syscalls per request ($rps req/s, ~$reqs requests in ${W}s)"
echo
echo "| syscall | count | per request |"
echo "|---|---:|---:|"
awk -F, -v r="$reqs" '$1 ~ /^[0-9]+$/ && $1 > 0 { n = $3; sub(/^syscalls:sys_enter_/, "", n); sub(/^raw_syscalls:sys_enter/, "all", n); printf "| %s | %d | %.3f |\n", n, $1, $1 / r }' "$OUT/syscalls.csv"
echo

# 2. CPU profile.
taskset -c "$WRK_CPU" wrk -t1 -c"$C" -d$((W + 2))s "http://127.0.0.1:$PORT/" >"$OUT/wrk-rec.txt" &
wrk=$!
sleep 1
cpu0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
perf record -e cpu-clock -F 1999 -g -p $pid -o "$OUT/perf.data" -- sleep "$W" 2>/dev/null >/dev/null || true
cpu1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
wait $wrk
rps=$(rps_of "$OUT/wrk-rec.txt")
reqs=$(node -e "console.log(Math.round($rps * $W))")
tck=$(getconf CLK_TCK)
echo "## $server: CPU profile ($rps req/s, ~$reqs requests in ${W}s, server CPU $(node -e "console.log(((($cpu1 - $cpu0) / $tck) / $W * 100).toFixed(0))")% of a core)"
echo
perf script -i "$OUT/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$OUT/perf.txt"
node "$here/perf-breakdown.mjs" "$OUT/perf.txt" "$reqs"
echo
echo "(raw data in $OUT: perf.data, perf.txt; perf report -i $OUT/perf.data --no-children)" >&2
