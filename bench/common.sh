# Shared by the make bench scripts (sourced): the head of a one-worker
# nginx configuration with the module, and wrk/median helpers.

# conf_head BUILD_DIR: everything up to the inside of `http { }`.
conf_head() {
    cat <<CONF
load_module $1/ngx_http_asgi_module.so;
$([ "$(id -u)" -eq 0 ] && echo "user root;")
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
CONF
}

# rate URL: requests/s of one wrk run with the script's settings
rate() {
    wrk -t1 -c"$CONNS" -d"$DURATION" "$1" | awk '/Requests\/sec/ { print $2 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# cpu_ns PID...: nanoseconds on a CPU of every thread of the processes
# (schedstat), summed
cpu_ns() {
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat; done |
        awk '{ t += $1 } END { printf "%.0f\n", t }'
}

# wrk_cpu URL WORKER OUT: one wrk run against URL served by nginx worker
# WORKER; appends "req/s total_us nginx_thread_us" (CPU per request) to OUT
wrk_cpu() {
    before=$(cpu_ns "$2")
    nbefore=$(cut -d' ' -f1 "/proc/$2/task/$2/schedstat")
    res=$(wrk -t1 -c"$CONNS" -d"$DURATION" "$1")
    nafter=$(cut -d' ' -f1 "/proc/$2/task/$2/schedstat")
    after=$(cpu_ns "$2")
    echo "$res" | awk -v t=$((after - before)) -v nt=$((nafter - nbefore)) '
        /Requests\/sec/ { rps = $2 }
        /requests in/ { n = $1 }
        END { printf "%s %.2f %.2f\n", rps, t / 1e3 / n, nt / 1e3 / n }' \
        >> "$3"
}

# counting_conf BUILD_DIR PORT APPS_DIR: the one-worker, foreground nginx of
# the counting benches (bench/instructions.sh, bench/syscalls.sh): return
# 200 and the module's hello apps, native inline, raw, Starlette, FastAPI
counting_conf() {
    cat <<CONF
load_module $1/ngx_http_asgi_module.so;
$([ "$(id -u)" -eq 0 ] && echo "user root;")
daemon off;
master_process off;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    asgi_python_path $3;
    server {
        listen 127.0.0.1:$2;
        location = /return200 {
            default_type text/plain;
            return 200 "Hello, world!\n";
        }
        location = /empty_gif { empty_gif; }
        location /inline/ { asgi_native_app $1/bench/hello.so inline; }
        location /raw/ { asgi_app hello_raw:app; }
        location /star/ { asgi_app hello_star:app; }
        location /fast/ { asgi_app hello_fastapi:app; }
    }
}
CONF
}

# await_answer URL PID LOG: until URL answers; if the server PID exits
# first, print its LOG and fail
await_answer() {
    i=0
    until curl -sf "$1" > /dev/null; do
        kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
        i=$((i + 1))
        [ $i -lt 600 ] || { echo "no answer from $1"; exit 1; }
        sleep 0.5
    done
}
