#!/bin/sh
# The soak's client (make soak): N requests in ten rounds, each round half
# against a Python app (/py) and half against a native app (/t), over
# HTTP/1.1 and multiplexed HTTP/2, aborted at random phases by the storm.
# After each round: the worker's resident memory. Prints one line per
# round and the storms' verdicts.
#   soak.sh STORM PORT TLSPORT N
set -eu
storm=$1 port=$2 tls=$3 n=$4
per=$((n / 20))
round=1
while [ $round -le 10 ]; do
    for prefix in /py /t; do
        "$storm" --port "$port" --h2port "$tls" --n "$per" --concurrency 32 \
            --seed $((round * 2 + ${#prefix})) --prefix "$prefix" 2>&1 \
            | tail -1
    done
    pid=$(curl -s "http://127.0.0.1:$port/_asgi_status?format=json" \
          | sed 's/.*"pid":\([0-9]*\).*/\1/')
    rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status")
    echo "round $round: $((round * per * 2)) requests, worker RSS $rss kB"
    round=$((round + 1))
done
