# The Python ASGI runtime (first slice of issue 4): a raw ASGI 3 app in the
# nginx worker, through the same module and library as native apps.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: R1 S1 a raw ASGI app answers
--- main_config
env ASGI_RECORD=$RECORD;
--- config
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request
GET /hello
--- error_code: 200
--- response_body
Hello from Python
--- access_log
200 complete /hello

=== TEST 2: the ASGI scope
--- config
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request
GET /a/scope?x=1
--- error_code: 200
--- response_body
3.0 2.4 1.1 GET b'x=1' /a/scope localhost

=== TEST 3: R2 a body in, S1 a streamed response out
--- config
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request eval
"POST /echo\n" . ("python " x 20000)
--- error_code: 200
--- response_body eval
"python " x 20000

=== TEST 4: S1 streaming
--- config
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request
GET /stream
--- response_body
part 0
part 1
part 2

=== TEST 5: R6 S3 the client leaves: receive() returns http.disconnect, send() raises an OSError, no app error
--- main_config
env ASGI_RECORD=$RECORD;
--- config
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request
GET /cleanup
--- abort
--- timeout: 0.3
--- record
http.disconnect cleanup
send raised ClientDisconnected cleanup
--- access_log
499 client_disconnected /cleanup
--- no_error_log
[error]

=== TEST 6: G2 G5 an app that ignores the disconnect gets CancelledError after the grace period
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 300ms;
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request
GET /ignore
--- abort
--- timeout: 0.2
--- record
http.disconnect ignore
cancelled ignore
--- access_log
499 cancelled_after_grace /ignore
--- no_error_log
[error]

=== TEST 7: B2 an exception: 500 and the traceback in one error line
--- config
location / { asgi_native_app $BUILD/asgi_python.so "rawapp:app path=$ROOT/t/apps/python"; }
--- request
GET /raise
--- error_code: 500
--- error_log
ValueError: the Python test app raised
--- access_log
500 app_error /raise

=== TEST 8: an app that cannot be imported: 500 with the reason, the worker keeps serving
--- config
location / { asgi_native_app $BUILD/asgi_python.so "broken:app path=$ROOT/t/apps/python"; }
--- request
GET /anything
--- error_code: 500
--- error_log
cannot load the ASGI app 'broken:app'
this test app cannot be imported
