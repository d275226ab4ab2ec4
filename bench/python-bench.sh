#!/bin/sh
# make bench (Python part): in the same run, a raw ASGI hello app and a
# Starlette hello app served by the module, and the same apps under
# uvicorn (uvloop; h11, Debian's python3-uvicorn dependency, and httptools
# when python3-httptools is installed), directly and behind nginx
# proxy_pass with upstream keep-alive. One nginx worker, one uvicorn
# process, the same wrk settings, interleaved rounds; medians and ratios.
# Each run also measures the CPU time per request of the serving threads
# (schedstat: nanoseconds on a CPU), the module's split into the nginx
# thread and the Python thread; uvicorn behind the proxy counts with nginx.
# Then the time from the client closing its socket to the app's receive()
# returning http.disconnect, p50/p99, for the module and for uvicorn.
# Writes $B/bench/python.tsv and the plot $B/bench/python.svg.
# PIN=S:W (make bench-pinned: 0:1) pins every measured server to CPU S, all
# its threads (the module's nginx and Python threads share that CPU, as
# under `worker_cpu_affinity`), and wrk to CPU W: CPU per request and
# requests/s per core, without the load generator on the server's core;
# writes python-pinned.tsv and .svg.
set -eu
. "$(dirname "$0")/common.sh"
B=${1:-build}
B=$(cd "$B" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3s}
CONNS=${CONNS:-32}
SAMPLES=${SAMPLES:-300}
PIN=${PIN:-}
wrk_cpus="" result=python
if [ -n "$PIN" ]; then
    wrk_cpus=${PIN#*:} result=python-pinned
fi
# load: wrk, on its CPU when pinned
load() {
    if [ -n "$wrk_cpus" ]; then
        taskset -c "$wrk_cpus" wrk "$@"
    else
        wrk "$@"
    fi
}
dir=$(mktemp -d)
pids=""
cleanup() {
    nginx -p "$dir/" -c nginx.conf -s stop 2>/dev/null || true
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/logs" "$B/bench"
base=$((20000 + $$ % 1000 * 10))  # below the ephemeral range
port=$base

have_httptools=no
$PY -c 'import httptools' 2>/dev/null && have_httptools=yes
fast=h11 fastkey=h11
[ $have_httptools = yes ] && fast=httptools fastkey=ht

# uvicorn instances: NAME PORT HTTP APP
uvicorns="h11-raw $((base + 1)) h11 hello_raw:app
h11-star $((base + 2)) h11 hello_star:app
lat $((base + 5)) $fast latency:app
up $((base + 6)) $fast upload:app"
[ $have_httptools = yes ] && uvicorns="$uvicorns
ht-raw $((base + 3)) httptools hello_raw:app
ht-star $((base + 4)) httptools hello_star:app
ht-fast $((base + 7)) httptools hello_fastapi:app"

echo "$uvicorns" > "$dir/uvicorns"
uport() { awk -v n="$1" '$1 == n { print $2 }' "$dir/uvicorns"; }
while read -r name p http app; do
    $PY -m uvicorn --app-dir "$HERE/apps" --loop uvloop --http "$http" \
        --no-access-log --log-level warning --port "$p" "$app" \
        > "$dir/logs/uvicorn-$name.log" 2>&1 &
    pids="$pids $!"
done < "$dir/uvicorns"

conf_head "$B" > "$dir/nginx.conf"
cat >> "$dir/nginx.conf" <<CONF
    asgi_python_path $HERE/apps;
    upstream uv_raw { server 127.0.0.1:$(uport $fastkey-raw); keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location = /return200 {
            default_type text/plain;
            return 200 "Hello, world!\n";
        }
        location /raw/ { asgi_app hello_raw:app; }
        location /star/ { asgi_app hello_star:app; }
        location /fast/ { asgi_app hello_fastapi:app; }
        location /lat/ { asgi_app latency:app; }
        location /proxy-lat/ {
            proxy_pass http://127.0.0.1:$(uport lat);
            proxy_buffering off;
        }
        location /up/ { asgi_app upload:app; client_max_body_size 0; }
        location /up8k/ {
            asgi_app upload:app;
            client_max_body_size 0;
            asgi_body_buffer_size 8k;
        }
        location /proxy-raw/ {
            proxy_pass http://uv_raw;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /proxy-star/ {
            proxy_pass http://uv_star;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    upstream uv_star { server 127.0.0.1:$(uport $fastkey-star); keepalive 64; }
}
CONF
nginx -p "$dir/" -c nginx.conf

# every server answers before anything is measured
wait_for() {
    i=0
    until [ "$(curl -s "$1")" = "Hello, world!" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "no hello from $1"; cat "$dir"/logs/*; exit 1; }
        sleep 0.1
    done
}

# the measured servers: LABEL URL WHO (whose threads' CPU counts: nginx,
# uvicorn NAME, or nginx+NAME)
cat > "$dir/servers" <<LIST
nginx_return_200 http://127.0.0.1:$port/return200 nginx
module_raw http://127.0.0.1:$port/raw/x nginx
uvicorn_h11_raw http://127.0.0.1:$(uport h11-raw)/x h11-raw
module_starlette http://127.0.0.1:$port/star/x nginx
uvicorn_h11_starlette http://127.0.0.1:$(uport h11-star)/x h11-star
module_fastapi http://127.0.0.1:$port/fast/x nginx
LIST
if [ $have_httptools = yes ]; then
    cat >> "$dir/servers" <<LIST
uvicorn_httptools_raw http://127.0.0.1:$(uport ht-raw)/x ht-raw
uvicorn_httptools_starlette http://127.0.0.1:$(uport ht-star)/x ht-star
uvicorn_httptools_fastapi http://127.0.0.1:$(uport ht-fast)/x ht-fast
LIST
fi
cat >> "$dir/servers" <<LIST
nginx_proxy_uvicorn_${fast}_raw http://127.0.0.1:$port/proxy-raw/x nginx+$fastkey-raw
nginx_proxy_uvicorn_${fast}_starlette http://127.0.0.1:$port/proxy-star/x nginx+$fastkey-star
LIST
# ONLY=REGEX measures the servers whose label matches it, and skips the
# latency and upload figures (a quick look while optimising)
if [ -n "${ONLY:-}" ]; then
    grep -E "^[^ ]*($ONLY)" "$dir/servers" > "$dir/only" || true
    mv "$dir/only" "$dir/servers"
fi
while read -r label url who; do wait_for "$url"; done < "$dir/servers"

worker=$(pgrep -P "$(cat "$dir/logs/nginx.pid")" | head -1)
if [ -n "$PIN" ]; then
    # shellcheck disable=SC2086
    for p in $worker $pids; do
        taskset -a -p -c "${PIN%%:*}" "$p" > /dev/null
    done
fi
# the processes behind WHO
pids_of() {
    case $1 in
    nginx) echo "$worker" ;;
    nginx+*) echo "$worker $(pgrep -f -- "--port $(uport "${1#nginx+}") ")" ;;
    *) pgrep -f -- "--port $(uport "$1") " ;;
    esac
}
# measure LABEL URL WHO: a wrk run; appends req/s, CPU us per request and,
# for the nginx worker, its nginx thread's share
measure() {
    # shellcheck disable=SC2046
    set -- "$1" "$2" $(pids_of "$3")
    label=$1 url=$2
    shift 2
    before=$(cpu_ns "$@")
    nbefore=$(cut -d' ' -f1 "/proc/$worker/task/$worker/schedstat")
    pbefore=$(preempted "$worker")
    ubefore=$(user_ticks "$worker")
    res=$(load -t1 -c"$CONNS" -d"$DURATION" "$url")
    uafter=$(user_ticks "$worker")
    pafter=$(preempted "$worker")
    nafter=$(cut -d' ' -f1 "/proc/$worker/task/$worker/schedstat")
    after=$(cpu_ns "$@")
    n=$(echo "$res" | awk '/requests in/ { print $1 }')
    echo "$res" | awk '/Requests\/sec/ { print $2 }' >> "$dir/rate.$label"
    awk -v t=$((after - before)) -v n="$n" 'BEGIN { printf "%.2f\n", t / 1e3 / n }' \
        >> "$dir/cpu.$label"
    awk -v t=$((nafter - nbefore)) -v n="$n" 'BEGIN { printf "%.2f\n", t / 1e3 / n }' \
        >> "$dir/ngx.$label"
    awk -v t=$((pafter - pbefore)) -v n="$n" 'BEGIN { printf "%.3f\n", t / n }' \
        >> "$dir/pre.$label"
    awk -v t=$((uafter - ubefore)) -v n="$n" -v hz="$hz" \
        'BEGIN { printf "%.2f\n", t * 1e6 / hz / n }' >> "$dir/usr.$label"
}
# user_ticks PID: its main thread's time in user space, in clock ticks
# (the nginx thread's own code and the libraries'; the rest of its CPU time
# is the kernel's: sockets, epoll, wake-ups)
hz=$(getconf CLK_TCK)
user_ticks() {
    awk '{ print $14 }' "/proc/$1/task/$1/stat"
}
# preempted PID: how often its main thread was switched out while it could
# run (the module's nginx thread, by its Python thread above all)
preempted() {
    awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "/proc/$1/task/$1/status"
}

i=0
while [ $i -lt "$ROUNDS" ]; do
    while read -r label url who; do
        measure "$label" "$url" "$who"
    done < "$dir/servers"
    i=$((i + 1))
done

out="$B/bench/$result.tsv"
: > "$out"
while read -r label url who; do
    echo "rate $label $(median < "$dir/rate.$label")" >> "$out"
    echo "cpu $label $(median < "$dir/cpu.$label")" >> "$out"
    case $who in
    nginx) echo "nginx_thread $label $(median < "$dir/ngx.$label")" >> "$out"
        echo "nginx_user $label $(median < "$dir/usr.$label")" >> "$out"
        echo "preempted $label $(median < "$dir/pre.$label")" >> "$out" ;;
    esac
done < "$dir/servers"

if [ -z "${ONLY:-}" ]; then
# disconnect latency: module and uvicorn ($fast), the same app
echo "latency module $($PY "$HERE/disconnect_latency.py" "$port" /lat "$SAMPLES")" \
    >> "$out"
echo "latency uvicorn_$fast $($PY "$HERE/disconnect_latency.py" \
    "$(uport lat)" "" "$SAMPLES")" >> "$out"
echo "latency nginx_proxy_uvicorn $($PY "$HERE/disconnect_latency.py" \
    "$port" /proxy-lat "$SAMPLES")" >> "$out"

# uploads: 200 MB, the median of 5, for the module (its default, and
# nginx's 8k client_body_buffer_size as before asgi_body_buffer_size) and
# uvicorn
head -c 200000000 /dev/zero > "$dir/upload.bin"
upload() {
    i=0
    while [ $i -lt 5 ]; do
        body=$(curl -s -o "$dir/upload.out" -w '%{time_total}' \
            --data-binary @"$dir/upload.bin" "$1")
        grep -q '^200000000 bytes' "$dir/upload.out" \
            || { echo "bad upload answer from $1"; exit 1; }
        echo "$body"
        i=$((i + 1))
    done | median
}
echo "upload module_default $(upload "http://127.0.0.1:$port/up/x")" >> "$out"
echo "upload module_nginx_8k $(upload "http://127.0.0.1:$port/up8k/x")" >> "$out"
echo "upload uvicorn_$fast $(upload "http://127.0.0.1:$(uport up)/x")" >> "$out"
rm -f "$dir/upload.bin"
fi

if grep -E '\[(alert|crit|emerg)\]' "$dir/logs/error.log"; then
    echo "the nginx error log has alerts"; exit 1
fi

r() { awk -v l="$1" '$1 == "rate" && $2 == l { print $3 }' "$out"; }
c() { awk -v l="$1" -v k="${2:-cpu}" '$1 == k && $2 == l { print $3 }' "$out"; }
[ -z "$PIN" ] || echo "pinned: each server (all its threads) on CPU ${PIN%%:*}," \
    "wrk on CPU $wrk_cpus"
echo "wrk -t1 -c$CONNS -d$DURATION, keep-alive HTTP/1.1, 1 nginx worker /" \
     "1 uvicorn process (uvloop), median of $ROUNDS interleaved rounds;" \
     "CPU us per request of the serving threads (module: nginx thread + Python thread):"
while read -r label url who; do
    case $label in
    module_*)
        printf '  %-40s %9.0f req/s %6.1f us CPU (%.1f + %.1f), nginx thread user %.1f, preempted %.2f/request\n' \
            "$label" "$(r "$label")" "$(c "$label")" \
            "$(c "$label" nginx_thread)" \
            "$(awk -v a="$(c "$label")" -v b="$(c "$label" nginx_thread)" \
                'BEGIN { print a - b }')" "$(c "$label" nginx_user)" \
            "$(c "$label" preempted)" ;;
    nginx_return_200)
        printf '  %-40s %9.0f req/s %6.1f us CPU (user %.1f)\n' "$label" \
            "$(r "$label")" "$(c "$label")" "$(c "$label" nginx_user)" ;;
    *)
        printf '  %-40s %9.0f req/s %6.1f us CPU\n' "$label" "$(r "$label")" \
            "$(c "$label")" ;;
    esac
done < "$dir/servers"
[ -z "${ONLY:-}" ] || exit 0
ratio() {
    awk -v a="$(r "$1")" -v b="$(r "$2")" -v t="$3" \
        'BEGIN { printf "  %-58s %5.2fx\n", t, a / b }'
}
echo "ratios:"
ratio module_raw uvicorn_h11_raw "module raw / uvicorn h11 raw"
ratio module_starlette uvicorn_h11_starlette \
    "module Starlette / uvicorn h11 Starlette"
if [ $have_httptools = yes ]; then
    ratio module_raw uvicorn_httptools_raw "module raw / uvicorn httptools raw"
    ratio module_starlette uvicorn_httptools_starlette \
        "module Starlette / uvicorn httptools Starlette"
fi
ratio module_raw "nginx_proxy_uvicorn_${fast}_raw" \
    "module raw / nginx proxy_pass -> uvicorn $fast raw"
ratio module_starlette "nginx_proxy_uvicorn_${fast}_starlette" \
    "module Starlette / nginx proxy_pass -> uvicorn $fast Starlette"
ratio module_raw nginx_return_200 "module raw / nginx return 200"
cratio() {
    awk -v a="$(c "$1" "${4:-}")" -v b="$(c "$2")" -v t="$3" \
        'BEGIN { printf "  %-58s %5.2fx\n", t, a / b }'
}
echo "CPU per request ratios (lower is better):"
if [ $have_httptools = yes ]; then
    cratio module_raw uvicorn_httptools_raw "module raw / uvicorn httptools raw"
    cratio module_starlette uvicorn_httptools_starlette \
        "module Starlette / uvicorn httptools Starlette"
    cratio module_fastapi uvicorn_httptools_fastapi \
        "module FastAPI / uvicorn httptools FastAPI"
fi
cratio module_raw nginx_return_200 \
    "module raw, nginx thread / nginx return 200" nginx_thread
echo "client close -> receive() returns http.disconnect ($SAMPLES closes):"
awk '$1 == "latency" { printf "  %-24s p50 %6d us   p99 %6d us\n", $2, $3, $4 }' \
    "$out"
echo "upload of 200 MB (median of 5 curl --data-binary runs):"
awk '$1 == "upload" { printf "  %-20s %6.0f ms  %5.0f MB/s\n", $2, $3 * 1000, 200 / $3 }' \
    "$out"
awk -v f="uvicorn_$fast" '$1 == "upload" { t[$2] = $3 }
    END { printf "  module default / uvicorn %s time: %.2fx\n", f,
          t["module_default"] / t[f] }' "$out"
$PY "$HERE/plot.py" "$out" "$B/bench/$result.svg"
echo "plot: $B/bench/$result.svg"
