#!/bin/sh
# make bench (nginx part): wrk against, in the same run, nginx's own
# "return 200" and the module serving the native hello app
# (bench/apps/hello.c: inline, and on its own thread); one worker,
# keep-alive HTTP/1.1, the same wrk settings.
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


: > "$dir/r200"; : > "$dir/inline"; : > "$dir/threaded"
i=0
while [ $i -lt "$ROUNDS" ]; do
    rate "http://127.0.0.1:$port/return200" >> "$dir/r200"
    rate "http://127.0.0.1:$port/inline/hello" >> "$dir/inline"
    rate "http://127.0.0.1:$port/threaded/hello" >> "$dir/threaded"
    i=$((i + 1))
done
r200=$(median < "$dir/r200")
inl=$(median < "$dir/inline")
thr=$(median < "$dir/threaded")
echo "wrk -t1 -c$CONNS -d$DURATION, keep-alive HTTP/1.1, 1 nginx worker," \
     "median of $ROUNDS interleaved rounds (requests/s):"
printf '  nginx return 200          %10.0f\n' "$r200"
awk -v a="$inl" -v b="$r200" \
    'BEGIN { printf "  asgi native hello inline  %10.0f   ratio %.3f\n", a, a / b }'
awk -v a="$thr" -v b="$r200" \
    'BEGIN { printf "  asgi native hello thread  %10.0f   ratio %.3f\n", a, a / b }'
