#!/bin/sh
# make bench (WebSocket part): the raw ASGI echo app of bench/apps/ws_echo.py
# served by the module (one nginx worker) and by uvicorn with Debian's
# python3-websockets (one process, uvloop), in the same run, interleaved
# rounds, medians and ratios:
#   - echo round trip of a 64-byte message, p50/p99 (one connection),
#     2 x ROUNDS back-to-back pairs of LAT_COUNT round trips;
#   - echoed messages/s, 64 B (16 connections x 8 in flight) and 64 KiB
#     (4 connections x 2 in flight);
#   - memory per idle WebSocket: the server's RSS with 10,000 open, minus
#     its RSS before; for nginx, also 10,000 idle keep-alive HTTP
#     connections, to tell the module's share from nginx's own.
# The load generator is bench/ws_load.c. Writes $B/bench/websocket.tsv.
set -eu
. "$(dirname "$0")/common.sh"
B=${1:-build}
B=$(cd "$B" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-3}
IDLE=${IDLE:-10000}
LAT_COUNT=${LAT_COUNT:-10000}
LOAD=$B/bench/ws_load
dir=$(mktemp -d)
pids=""
cleanup() {
    nginx -p "$dir/" -c nginx.conf -s stop 2>/dev/null || true
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/logs" "$B/bench"
# the idle connections need as many descriptors, on both ends
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=65536
[ "$nofile" -gt 65536 ] && nofile=65536
ulimit -n "$nofile"
[ "$nofile" -gt $((IDLE + 1000)) ] || {
    echo "ulimit -Hn is $nofile: too few for IDLE=$IDLE connections"; exit 1; }
base=$((21000 + $$ % 1000 * 10))
port=$base
uport=$((base + 1))

$PY -m uvicorn --app-dir "$HERE/apps" --loop uvloop --ws websockets \
    --no-access-log --log-level warning --port "$uport" ws_echo:app \
    > "$dir/logs/uvicorn.log" 2>&1 &
upid=$!
pids="$upid"

conf_head "$B" | sed "s/worker_connections 4096;/worker_connections $nofile;/; s/^events/worker_rlimit_nofile $nofile;\nevents/" \
    > "$dir/nginx.conf"
cat >> "$dir/nginx.conf" <<CONF
    asgi_python_path $HERE/apps;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = /return200 { return 200 "Hello, world!\n"; }
        location /ws/ { asgi_app ws_echo:app; }
        # nginx's own WebSocket: proxied to uvicorn
        location /proxy-ws/ {
            proxy_pass http://127.0.0.1:$uport;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection upgrade;
            proxy_read_timeout 1h;
        }
    }
}
CONF
nginx -p "$dir/" -c nginx.conf

