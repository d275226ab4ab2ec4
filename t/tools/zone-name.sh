#!/bin/sh
# The module loaded but not used (no asgi_app, no asgi_status) declares no
# shared zone: another module may name its zone asgi_status (t/status.t).
# usage: zone-name.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/logs"
cat > "$dir/nginx.conf" <<CONF
load_module $B/ngx_http_asgi_module.so;
error_log logs/error.log;
events {}
http {
    limit_req_zone \$binary_remote_addr zone=asgi_status:1m rate=10r/s;
    server { listen 127.0.0.1:1; location / { limit_req zone=asgi_status; } }
}
CONF
nginx -t -q -p "$dir/" -c nginx.conf \
    && echo "nginx -t ok: the module loaded, a limit_req zone named asgi_status"
