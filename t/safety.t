# Safety and HTTP fidelity, tried as users and attackers would: tasks that
# outlive their request, responses nginx cannot write at once (loopback,
# a 32k send buffer, HTTP/2's default window), content-lengths apps break,
# odd statuses and paths, uploads refused or abandoned, Expect, FINs that
# come with the request. Each block names the behaviour it proves
# (docs/behaviours.md); each failed on the code before its fix.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: L6 a task that outlives its request: receive() returns http.disconnect, another client's upload arrives intact
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py late $PORT receive
--- response_body
200 answered
200 posted body intact
--- record
late receive http.disconnect
--- error_log
late call: receive after the app finished the request
--- no_error_log
[error]

=== TEST 2: L6 a late send() raises RuntimeError naming the message, one error line, the worker serves on
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py late $PORT send
--- response_body
200 answered
200 posted body intact
--- record
late send raised RuntimeError ASGI send of 'http.response.body' after the app finished the request
--- error_log
late call: http.response.body after the app finished the request
--- no_record
late send returned

=== TEST 3: L6 a late send() after the client left raises ClientDisconnected (an OSError)
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /late?op=send-after-leave&wait=0.3
--- abort
--- timeout: 0.2
--- record
late send-after-leave raised ClientDisconnected
--- error_log
refused, the client had disconnected
--- access_log
499 client_disconnected /late?op=send-after-leave&wait=0.3
--- no_error_log
[error]

=== TEST 4: L6 a native app that holds its scope and calls after finish and release is refused
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/late?ms=300
--- error_code: 200
--- response_body
answered
--- record
late-calls receive=-9 send=-9 /late
--- error_log
late call: receive after the app finished the request

=== TEST 5: S8 a 5 MB one-message response on loopback: send() returns, the app goes on
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /onemsg?size=5000000
--- error_code: 200
--- response_body_like: ^(?:y{50000}){100}$
--- record
onemsg sent 5000000
--- access_log
200 complete /onemsg?size=5000000
--- after
is(status_json()->{running_apps}, 0, "S8 no app task left suspended");

=== TEST 6: S8 300 kB in one message through a 32k send buffer
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- port: small
--- request
GET /onemsg?size=300000
--- error_code: 200
--- response_body_like: ^(?:y{30000}){10}$
--- record
onemsg sent 300000
--- after
is(status_json()->{running_apps}, 0, "S8 no app task left suspended");

=== TEST 7: S8 100 kB in one message over HTTP/2 with the default 65,535-byte window
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/h2client.py $H2PORT get /onemsg?size=100000
--- response_body
/onemsg?size=100000 200 100000 ended
--- record
onemsg sent 100000
--- after
is(status_json()->{running_apps}, 0, "S8 no app task left suspended");

=== TEST 8: S8 a one-message response the client cuts is its 499, and the app's send() says so
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py readsome $SMALLPORT /onemsg?size=3000000 100000
--- response_body
read True
--- record
onemsg raised ClientDisconnected
--- access_log
499 client_disconnected /onemsg?size=3000000

=== TEST 9: S6 a body longer than the app's content-length: never a byte beyond it on a keep-alive connection
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py pipeline $PORT "/length?cl=5&parts=hello,world" /hello
--- response_body
first HTTP/1.1 200 OK body b'hello'
then closed
after it b''
--- error_log
beyond the 5 bytes of the response's content-length: the response is cut
--- access_log
200 app_error /length?cl=5&parts=hello,world

=== TEST 10: S6 a body shorter than its content-length: the connection closes at once, the client is not left hanging
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py pipeline $PORT "/length?cl=10&parts=hel,lo" /hello
--- response_body
first HTTP/1.1 200 OK body b'hel'
then closed
after it b''
--- error_log
the response body ended after 5 of the 10 bytes of its content-length
--- access_log
200 app_error /length?cl=10&parts=hel,lo

