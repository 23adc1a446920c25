#!/bin/sh
# User-space instructions per request of tsgi's hello world on each protocol,
# counted by valgrind's callgrind, as instructions.sh does for HTTP with wrk.
# The load is `tsgi bench` (native/loadgen), which speaks all four protocols:
# the same client for every row, so the rows compare the server's protocol
# paths with each other and one build with another.
#
#   sh bench/instructions-protocols.sh [http uwsgi scgi fastcgi]   (default: all four)
#
# Environment: SECONDS_MEASURED (10), WARMUP (10 s, uninstrumented), CONNECTIONS (64),
# PORT (18610), OUT (/tmp/tsgi-callgrind-protocols), TSGI_ROOT (a checkout or a
# copy of dist/ + build/Release to measure; default this one), SERVER_CPU (0), CLIENT_CPU (1).
# Other workloads: SERVER (a file in servers/, default tsgi-cgi.mjs; suite-tsgi.mjs
# answers the suite's routes), TARGET_PATH (/) and BENCH_ARGS (more `tsgi bench`
# options), e.g. the suite's post64k:
#   SERVER=suite-tsgi.mjs TARGET_PATH=/echo BENCH_ARGS="-m POST --body-file F" sh bench/instructions-protocols.sh uwsgi
# HEADERS_FILE sends each line of a file as a request field (`-H`), e.g. the
# suite's headers20: SERVER=suite-tsgi.mjs HEADERS_FILE=bench/headers20.txt
#
# One line per protocol: "protocol instructions requests instructions/request
# addon-instructions/request", the last counting only code in tsgi.node (the
# core, without V8, libuv and the kernel's share): what a change to native/
# moves, with the JavaScript side's noise left out.
# uwsgi and SCGI carry one request per connection (the loadgen reconnects);
# FastCGI keeps its connections (FCGI_KEEP_CONN), HTTP keeps them alive.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
W=${SECONDS_MEASURED:-10}
C=${CONNECTIONS:-64}
PORT=${PORT:-18610}
OUT=${OUT:-/tmp/tsgi-callgrind-protocols}
S=${SERVER_CPU:-0}
L=${CLIENT_CPU:-1}
protocols=${*:-http uwsgi scgi fastcgi}
SERVER=${SERVER:-tsgi-cgi.mjs}
TARGET_PATH=${TARGET_PATH:-/}
BENCH_ARGS=${BENCH_ARGS:-}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
mkdir -p "$OUT"
# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
bench() { taskset -c "$L" node "$root/bin/tsgi" bench $BENCH_ARGS "$@"; }
if [ -n "${HEADERS_FILE:-}" ]; then
  # Each line one `-H` argument, spaces kept, in order after the call's own
  # (tsgi bench takes options after the target too).
  headers_file=$HEADERS_FILE
  bench() {
    while IFS= read -r line; do if [ -n "$line" ]; then set -- "$@" -H "$line"; fi; done <"$headers_file"
    # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
    taskset -c "$L" node "$root/bin/tsgi" bench $BENCH_ARGS "$@"
  }
fi

pid=
stop() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
}
trap stop EXIT INT TERM

for p in $protocols; do
  target="$p://127.0.0.1:$PORT"
  rm -f "$OUT/$p.cg.out"*
  LISTEN="$target" TSGI_ROOT="${TSGI_ROOT:-$root}" taskset -c "$S" valgrind --tool=callgrind \
    --instr-atstart=no --smc-check=all-non-file --callgrind-out-file="$OUT/$p.cg.out" \
    node "$here/servers/$SERVER" >"$OUT/$p.server.log" 2>&1 &
  pid=$!
  i=0
  until bench -c 1 -n 1 --expect-status 200 --json "$target$TARGET_PATH" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "server did not start:" >&2; cat "$OUT/$p.server.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "instructions: $p under callgrind (pid $pid); warming up the JIT" >&2
  bench -c "$C" -d "${WARMUP:-10}" --json "$target$TARGET_PATH" >/dev/null
  callgrind_control -i on "$pid" >/dev/null
  bench -c "$C" -d 3 --json "$target$TARGET_PATH" >/dev/null   # instrumented code gets translated
  callgrind_control -z "$pid" >/dev/null
  bench -c "$C" -d "$W" --expect-status 200 --json "$target$TARGET_PATH" >"$OUT/$p.bench.json"
  callgrind_control -d "$pid" >/dev/null
  callgrind_control -i off "$pid" >/dev/null
  reqs=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (r.errors.total) { console.error(r.errors); process.exit(1); } console.log(r.requests)' "$OUT/$p.bench.json")
  dump=$(ls -t "$OUT/$p.cg.out".* | head -1)
  total=$(sed -n 's/^summary: *//p' "$dump")
  addon=$(callgrind_annotate --threshold=100 "$dump" 2>/dev/null |
    awk '/tsgi\.node\]$/ { x = $1; gsub(/,/, "", x); s += x } END { printf "%d", s }')
  echo "$p $total $reqs $((total / reqs)) $((addon / reqs))"
  stop
  wait "$pid" 2>/dev/null || true
  pid=
done
