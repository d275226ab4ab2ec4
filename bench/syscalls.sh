#!/bin/sh
# make bench-syscalls: system calls and context switches per request of
# the serving process (all its threads; perf's syscall tracepoints), for
# nginx's `return 200`, the module (native inline, raw ASGI, Starlette)
# and uvicorn (httptools, uvloop) serving the same apps, at wrk -t1 -c32.
# The kernel's share of a request that bench/instructions.sh leaves out,
# counted rather than timed: a futex call is a lock the two threads of
# the worker contended for, an eventfd write a thread woken.
# Usage: bench/syscalls.sh BUILD_DIR; ONLY=REGEX picks rows; needs root
# (or perf_event_paranoid -1) for the tracepoints.
set -eu
. "$(dirname "$0")/common.sh"
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
DURATION=${DURATION:-3}
CONNS=${CONNS:-32}
dir=$(mktemp -d)
srv=""
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/logs"
port=$((24000 + $$ % 1000 * 2))

counting_conf "$B" "$port" "$HERE/apps" > "$dir/nginx.conf"

events=syscalls:sys_enter_futex,syscalls:sys_enter_write,syscalls:sys_enter_read
events=$events,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_writev
events=$events,syscalls:sys_enter_recvfrom,context-switches
perf stat -e "$events" true > /dev/null 2>&1 || {
    echo "perf cannot read the syscall tracepoints here (root needed)"
    exit 1
}

# count LABEL URL PID: warm up, then perf stat on PID's threads during a
# wrk run; prints each event per request
count() {
    wrk -t1 -c"$CONNS" -d1s "$2" > /dev/null
    perf stat -e "$events" -p "$3" -o "$dir/perf.txt" \
        -- sleep $((DURATION + 1)) &
    p=$!
    sleep 0.3
    n=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "$2" |
        awk '/requests in/ { print $1 }')
    wait "$p"
    awk -v l="$1" -v n="$n" '
        $1 ~ /^[0-9,]+$/ {
            x = $1; gsub(/,/, "", x); e = $2; sub(/^syscalls:sys_enter_/, "", e)
            s = s sprintf(" %s %.3f", e, x / n)
        }
        END { printf "  %-28s%s\n", l, s }' "$dir/perf.txt"
}
want() { [ -z "${ONLY:-}" ] || echo "$1" | grep -Eq "$ONLY"; }

echo "perf stat, wrk -t1 -c$CONNS -d${DURATION}s; per request, all the" \
     "server's threads:"
nginx -p "$dir/" -c nginx.conf > "$dir/server.log" 2>&1 &
srv=$!
for path in /raw/x /star/x; do
    await_answer "http://127.0.0.1:$port$path" "$srv" "$dir/server.log"
done
for row in nginx_return_200:/return200 module_native_inline:/inline/x \
    module_raw:/raw/x module_starlette:/star/x; do
    want "${row%%:*}" &&
        count "${row%%:*}" "http://127.0.0.1:$port${row#*:}" "$srv"
done
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""

for row in uvicorn_httptools_raw:hello_raw uvicorn_httptools_starlette:hello_star; do
    want "${row%%:*}" || continue
    "$PY" -m uvicorn --app-dir "$HERE/apps" --loop uvloop --http httptools \
        --no-access-log --log-level warning --port $((port + 1)) \
        "${row#*:}:app" > "$dir/server.log" 2>&1 &
    srv=$!
    await_answer "http://127.0.0.1:$((port + 1))/x" "$srv" "$dir/server.log"
    count "${row%%:*}" "http://127.0.0.1:$((port + 1))/x" "$srv"
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
done
