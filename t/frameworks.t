# Starlette and FastAPI from Debian's packages, in the nginx worker.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: a Starlette app
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- request
GET /s/hello
--- error_code: 200
--- response_body
Hello from Starlette
--- access_log
200 complete /s/hello

=== TEST 2: R2 Starlette reads a body
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- request eval
"POST /s/echo\n" . ("starlette " x 5000)
--- error_code: 200
--- response_body eval
"starlette " x 5000

=== TEST 3: a Starlette StreamingResponse stops when the client leaves
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- request
GET /s/ticks
--- abort
--- timeout: 0.3
--- record
stream stopped
--- access_log
499 client_disconnected /s/ticks
--- no_error_log
[error]

=== TEST 4: a Starlette stream whose send() fails at the disconnect is still closed soon
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- request
GET /s/flood
--- abort
--- timeout: 0.3
--- record
flood stopped
--- access_log
499 client_disconnected /s/flood
--- no_error_log
[error]

=== TEST 5: R6 request.is_disconnected() turns true when the client leaves
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- request
GET /s/watch
--- abort
--- timeout: 0.3
--- record
is_disconnected true
--- access_log
499 client_disconnected /s/watch

=== TEST 6: a FastAPI app
--- config
asgi_python_path $ROOT/t/apps/python;
location /f/ { asgi_app starapp:api; }
--- request
GET /f/items/42?q=abc
--- error_code: 200
--- response_body: {"item_id":42,"q":"abc"}
--- response_headers
Content-Type: application/json

=== TEST 7: FastAPI validation errors are answers, not app errors
--- config
asgi_python_path $ROOT/t/apps/python;
location /f/ { asgi_app starapp:api; }
--- request
GET /f/items/notanumber
--- error_code: 422
--- access_log
422 complete /f/items/notanumber

=== TEST 8: a Django 3.2 ASGI app (async and sync views)
--- config
asgi_python_path $ROOT/t/apps/python;
location /d/ { asgi_app djangoapp.asgi:application; }
--- request
GET /d/hello
--- error_code: 200
--- response_body
Hello from Django
--- after
my ($status, $body) = http_get('/d/info?q=x');
is($status, 200, "a sync view through Django's thread adapter");
is($body, '{"method": "GET", "path": "/d/info", "q": "x"}', "its answer");

=== TEST 9: R2 Django reads a request body
--- config
asgi_python_path $ROOT/t/apps/python;
location /d/ { asgi_app djangoapp.asgi:application; }
--- request eval
"POST /d/echo\n" . ("django " x 3000)
--- error_code: 200
--- response_body eval
"django " x 3000

=== TEST 10: R3 Starlette: an upload cut short ends as the client's 499, without an error traceback
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- raw_request eval
"POST /s/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"
--- abort
--- timeout: 0.3
--- access_log
499 client_disconnected /s/echo
--- no_error_log
[error]
Traceback

=== TEST 11: Starlette mounted with asgi_root_path: its routes match below the prefix, /prefix alone is "/"
--- config
asgi_python_path $ROOT/t/apps/python;
location /mount { asgi_root_path /mount; asgi_app starapp:star; }
--- request
GET /mount/s/hello
--- error_code: 200
--- response_body
Hello from Starlette
--- after
my ($status) = main::http_get("/mount");
is($status, 404, "/mount is the app's / (which it does not route)");

=== TEST 12: Django mounted with asgi_root_path: request.path is the whole path, routes match below the prefix
--- config
asgi_python_path $ROOT/t/apps/python;
location /site/ { asgi_root_path /site; asgi_app djangoapp.asgi:application; }
--- request
GET /site/d/info?q=y
--- error_code: 200
--- response_body chomp
{"method": "GET", "path": "/site/d/info", "q": "y"}

=== TEST 13: S8 a Starlette Response of 400 kB through a 32k send buffer: its background task runs
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location /s/ { asgi_app starapp:star; }
--- port: small
--- request
GET /s/background?size=400000
--- error_code: 200
--- response_body_like: ^(?:b{40000}){10}$
--- record
background ran
--- access_log
200 complete /s/background?size=400000
--- after
is(status_json()->{running_apps}, 0, "S8 no app task left suspended");

=== TEST 14: G4, S6 FastAPI behind an HTTP middleware: the response is whole at its content-length, so a client that leaves then is no abort and the background task outlives the grace period
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location /m/ { asgi_app starapp:api_mw; asgi_disconnect_grace_period 100ms; }
--- exec
curl -s -X POST --http1.1 'http://127.0.0.1:$PORT/m/signup?tag=h1'; echo
curl -s -X POST --http2-prior-knowledge 'http://127.0.0.1:$H2PORT/m/signup?tag=h2'; echo
--- response_body
{"ok":"h1"}
{"ok":"h2"}
--- record
mw background ran h1
mw background ran h2
--- no_record
mw background cancelled
--- access_log
200 complete /m/signup?tag=h1
200 complete /m/signup?tag=h2
--- no_error_log
[error]

