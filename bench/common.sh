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
