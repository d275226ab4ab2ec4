# Requests through nginx with the native test app, inline and threaded:
# bodies in and out (R1, R2, S1), misbehaving apps (B2), the counters.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: R1 a request without a body, inline app
--- config
location /inline/ { asgi_native_app $TEST_APP inline; }
--- request
GET /inline/hello
--- error_code: 200
--- response_body
Hello, world!
--- response_headers
Content-Type: text/plain
--- access_log
200 complete /inline/hello

=== TEST 2: R1 a request without a body, threaded app
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/hello
--- error_code: 200
--- response_body
Hello, world!
--- access_log
200 complete /t/hello

=== TEST 3: R2 a body with Content-Length reaches the app whole
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
POST /t/echo
the body, sent with a Content-Length
--- error_code: 200
--- response_body chomp
the body, sent with a Content-Length

=== TEST 4: R2 a chunked body is de-chunked, in order
--- config
location /inline/ { asgi_native_app $TEST_APP inline; }
--- raw_request eval
"POST /inline/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n1\r\n,\r\n6\r\nsecond\r\n0\r\n\r\n"
--- error_code: 200
--- response_body chomp
first,second

=== TEST 5: R2 a body larger than nginx's buffers, read slowly by the app
--- config
client_body_buffer_size 1k;
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request eval
"POST /t/slowread?ms=1\n" . ("0123456789" x 20000)
--- error_code: 200
--- response_body
200000
--- timeout: 20

=== TEST 6: S1 a response streamed in chunks
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/stream?n=4&ms=20
--- error_code: 200
--- response_body
chunk 0
chunk 1
chunk 2
chunk 3

=== TEST 7: B2 an app that raises before responding: 500, one error line
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/raise
--- error_code: 500
--- response_body
Internal Server Error
--- error_log
asgi: app failed: RuntimeError: the test app raised
--- access_log
500 app_error /t/raise

=== TEST 8: B2 an app that returns without a response: 500
--- config
location /inline/ { asgi_native_app $TEST_APP inline; }
--- request
GET /inline/noresponse
--- error_code: 500
--- error_log
app returned without sending a response
--- access_log
500 app_error /inline/noresponse

=== TEST 9: B2 an app that raises mid-response: the connection is closed
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/raise-late
--- error_code: 200
--- response_body_like: ^partialp+$
--- error_log
the test app raised mid-response
--- access_log
200 app_error /t/raise-late

=== TEST 10: S4 a header with CR LF is never written
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/badheader
--- error_code: 500
--- error_log
a control character in a value: not written
--- access_log
500 app_error /t/badheader

=== TEST 11: S4 an empty header value given with no data is written empty
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/empty-header
--- error_code: 200
--- response_body
ok
--- response_headers
X-Empty: 
--- access_log
200 complete /t/empty-header

=== TEST 12: S2 http.response.start twice is an app error
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/twice
--- error_log
http.response.start sent twice
--- access_log
200 app_error /t/twice

=== TEST 13: asgi_status reports the counters as text and JSON
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
location = /status { asgi_status; }
--- request
GET /status
--- error_code: 200
--- response_body_like
live scopes: 0
opened: 0
completed: 0

=== TEST 14: a threaded native app's thread leaves signals to nginx
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/hello
--- error_code: 200
--- after
app_threads_leave_signals();

=== TEST 15: asgi_status?format=prometheus follows the text format's grammar and agrees with the JSON
--- config
asgi_python_path $ROOT/t/apps/python;
location /t/ { asgi_native_app $TEST_APP threaded; }
location /py/ { asgi_app "rawapp:app"; }
--- exec
/usr/bin/python3 $ROOT/t/tools/prom_check.py $PORT /t/hello 5
--- response_body_like
^content type: text/plain; version=0\.0\.4; charset=utf-8
\d+ samples, grammar ok, figures agree with the JSON; completed 5
app states: .*\{app="rawapp:app",state="ready"\}