# both servers echo before anything is measured
ready() {
    i=0
    until "$LOAD" "$1" /ws/x latency 8 10 > /dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "no echo on port $1"; cat "$dir"/logs/*; exit 1; }
        sleep 0.1
    done
}
ready "$port"
ready "$uport"

out="$B/bench/websocket.tsv"
: > "$out"
# Latency first, in back-to-back pairs (a round trip's tail is what the
# machine did in the last milliseconds: a throughput run just before one
# server and not the other would weigh on its p99).
i=0
while [ $i -lt $((ROUNDS * 2)) ]; do
    for s in "module $port" "uvicorn $uport"; do
        set -- $s
        "$LOAD" "$2" /ws/x latency 64 "$LAT_COUNT" >> "$dir/lat.$1"
    done
    i=$((i + 1))
done
i=0
while [ $i -lt "$ROUNDS" ]; do
    for s in "module $port" "uvicorn $uport"; do
        set -- $s
        "$LOAD" "$2" /ws/x rate 16 8 64 "$SECONDS_EACH" >> "$dir/rate64.$1"
        "$LOAD" "$2" /ws/x rate 4 2 65536 "$SECONDS_EACH" >> "$dir/rate64k.$1"
    done
    i=$((i + 1))
done
paste "$dir/lat.module" "$dir/lat.uvicorn" | awk '$4 < $8 { n++ }
    END { print "latency_pairs " NR " " n + 0 }' >> "$out"
for s in module uvicorn; do
    echo "latency $s $(awk '{ print $2 }' "$dir/lat.$s" | median) $(awk '{ print $4 }' "$dir/lat.$s" | median)" >> "$out"
    echo "rate64 $s $(median < "$dir/rate64.$s")" >> "$out"
    echo "rate64k $s $(median < "$dir/rate64k.$s")" >> "$out"
done

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# Memory: RSS growth with $IDLE connections open, each kind in a fresh
# nginx (a worker reuses what it freed, so a second measure would show
# less), warmed up first (the app loaded, its first connections made).
# idle PID PATH PORT [COUNT]: the growth in KiB
idle() {
    count=${4:-$IDLE}
    rm -f "$dir/idle.out"
    "$LOAD" "$3" "$2" idle 50 0 > /dev/null
    sleep 0.5
    before=$(rss "$1")
    "$LOAD" "$3" "$2" idle "$count" 4 > "$dir/idle.out" &
    lpid=$!
    j=0
    until grep -q '^open' "$dir/idle.out" 2>/dev/null; do
        j=$((j + 1))
        [ $j -lt 1200 ] || { echo "could not open $IDLE connections" >&2; exit 1; }
        sleep 0.1
    done
    sleep 1  # the app's tasks reach their receive()
    after=$(rss "$1")
    wait "$lpid"
    echo $((after - before))
}
fresh_worker() {
    nginx -p "$dir/" -c nginx.conf -s stop
    while [ -e "$dir/logs/nginx.pid" ]; do sleep 0.1; done
    nginx -p "$dir/" -c nginx.conf
    ready "$port"
    pgrep -P "$(cat "$dir/logs/nginx.pid")" | head -1
}
# uvicorn first: the proxied connections below go to it too
echo "idle uvicorn $(idle "$upid" /ws/idle "$uport")" >> "$out"
echo "idle nginx_http $(idle "$(fresh_worker)" http:/return200 "$port")" >> "$out"
# a proxied one holds two descriptors in the worker
pidle=$(( IDLE < (nofile - 1000) / 2 ? IDLE : (nofile - 1000) / 2 ))
echo "idle nginx_proxy_ws $(idle "$(fresh_worker)" /proxy-ws/x "$port" "$pidle")" >> "$out"
echo "idle module $(idle "$(fresh_worker)" /ws/idle "$port")" >> "$out"

if grep -E '\[(alert|crit|emerg)\]' "$dir/logs/error.log"; then
    echo "the nginx error log has alerts"; exit 1
fi

v() { awk -v k="$1" -v s="$2" -v f="${3:-3}" '$1 == k && $2 == s { print $f }' "$out"; }
echo "WebSocket echo (bench/apps/ws_echo.py), 1 nginx worker / 1 uvicorn" \
     "process (uvloop, websockets), medians:"
for s in module uvicorn; do
    printf '  %-8s round trip 64 B: p50 %6.1f us  p99 %6.1f us  (%d runs of %d)\n' \
        "$s" "$(v latency $s 3)" "$(v latency $s 4)" $((ROUNDS * 2)) "$LAT_COUNT"
done
pairs=$(awk '$1 == "latency_pairs" { print $3 " of " $2 }' "$out")
echo "  the module's p99 was the lower in $pairs back-to-back pairs"
for s in module uvicorn; do
    printf '  %-8s %9.0f msg/s (64 B, 16 conns x 8)  %7.0f msg/s (64 KiB, 4 conns x 2)\n' \
        "$s" "$(v rate64 $s)" "$(v rate64k $s)"
done
echo "(messages/s: median of $ROUNDS interleaved rounds)"
awk -v a="$(v rate64 module)" -v b="$(v rate64 uvicorn)" \
    -v c="$(v rate64k module)" -v d="$(v rate64k uvicorn)" \
    -v p="$(v latency module 4)" -v q="$(v latency uvicorn 4)" 'BEGIN {
    printf "ratios: messages/s 64 B %.2fx, 64 KiB %.2fx; p99 module/uvicorn %.2f\n", a / b, c / d, p / q }'
awk -v n="$IDLE" -v h="$(v idle nginx_http)" -v m="$(v idle module)" \
    -v p="$(v idle nginx_proxy_ws)" -v u="$(v idle uvicorn)" -v pn="$pidle" 'BEGIN {
    printf "memory per idle connection, %d open (RSS growth of the nginx worker, of uvicorn):\n", n
    printf "  nginx keep-alive HTTP connection       %5.1f KiB\n", h / n
    printf "  nginx proxied WebSocket (nginx only, %d open) %5.1f KiB\n", pn, p / pn
    printf "  module WebSocket (nginx + library + Python app) %5.1f KiB: %.1f KiB beyond an idle keep-alive connection, %.2fx a proxied one\n", m / n, (m - h) / n, (m / n) / (p / pn)
    printf "  uvicorn WebSocket                      %5.1f KiB\n", u / n }'
