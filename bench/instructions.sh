#!/bin/sh
# User-space instructions per request of one hello-world server, counted by
# valgrind's callgrind: deterministic, so it still tells a 2% change apart on a
# machine where other work makes wall-clock and CPU-time numbers swing by 20%.
# Kernel time (syscalls, TCP) is not counted: see profile.sh for that.
#
#   sh bench/instructions.sh [tsgi|node-http|fastify|suite-tsgi]     (default tsgi)
#
# Environment: SECONDS_MEASURED (10), WARMUP (10 s, uninstrumented), CONNECTIONS (64), PORT (18600),
# OUT (/tmp/tsgi-callgrind), TOP (40 functions shown), TSGI_ROOT (servers/tsgi.mjs),
# TARGET_PATH (/) and WRK_ARGS (more wrk options), e.g. a chunked 64 KiB POST:
#   TARGET_PATH=/echo WRK_ARGS="-s bench/lib/chunked-post.lua" sh bench/instructions.sh suite-tsgi
#
# Under valgrind the server is ~20x slower, so each wake-up carries more
# requests than at full speed (about 55 instead of about 20 with -c64): costs
# paid once per batch weigh less here than in reality. Compare builds with
# the same settings, not these numbers with perf's.
set -eu
server=${1:-tsgi}
here=$(cd "$(dirname "$0")" && pwd)
W=${SECONDS_MEASURED:-10}
C=${CONNECTIONS:-64}
PORT=${PORT:-18600}
OUT=${OUT:-/tmp/tsgi-callgrind}
TOP=${TOP:-40}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
mkdir -p "$OUT"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
  echo "port $PORT is already in use: set PORT=" >&2; exit 1
fi
rm -f "$OUT"/cg.out*

PORT=$PORT LISTEN="http://127.0.0.1:$PORT" taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file \
  --callgrind-out-file="$OUT/cg.out" node "$here/servers/$server.mjs" >"$OUT/server.log" 2>&1 &
pid=$!
stop() {
  kill -TERM $pid 2>/dev/null || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pid 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL $pid 2>/dev/null || true
}
trap stop EXIT INT TERM
i=0
until curl -sf "http://127.0.0.1:$PORT/" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 300 ] || { echo "server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }
  sleep 0.2
done
echo "instructions: $server under callgrind (pid $pid); warming up the JIT" >&2
URL="http://127.0.0.1:$PORT${TARGET_PATH:-/}"
# shellcheck disable=SC2086 # WRK_ARGS is a list of options
load() { taskset -c 1 wrk -t1 -c"$C" ${WRK_ARGS:-} "$@" "$URL"; }
load -d"${WARMUP:-10}s" >/dev/null
callgrind_control -i on $pid >/dev/null
load -d3s >/dev/null   # instrumented code gets translated
callgrind_control -z $pid >/dev/null
load -d"${W}s" >"$OUT/wrk.txt"
callgrind_control -d $pid >/dev/null
callgrind_control -i off $pid >/dev/null
reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$OUT/wrk.txt")
dump=$(ls -t "$OUT"/cg.out.* | head -1)
total=$(sed -n 's/^summary: *//p' "$dump")
echo "## $server: user-space instructions per request (callgrind)"
echo
echo "$total instructions / $reqs requests = $((total / reqs)) per request"
echo
echo "| instructions/request | inclusive % | function |"
echo "|---:|---:|---|"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null \
  | awk -v r="$reqs" -v top="$TOP" '
      /^-+$/ { dashes++; next }
      dashes >= 4 && /^ *[0-9,]+ \(/ && n < top {
        ir = $1; gsub(/,/, "", ir)
        pct = $0; sub(/^[^(]*\( */, "", pct); sub(/\).*/, "", pct)
        fn = $0; sub(/^ *[0-9,]+ +\([^)]*\) +/, "", fn); sub(/ \[[^]]*\]$/, "", fn); sub(/^[^:]*:/, "", fn)
        fn = substr(fn, 1, 110); gsub(/\|/, "\\|", fn)
        printf "| %d | %s | %s |\n", ir / r, pct, fn; n++
      }'
echo
echo "(callgrind data: $dump; callgrind_annotate --inclusive=yes $dump)" >&2
