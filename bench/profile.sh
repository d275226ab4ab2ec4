#!/bin/sh
# make profile: where one nginx worker's CPU goes serving the raw ASGI hello
# app, per thread (the nginx thread, the Python thread), against nginx's
# `return 200` in the same worker: perf samples under wrk load, put under
# the system call or the shared object they were in (perf_breakdown.py),
# then the system calls per request (strace -c at a light load).
# docs/performance.md keeps a run's figures.
set -eu
. "$(dirname "$0")/common.sh"
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-6}
CONNS=${CONNS:-32}
dir=$(mktemp -d)
cleanup() {
    nginx -p "$dir/" -c nginx.conf -s stop 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/logs"
port=$((21000 + $$ % 1000 * 2))
conf_head "$B" > "$dir/nginx.conf"
cat >> "$dir/nginx.conf" <<CONF
    asgi_python_path $HERE/apps;
    server {
        listen 127.0.0.1:$port;
        location / { asgi_app hello_raw:app; }
    }
    server {
        listen 127.0.0.1:$((port + 1));
        location / { return 200 "Hello, world!\n"; }
    }
}
CONF
nginx -p "$dir/" -c nginx.conf
sleep 1
master=$(cat "$dir/logs/nginx.pid")
worker=$(pgrep -P "$master" | head -1)
python=$(ls "/proc/$worker/task" | grep -v "^$worker\$" | head -1)
curl -sf "http://127.0.0.1:$port/" > /dev/null

for what in python:$port return200:$((port + 1)); do
    name=${what%%:*} p=${what#*:}
    wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$p/" > /dev/null
    perf record -q -F 1999 -g -p "$worker" -o "$dir/$name.data" \
        -- sleep $((DURATION + 1)) > /dev/null 2>&1 &
    rec=$!
    sleep 0.5
    rate=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$p/" \
        | awk '/Requests\/sec/ { print $2 }')
    wait $rec
    echo "== $name: $rate req/s (wrk -t1 -c$CONNS, ${DURATION}s)"
    perf script -i "$dir/$name.data" -F tid,ip,sym,dso 2>/dev/null \
        > "$dir/$name.txt"
    /usr/bin/python3 "$HERE/perf_breakdown.py" "$dir/$name.txt" \
        "$worker=nginx" "$python=python"
done

echo "== system calls per request, python (wrk -t1 -c4, 2 s, under strace)"
timeout 5 strace -c -f -p "$worker" -o "$dir/strace.txt" &
st=$!
sleep 0.5
n=$(wrk -t1 -c4 -d2s "http://127.0.0.1:$port/" \
    | awk '/requests in/ { print $1 }')
wait $st || true
awk -v n="$n" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
    printf "  %-12s %.2f\n", $NF, $4 / n }' "$dir/strace.txt"