=== TEST 11: S6 conflicting content-length values: a 500 before anything is written
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /length?cl=5+6&parts=hello
--- error_code: 500
--- response_body
Internal Server Error
--- error_log
conflicting content-length values in http.response.start
--- access_log
500 app_error /length?cl=5+6&parts=hello

=== TEST 12: S6 over HTTP/2 a body beyond the content-length resets the stream
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/h2client.py $H2PORT get "/length?cl=5&parts=hello,world"
--- response_body
/length?cl=5&parts=hello,world 200 5 reset
--- error_log
the response is cut

=== TEST 13: S7 a 1xx status as the final response is an app error: 500; one out of range is named in the error
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
for c in 100 101 103 199 1000 4294967296; do curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/status?code=$c"; done
--- response_body
500
500
500
500
500
500
--- error_log
status 101 in http.response.start: a 1xx status is not a final response
invalid status 1000 in http.response.start
invalid status 2147483647 in http.response.start

=== TEST 14: S7 a 205 carries no body, whatever the app sends
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /status?code=205
--- error_code: 205
--- response_body:
--- response_headers
content-length: 0

=== TEST 15: S4 S7 header values with control bytes other than HTAB are refused
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
for b in 1 127 27 9; do curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/header?byte=$b"; done
--- response_body
500
500
500
200
--- error_log
a control character in a value: not written

=== TEST 16: L7 the client leaves (FIN) while its upload is paused: noticed at once, grace, then cancel
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 300ms;
client_max_body_size 100m;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py upload $PORT /upload?s=30 100000 fin
--- response_body
sent part of the upload
--- record
upload cancelled while paused
--- access_log
499 cancelled_after_grace /upload?s=30
--- error_log
client closed the connection while its request body was paused

=== TEST 17: L7 the client resets while a large upload is paused: noticed at once
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 300ms;
client_max_body_size 100m;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py upload $PORT /upload?s=30 2000000 rst
--- response_body
sent part of the upload
--- record
upload cancelled while paused
--- access_log
499 cancelled_after_grace /upload?s=30
--- error_log
client closed the connection while its request body was paused

=== TEST 18: R11 two pending receive() calls: the disconnect wakes both
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /listeners
--- abort
--- timeout: 0.3
--- record
listeners http.disconnect http.disconnect
--- access_log
499 client_disconnected /listeners

