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
