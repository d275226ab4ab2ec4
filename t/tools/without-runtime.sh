#!/bin/sh
# The module without the Python runtime next to it (t/directives.t):
# asgi_app fails `nginx -t` with the reason, native apps still pass.
# usage: without-runtime.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/logs"
cp "$B/ngx_http_asgi_module.so" "$B/libasgicore.so.0" "$dir/"
conf() {
    cat > "$dir/nginx.conf" <<CONF
load_module $dir/ngx_http_asgi_module.so;
error_log logs/error.log;
events {}
http { server { listen 127.0.0.1:1; location / { $1 } } }
CONF
}
conf "asgi_app app:app;"
nginx -t -q -p "$dir/" -c nginx.conf 2>&1 \
    | grep -o '"asgi_app" needs the Python runtime "[^"]*/asgi_python.so" beside the module: install the package [a-z-]*' \
    | sed "s|$dir|DIR|"
conf "asgi_native_app $B/t/testapp.so threaded;"
nginx -t -q -p "$dir/" -c nginx.conf && echo "a native app: nginx -t ok"
