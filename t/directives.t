# Directives and their errors (G7), bad requests refused by nginx (B1),
# an app that fails to start, the status page and the log variables.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: G7 a negative grace period fails nginx -t, naming the directive
--- config
location /t/ { asgi_native_app $TEST_APP threaded; asgi_disconnect_grace_period -1s; }
--- must_die: "asgi_disconnect_grace_period" directive invalid value

=== TEST 2: G7 a malformed grace period fails nginx -t
--- config
asgi_disconnect_grace_period soon;
location /t/ { asgi_native_app $TEST_APP threaded; }
--- must_die: "asgi_disconnect_grace_period" directive invalid value

=== TEST 3: G7 nginx time syntax is accepted, and 0
--- config
asgi_disconnect_grace_period 1m;
location /t/ { asgi_native_app $TEST_APP threaded; asgi_disconnect_grace_period 0; }
location /u/ { asgi_native_app $TEST_APP threaded; asgi_disconnect_grace_period 250ms; }
--- request
GET /t/hello
--- error_code: 200

=== TEST 4: a missing app file fails nginx -t with the reason
--- config
location /t/ { asgi_native_app /nonexistent/app.so; }
--- must_die: cannot load native app "/nonexistent/app.so"

=== TEST 5: a shared object that is not an app fails nginx -t
--- config
location /t/ { asgi_native_app /usr/lib/x86_64-linux-gnu/libz.so.1; }
--- must_die: is not a native ASGI app

=== TEST 6: asgi_ignore_client_abort takes on or off only
--- config
asgi_ignore_client_abort maybe;
location /t/ { asgi_native_app $TEST_APP threaded; }
--- must_die: invalid value "maybe" in "asgi_ignore_client_abort" directive

=== TEST 7: two apps in one location are refused
--- config
location /t/ { asgi_native_app $TEST_APP threaded; asgi_native_app $TEST_APP inline; }
--- must_die: "asgi_native_app" directive is duplicate

=== TEST 8: asgi_native_app outside a location is refused
--- http_config
asgi_native_app /x.so;
--- config
location /t/ { return 200; }
--- must_die: "asgi_native_app" directive is not allowed here

=== TEST 9: an app that fails to start: one error line, 503 for it, the worker serves the rest
--- config
location /bad/ { asgi_native_app $TEST_APP "fail"; }
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /bad/hello
--- error_code: 503
--- error_log
failed to start: asked to fail by its argument
is not running in this worker
--- after
my ($status, $body) = http_get('/t/hello');
is($status, 200, "the other app still serves");

=== TEST 10: B1 a malformed request is refused by nginx and never reaches the app
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- raw_request eval
"GET /t/hello HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"
--- error_code: 400
--- after
is(status_json()->{opened}, 0, "B1 no scope was opened");

=== TEST 11: B1 an oversized body is refused with 413 before the app starts
--- config
client_max_body_size 10;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
POST /t/echo
more than ten bytes of body
--- error_code: 413
--- after
is(status_json()->{opened}, 0, "B1 no scope was opened");

=== TEST 12: B1 a malformed chunked body is refused before the app starts
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- raw_request eval
"POST /t/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\nZZ\r\n"
--- error_code: 400
--- after
is(status_json()->{opened}, 0, "B1 no scope was opened");

=== TEST 13: asgi_status as JSON
--- config
location = /status { asgi_status; }
--- request
GET /status?format=json
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"pid":(\d+),"live":0,"opened":0,"completed":0,"disconnected":0,"cancelled":0,"app_errors":0,"not_dispatched":0,"running_apps":0,"abandoned":0,"disconnects":\{"closed":0,"reset":0,"half_closed":0,"stream_reset":0,"connection_lost":0,"write_error":0,"timeout":0,"server":0\},"apps":\[\],"workers":\[\{"pid":\1,"current":true,"live":0,"opened":0,"completed":0,"disconnected":0,"cancelled":0,"app_errors":0,"not_dispatched":0,"running_apps":0,"abandoned":0\}\]\}$

=== TEST 14: $asgi_outcome and $asgi_app_time in the access log
--- http_config
log_format timing '$status $asgi_outcome $asgi_app_time';
--- config
location /t/ { asgi_native_app $TEST_APP threaded; access_log logs/timing.log timing; }
--- request
GET /t/wait?ms=200
--- error_code: 200
--- after
my $line = wait_for(5, sub { my $t = `cat @{[servroot()]}/logs/timing.log 2>/dev/null`; $t =~ /\S/ ? $t : undef });
like($line, qr/^200 complete 0\.(19|2\d)\d$/m, "app time about 0.2 s: $line");

=== TEST 15: the scope the app sees
--- config
location /t/ { asgi_native_app $TEST_APP inline; }
--- request
GET /t/caf%C3%A9/info?a=1&b=2
--- error_code: 200
--- response_body_like: method=GET scheme=http http_version=1.1 root_path= path=/t/caf\x{c3}\x{a9}/info raw_path=/t/caf%C3%A9/info query=a=1&b=2 client=127.0.0.1 server_port=\d+ headers=\d+

=== TEST 16: asgi_root_path must be a path without a trailing slash
--- config
location /api/ { asgi_root_path /api/; asgi_native_app $TEST_APP threaded; }
--- must_die: invalid value "/api/" in "asgi_root_path" directive

=== TEST 17: asgi_root_path must start with a slash
--- config
location /api/ { asgi_root_path api; asgi_native_app $TEST_APP threaded; }
--- must_die: invalid value "api" in "asgi_root_path" directive

=== TEST 18: a native app sees the root path too
--- config
location /api/ { asgi_root_path /api; asgi_native_app $TEST_APP threaded; }
--- request
GET /api/x/info
--- error_code: 200
--- response_body_like: root_path=/api path=/x/info raw_path=/api/x/info query=

=== TEST 19: without the Python runtime, asgi_app fails nginx -t with the reason; native apps still load
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- exec
sh $ROOT/t/tools/without-runtime.sh $ROOT/build
--- response_body
"asgi_app" needs the Python runtime "DIR/asgi_python.so" beside the module: install the package libnginx-mod-http-asgi-python
a native app: nginx -t ok

=== TEST 20: an asgi_app name longer than the runtime takes fails nginx -t
--- config eval
"asgi_python_path \$ROOT/t/apps/python;\nlocation / { asgi_app m:" . ("a" x 520) . "; }"
--- must_die: longer than 511 bytes