=== TEST 19: R12 a path with invalid UTF-8: U+FFFD, printable and loggable; raw_path keeps the bytes
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- raw_request eval
"GET /utf8/%FF%C3(%F0%9F%98%80%ED%A0%80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
--- error_code: 200
--- response_body eval
"/utf8/\xef\xbf\xbd\xef\xbf\xbd(\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd /utf8/%FF%C3(%F0%9F%98%80%ED%A0%80"
--- error_log eval
[qr/\[info\] .*asgi: path is \/utf8\/\xef\xbf\xbd\xef\xbf\xbd\(/,
 qr/\[warn\] .*asgi: rawapp: path \/utf8\//]
--- apache_error_log eval
[qr/\[asgi:info\] .*\] path is \/utf8\/\\xef\\xbf\\xbd\\xef\\xbf\\xbd\(/,
 qr/\[asgi:warn\] .*\] rawapp: path \/utf8\//]
--- no_error_log
Traceback
[error]

=== TEST 20: R12 the decoded path equals Python's own decoding, for 300 random byte strings
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/utf8_paths.py $PORT 300
--- response_body
300 of 300 paths as Python decodes them

=== TEST 21: item 8 an answer before the upload was read says Connection: close, so no next request is lost
--- config
client_max_body_size 100m;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py reuse $PORT /early 2097152
--- response_body
HTTP/1.1 401 Unauthorized
connection: ['close']
next request on it: not sent (close)

=== TEST 22: item 8 an upload read whole keeps the connection alive
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py reuse $PORT /upload 300000
--- response_body
HTTP/1.1 200 OK
connection: ['keep-alive']
next request on it: answered
--- apache_response_body
HTTP/1.1 200 OK
connection: []
next request on it: answered

=== TEST 23: B2 item 10 an app that fails after http.response.start, before any body: a real 500
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
for how in raise return; do curl -s -w ' %{http_code}\n' "http://127.0.0.1:$PORT/startfail?how=$how"; done
--- response_body
Internal Server Error
 500
Internal Server Error
 500
--- access_log
500 app_error /startfail?how=raise
500 app_error /startfail?how=return

=== TEST 24: item 11 the response head goes out before the first event of a stream
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py head $PORT /sse?s=1
--- response_body
HTTP/1.1 200 OK
head before the event: True

=== TEST 25: item 12 Expect: 100-continue is answered when the app first reads the body
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py expect $PORT /upload?s=0.5 1000
--- response_body
100 Continue after 0.4 s or more
HTTP/1.1 200 OK
connection: ['close']
body 1000

=== TEST 26: item 12 an upload the app refuses is never asked for
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py expect $PORT /early 1000000
--- response_body
no 100 Continue
HTTP/1.1 401 Unauthorized
connection: ['close']
body denied

=== TEST 27: L2 requests sent with their FIN are never dispatched, 20 of 20
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- warmup: /hello
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py fin $PORT /dispatched 20
--- response_body
sent 20
--- no_record
dispatched
--- after
my $c = status_json();
is($c->{not_dispatched}, 20, "L2 all 20 counted as not dispatched");
is($c->{disconnected}, 20, "L2 all 20 ended as client_disconnected");
my $n = () = `cat @{[servroot()]}/logs/access.log` =~ m{^499 client_disconnected /dispatched$}mg;
is($n, 20, "L2 logged 20 times 499");

=== TEST 28: limit_rate paces a streamed response to its end (the rate's delay is not mistaken for a drain)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; limit_rate 1m; send_timeout 5s; }
--- request
GET /big?size=600000
--- timeout: 10
--- error_code: 200
--- response_body_like: ^(?:x{60000}){10}$
--- access_log
200 complete /big?size=600000

=== TEST 29: limit_rate over HTTP/2 too
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; limit_rate 1m; send_timeout 5s; }
--- exec
curl -s --http2-prior-knowledge -m 10 -o /dev/null -w '%{http_code} %{size_download}\n' http://127.0.0.1:$H2PORT/big?size=600000
--- response_body
200 600000
--- access_log
200 complete /big?size=600000

=== TEST 30: S5 a stream whose chunks grow (42 MB, up to 205 kB each) holds one chunk, not their sum
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /hello
--- error_code: 200
--- after
my $pid = status_json()->{pid};
my ($before) = `cat /proc/$pid/status` =~ /VmHWM:\s+(\d+)/;
my $got = `curl -s -o /dev/null -w '%{http_code} %{size_download}' 'http://127.0.0.1:@{[server_port()]}/grow?n=400&step=500'`;
is($got, "200 41900000", "S5 the whole stream arrived");
my ($after) = `cat /proc/$pid/status` =~ /VmHWM:\s+(\d+)/;
SKIP: {
    # ASan's quarantine keeps freed memory: this is measured plain only
    skip "peak memory is ASan's quarantine here", 1 if $ENV{ASGI_SANITIZE};
    ok($after - $before < 10000, "S5 the 42 MB growing stream raised the worker's peak memory by " . ($after - $before) . " kB (< 10 MB)");
}

=== TEST 31: a send() after a cancelled one follows it instead of failing
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
curl -s -o /dev/null -w '%{http_code} %{size_download}\n' http://127.0.0.1:$PORT/cancelsend
--- response_body
200 4000004
--- record
cancelsend: the send was cancelled
--- access_log
200 complete /cancelsend
--- no_error_log
[error]

=== TEST 32: two tasks sending at once each wait their turn
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
curl -s http://127.0.0.1:$PORT/concsend | /usr/bin/python3 -c 'import sys; d = sys.stdin.buffer.read(); print(len(d), d.count(b"a"), d.count(b"b"), d.endswith(b"END\n"))'
--- response_body
4000004 2000000 2000000 True
--- access_log
200 complete /concsend
--- no_error_log
[error]

=== TEST 33: subrequests: an SSI include of an ASGI location (Python and native), and auth_request allowing and denying
--- config
asgi_python_path $ROOT/t/apps/python;
location /p/ { asgi_app rawapp:app; }
location /t/ { asgi_native_app $TEST_APP threaded; }
location /ssi/ { ssi on; default_type text/html; return 200 'py <!--# include virtual="/p/hello" --> native <!--# include virtual="/t/hello" --> end'; }
location /allowed/ { auth_request /p/hello; asgi_native_app $TEST_APP threaded; }
location /denied/ { auth_request /p/early; asgi_native_app $TEST_APP threaded; }
--- exec
curl -s -m 5 http://127.0.0.1:$PORT/ssi/; echo; curl -s -m 5 http://127.0.0.1:$PORT/allowed/hello; curl -s -m 5 -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/denied/hello
--- response_body
py Hello from Python
 native Hello, world!
 end
Hello, world!
401
--- no_error_log
[error]

=== TEST 34: S4 hop-by-hop headers from the app are dropped: the server frames the body, a forged response inside it stays body
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/probe.py responses $PORT /hopbyhop /hello
--- response_body
200 b'0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nFORGED!'
200 b'Hello from Python\n'

=== TEST 34b: an app's "Connection: close" closes the connection after its response: a request pipelined behind it is not answered
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
for v in Close keep-alive,CLOSE closed-caption x-close; do
  /usr/bin/python3 $ROOT/t/tools/probe.py responses $PORT "/closeconn?v=$v" /hello
done
--- response_body
200 b'bye\n'
None b''
200 b'bye\n'
None b''
200 b'bye\n'
200 b'Hello from Python\n'
200 b'bye\n'
200 b'Hello from Python\n'

=== TEST 34c: S6 a client that leaves with all of the content-length, before the app ends its body, did not abort: 200, and the app's last message is taken
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /length?cl=5&parts=hello,&gap=1
--- abort
--- timeout: 0.3
--- record
length sent all
--- access_log
200 complete /length?cl=5&parts=hello,&gap=1
--- no_error_log
[error]

=== TEST 34d: S6 the same through nginx's gzip, which ends the body its own way: the client that leaves before the end did abort (499)
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; gzip on; gzip_types *; gzip_min_length 0; }
--- more_headers
Accept-Encoding: gzip
--- request
GET /length?cl=5&parts=hello,&gap=1
--- abort
--- timeout: 0.3
--- no_record
length sent all
--- access_log
499 client_disconnected /length?cl=5&parts=hello,&gap=1
--- apache_skip: nginx's gzip filter (mod_asgi does not yet tell the library when mod_deflate reframes a body)

=== TEST 35: R3 a chunked body with broken framing is the server's 400, not a client's 499
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- raw_request eval
"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n"
--- error_code: 400
--- access_log eval
qr{^400 (-|client_disconnected) /echo$}m

=== TEST 36: R1 an absolute-form request target: path and raw_path are its path alone
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- raw_request eval
"GET http://elsewhere.example/x/p%61ths?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
--- error_code: 200
--- response_body
 /x/paths b'/x/p%61ths'

=== TEST 37: S4 over HTTP/2, fields it forbids (Proxy-Connection, TE) in a response or its trailers are dropped and a repeated content-length is one: the stream stays valid
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
d=$(mktemp -d)
for q in "" "?trailers=1"; do
  curl -s --http2-prior-knowledge -D $d/head -o $d/body "http://127.0.0.1:$H2PORT/h2fields$q"; echo "curl $? body $(cat $d/body)"
  tr -d '\r' < $d/head | grep -iE '^(content-length|te|proxy-connection|x-checksum):'
done
rm -rf "$d"
--- response_body
curl 0 body hello
content-length: 5
curl 0 body hello
x-checksum: abc
