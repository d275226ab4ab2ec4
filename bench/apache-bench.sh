#!/bin/sh
# make bench (Apache part): the raw ASGI and Starlette hello apps of
# bench/apps served, in the same run, by
#   - Apache httpd (event MPM, one child) with mod_asgi;
#   - Apache httpd with mod_proxy to uvicorn (httptools, uvloop; upstream
#     keep-alive), the usual way to run ASGI behind Apache today;
#   - nginx (one worker) with the module.
# wrk -t1 -c$CONNS, interleaved rounds, medians of req/s and of the CPU
# (utime + stime of every thread of the serving processes, uvicorn's
# included behind the proxy) per request. Writes $B/bench/apache.tsv.
set -eu
. "$(dirname "$0")/common.sh"
B=${1:-build}
B=$(cd "$B" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3s}
CONNS=${CONNS:-32}
MODS=/usr/lib/apache2/modules
dir=$(mktemp -d)
pids=""
cleanup() {
    nginx -p "$dir/" -c nginx.conf -s stop 2>/dev/null || true
    [ -f "$dir/logs/httpd.pid" ] &&
        /usr/sbin/apache2 -f "$dir/httpd.conf" -k stop 2>/dev/null || true
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    sleep 1
    rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
mkdir -p "$dir/logs" "$B/bench"
[ "$(id -u)" -eq 0 ] && chmod 755 "$dir"
base=$((23000 + $$ % 1000 * 10))
nport=$base aport=$((base + 1)) uraw=$((base + 2)) ustar=$((base + 3))

for p in "$uraw hello_raw:app" "$ustar hello_star:app"; do
    set -- $p
    $PY -m uvicorn --app-dir "$HERE/apps" --loop uvloop --http httptools \
        --no-access-log --log-level warning --port "$1" "$2" \
        > "$dir/logs/uvicorn-$1.log" 2>&1 &
    pids="$pids $!"
done
upid_raw=$(echo $pids | awk '{ print $1 }')
upid_star=$(echo $pids | awk '{ print $2 }')

conf_head "$B" > "$dir/nginx.conf"
cat >> "$dir/nginx.conf" <<CONF
    asgi_python_path $HERE/apps;
    server {
        listen 127.0.0.1:$nport;
        location /raw/ { asgi_app hello_raw:app; }
        location /star/ { asgi_app hello_star:app; }
    }
}
CONF
nginx -p "$dir/" -c nginx.conf

user=""
[ "$(id -u)" -eq 0 ] && user="User www-data
Group www-data"
cat > "$dir/httpd.conf" <<CONF
ServerRoot $dir
ServerName localhost
Listen 127.0.0.1:$aport
PidFile logs/httpd.pid
DefaultRuntimeDir logs
Mutex file:logs default
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule proxy_module $MODS/mod_proxy.so
LoadModule proxy_http_module $MODS/mod_proxy_http.so
LoadModule asgi_module $B/mod_asgi.so
$user
ErrorLog logs/httpd-error.log
LogLevel warn
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
KeepAliveTimeout 60
MaxKeepAliveRequests 0
ASGIPythonPath $HERE/apps
<Location /raw/>
    ASGIApp hello_raw:app
</Location>
<Location /star/>
    ASGIApp hello_star:app
</Location>
ProxyPass /proxy-raw/ http://127.0.0.1:$uraw/ keepalive=On
ProxyPass /proxy-star/ http://127.0.0.1:$ustar/ keepalive=On
CONF
/usr/sbin/apache2 -f "$dir/httpd.conf" -k start

ready() {
    i=0
    until curl -sf -o /dev/null "$1"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "no answer from $1"; cat "$dir"/logs/*; exit 1; }
        sleep 0.1
    done
}
for u in "$nport/raw/" "$nport/star/" "$aport/raw/" "$aport/star/" \
         "$aport/proxy-raw/" "$aport/proxy-star/"; do
    ready "http://127.0.0.1:$u"
done
nworker=$(pgrep -P "$(cat "$dir/logs/nginx.pid")" | head -1)
achild=$(pgrep -P "$(cat "$dir/logs/httpd.pid")" | head -1)

# the CPU ticks (utime + stime, every thread) of the given processes
ticks() {
    t=0
    for p in "$@"; do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo $t
}
hz=$(getconf CLK_TCK)

# run LABEL URL PIDS...: a wrk run; appends req/s and CPU us per request
run() {
    label=$1 url=$2
    shift 2
    before=$(ticks "$@")
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "$url")
    after=$(ticks "$@")
    rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
    n=$(echo "$out" | awk '/requests in/ { print $1 }')
    echo "$rps" >> "$dir/rate.$label"
    awk -v t=$((after - before)) -v hz="$hz" -v n="$n" \
        'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }' >> "$dir/cpu.$label"
}

i=0
while [ $i -lt "$ROUNDS" ]; do
    for app in raw star; do
        [ $app = raw ] && upid=$upid_raw || upid=$upid_star
        run "apache_asgi_$app" "http://127.0.0.1:$aport/$app/" "$achild"
        run "apache_proxy_$app" "http://127.0.0.1:$aport/proxy-$app/" \
            "$achild" "$upid"
        run "nginx_asgi_$app" "http://127.0.0.1:$nport/$app/" "$nworker"
    done
    i=$((i + 1))
done

out="$B/bench/apache.tsv"
: > "$out"
for app in raw star; do
    for s in apache_asgi apache_proxy nginx_asgi; do
        echo "$s $app $(median < "$dir/rate.${s}_$app") $(median < "$dir/cpu.${s}_$app")" >> "$out"
    done
done
if grep -E '\[(\w+:)?(alert|crit|emerg)\]|exit signal' "$dir"/logs/*error.log; then
    echo "an error log has alerts"; exit 1
fi

echo "Apache httpd 2.4 (event, 1 child) and nginx (1 worker), wrk -t1 -c$CONNS," \
     "median of $ROUNDS interleaved rounds:"
awk '{ v[$1 " " $2] = $3; c[$1 " " $2] = $4 }
END {
    split("raw star", apps, " ")
    for (k = 1; k <= 2; k++) {
        a = apps[k]
        printf "  %s ASGI hello:\n", a == "raw" ? "raw" : "Starlette"
        printf "    Apache + mod_asgi              %8.0f req/s  %6.1f us CPU/request\n", v["apache_asgi " a], c["apache_asgi " a]
        printf "    Apache + mod_proxy -> uvicorn  %8.0f req/s  %6.1f us CPU/request\n", v["apache_proxy " a], c["apache_proxy " a]
        printf "    nginx + the module             %8.0f req/s  %6.1f us CPU/request\n", v["nginx_asgi " a], c["nginx_asgi " a]
        printf "    mod_asgi / mod_proxy: %.2fx req/s, %.2fx CPU; mod_asgi / nginx module: %.2fx req/s\n",
            v["apache_asgi " a] / v["apache_proxy " a],
            c["apache_asgi " a] / c["apache_proxy " a],
            v["apache_asgi " a] / v["nginx_asgi " a]
    }
}' "$out"
