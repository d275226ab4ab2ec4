#!/bin/sh
# make bench (nginx part): wrk against, in the same run, nginx's own
# "return 200" and the module serving the native hello app
# (bench/apps/hello.c: inline, and on its own thread); one worker,
# keep-alive HTTP/1.1, the same wrk settings. nginx's empty_gif is the
# yardstick of a content handler: `return` answers in the rewrite phase,
# a content handler (empty_gif, static files, this module) runs nginx's
# access and content phases too.
# Rounds are interleaved; the medians and their ratios are printed.
set -eu
. "$(dirname "$0")/common.sh"
B=${1:-build}
B=$(cd "$B" && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3s}
CONNS=${CONNS:-32}
dir=$(mktemp -d)
trap 'nginx -p "$dir/" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/logs"
port=$((21000 + $$ % 4000))
conf_head "$B" > "$dir/nginx.conf"
cat >> "$dir/nginx.conf" <<CONF
    server {
        listen 127.0.0.1:$port;
        location = /return200 {
            default_type text/plain;
            return 200 "Hello, world!\n";
        }
        location = /empty_gif { empty_gif; }
        location /inline/ { asgi_native_app $B/bench/hello.so inline; }
        location /threaded/ { asgi_native_app $B/bench/hello.so threaded; }
    }
}
CONF
nginx -p "$dir/" -c nginx.conf
sleep 0.3
for path in /return200 /inline/hello /threaded/hello; do
    body=$(curl -s "http://127.0.0.1:$port$path")
    [ "$body" = "Hello, world!" ] || { echo "bad response from $path: $body"; exit 1; }
done


: > "$dir/r200"; : > "$dir/gif"; : > "$dir/inline"; : > "$dir/threaded"
worker=$(pgrep -P "$(cat "$dir/logs/nginx.pid")" | head -1)
i=0
while [ $i -lt "$ROUNDS" ]; do
    wrk_cpu "http://127.0.0.1:$port/return200" "$worker" "$dir/r200"
    wrk_cpu "http://127.0.0.1:$port/empty_gif" "$worker" "$dir/gif"
    wrk_cpu "http://127.0.0.1:$port/inline/hello" "$worker" "$dir/inline"
    wrk_cpu "http://127.0.0.1:$port/threaded/hello" "$worker" "$dir/threaded"
    i=$((i + 1))
done
# column N of a file's lines, their median
med() { cut -d' ' -f"$2" "$1" | median; }
r200=$(med "$dir/r200" 1)
echo "wrk -t1 -c$CONNS -d$DURATION, keep-alive HTTP/1.1, 1 nginx worker," \
     "median of $ROUNDS interleaved rounds; CPU us per request of the" \
     "worker's threads (nginx thread + the app's):"
for what in r200:"nginx return 200" gif:"nginx empty_gif" inline:"asgi native hello inline" \
    threaded:"asgi native hello thread"; do
    f=$dir/${what%%:*}
    awk -v l="${what#*:}" -v a="$(med "$f" 1)" -v b="$r200" \
        -v c="$(med "$f" 2)" -v n="$(med "$f" 3)" 'BEGIN {
        printf "  %-26s %8.0f req/s  ratio %.3f  %5.2f us CPU (%.2f + %.2f)\n",
            l, a, a / b, c, n, c - n }'
done
