# The websocket scope through nginx: the 101 and the connection taken over
# (module/ngx_http_asgi_websocket.c), raw ASGI apps in the Python runtime
# (t/apps/python/wsapp.py), a scripted raw-socket client
# (t/tools/wsclient.py).
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: W1 W4 W5 W7 an echo: the 101, messages both ways, the client's close echoed, the app told its code
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo -show upgrade -show connection -show sec-websocket-accept 'text hello' recv 'binary 300' recv 'close 4001 see you' recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
upgrade: websocket
connection: upgrade
sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
text: hello
binary: 300 bytes
close 4001 ''
eof
--- record
disconnect 4001 'see you' echo
--- access_log
101 complete /ws/echo

=== TEST 2: W1 the scope: spec 2.5, ws scheme, subprotocols offered, the denial extension
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT '/a/scope?x=1' -H 'Sec-WebSocket-Protocol: chat, superchat' -H 'Sec-WebSocket-Protocol: json' recv recv close recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: 2.5 ws 1.1 /a/scope b'x=1' ['websocket.http.response'] ['chat', 'superchat', 'json']
text: asgi,client,extensions,headers,http_version,path,query_string,raw_path,root_path,scheme,server,subprotocols,type
close (no code)
eof

=== TEST 3: W3 the subprotocol chosen and the app's headers reach the client
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/subprotocol -H 'Sec-WebSocket-Protocol: chat, superchat' -show sec-websocket-protocol -show x-chosen 'close 1000' recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
sec-websocket-protocol: superchat
x-chosen: yes
close 1000 ''
eof

=== TEST 4: W3 a subprotocol the client did not offer is an app error: no 101
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/badsubprotocol -H 'Sec-WebSocket-Protocol: chat'
--- response_body_like
^HTTP/1.1 500 Internal Server Error
--- record
accept refused
--- error_log
which the client did not offer
--- access_log
500 app_error /ws/badsubprotocol

=== TEST 5: W2 websocket.close before accept: 403
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/deny -show connection
--- response_body
HTTP/1.1 403 Forbidden
connection: close
--- record
denied
--- access_log
403 complete /ws/deny

=== TEST 6: W2 the denial response extension
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/denial -show www-authenticate
--- response_body
HTTP/1.1 401 Unauthorized
www-authenticate: Bearer
who are you?

=== TEST 7: W1 a bad handshake never reaches the app: 400; another version: 426 naming 13
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo -H 'Sec-WebSocket-Key: short'; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo -H 'Sec-WebSocket-Version: 8' -show sec-websocket-version
--- response_body_like
^HTTP/1.1 400 Bad Request
.*
HTTP/1.1 426 Upgrade Required
sec-websocket-version: 13
--- access_log
400 complete /ws/echo
426 complete /ws/echo

=== TEST 8: W14 an app that returns without closing closes with 1000
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/return recv recv 'close 1000' eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: bye
close 1000 ''
eof
--- access_log
101 complete /ws/return

=== TEST 9: W14 an app that raises closes with 1011 and its error line
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/raise recv recv 'close 1011' eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: about to fail
close 1011 ''
eof
--- error_log
ValueError: the app failed on purpose
--- access_log
101 app_error /ws/raise

=== TEST 10: W7 W10 the app closes: its frame, the client's reply, then disconnect; send() after raises ClientDisconnected
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/close recv recv 'close 4000' eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: hi
close 4000 'done here'
eof
--- record
after close websocket.disconnect 4000
send after close raised ClientDisconnected
--- no_error_log
[error]
--- access_log
101 complete /ws/close

=== TEST 11: W5 a connection lost without a close frame is 1006; W11 the grace period, then one cancel
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_disconnect_grace_period 200ms;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/linger 'text x' recv drop
--- response_body
HTTP/1.1 101 Switching Protocols
text: x
dropped
--- record
disconnect 1006 '' linger
cancelled linger
--- access_log
101 client_disconnected /ws/linger

=== TEST 12: W5 a close frame without a code is 1005 to the app, an empty close on the wire
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo close recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
close (no code)
eof
--- record
disconnect 1005 '' echo

=== TEST 13: W6 every message before the close frame is delivered before the disconnect (frames sent before the 101; the ping answered at once)
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/collect 'text one' 'binary 3' 'frame 0 1 7468' 'ping p' 'frame 1 0 726565' 'close 1000' recvall eof
--- response_body
HTTP/1.1 101 Switching Protocols
pong 'p'
close 1000 ''
eof
--- record
collected one,3 bytes,three then 1000

=== TEST 14: W8 protocol violations: unmasked 1002, reserved bits 1002, bad UTF-8 1007, over the limit 1009
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_max_message 1k;
location / { asgi_app wsapp:app; }
--- exec
cd $ROOT/t/tools && for s in 'frame 1 1 6869 unmasked' 'frame 1 1 6869 rsv' 'frame 1 1 ceffba' 'binary 1025'; do /usr/bin/python3 wsclient.py $PORT /ws/echo "$s" recv eof | tail -n +2; done
--- response_body
close 1002 ''
eof
close 1002 ''
eof
close 1007 ''
eof
close 1009 ''
eof
--- record
disconnect 1002 '' echo
disconnect 1007 '' echo
disconnect 1009 '' echo
--- error_log
WebSocket closed with 1002: the client sent an unmasked frame
WebSocket closed with 1007: the client sent a text message that is not UTF-8

=== TEST 15: W10 send() after the client left raises ClientDisconnected, no app error
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/sendafter 'close 1001' recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
close 1001 ''
eof
--- record
disconnect 1001 '' sendafter
send raised ClientDisconnected True
--- no_error_log
[error]

=== TEST 16: W9 a ping gets a pong; the server pings an idle client, and one that answers nothing is lost (1006)
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_ping_interval 300ms;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'ping hi' recv recv 'sleep 1.5' eof
--- response_body_like
^HTTP/1.1 101 Switching Protocols
pong 'hi'
ping '.*'
(unexpected \d+ bytes\n)*eof
--- record
disconnect 1006 '' echo
--- access_log
101 client_disconnected /ws/echo

=== TEST 17: HTTP/2 has no upgrade: a request asking for a WebSocket over it is a 400 (the module's, or newer nginx's own); plain HTTP still reaches the app
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/h2upgrade.py $H2PORT; curl -s http://127.0.0.1:$PORT/plain
--- response_body
400
plain HTTP http
--- error_log eval
qr/asgi: a WebSocket asked for over HTTP\/2, which has no upgrade|client sent "(Upgrade|Connection)" header/

=== TEST 18: W12 a client that does not read makes send() wait; its reset releases the waiting send at once
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $SMALLPORT /ws/flood 'sleep 1' rst
--- response_body
HTTP/1.1 101 Switching Protocols
reset
--- record
flood stopped after few ClientDisconnected
--- access_log
101 client_disconnected /ws/flood

=== TEST 19: W13 W9 an app that does not receive stops the reading (the client's sends block), and no pong timeout while paused
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_ping_interval 200ms;
asgi_disconnect_grace_period 100ms;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/deaf 'noread 2' rst
--- response_body
HTTP/1.1 101 Switching Protocols
sent under 64 MiB
reset
--- record
cancelled deaf
--- access_log
101 client_disconnected /ws/deaf

=== TEST 20: W15 a reload closes open WebSockets with 1001: the client's reply ends the handshake, the app hears 1001, the old worker exits
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
out=$SERVROOT/ws.out; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'text a' recv recv 'close 1001' eof > $out & for i in $(seq 200); do grep -qs 'text: a' $out && break; sleep 0.05; done; kill -HUP $(cat $SERVROOT/logs/nginx.pid); wait; cat $out
--- response_body
HTTP/1.1 101 Switching Protocols
text: a
close 1001 ''
eof
--- record
disconnect 1001 '' echo
--- access_log
101 complete /ws/echo
--- error_log eval
qr/gracefully shutting down/

=== TEST 21: W15 nginx -s quit closes every open WebSocket with 1001 (one receiving, one sending), then nginx exits
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/count recv recvall 'close 1001' eof > a.out & cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'text b' recv recv 'close 1001' eof > b.out & cd $SERVROOT; for i in $(seq 200); do grep -qs 'text: b' b.out && grep -qs 'text: 1' a.out && break; sleep 0.05; done; kill -QUIT $(cat logs/nginx.pid); wait; grep -E '^(close|eof)' a.out; cat b.out; for i in $(seq 100); do test -e logs/nginx.pid || break; sleep 0.1; done; test -e logs/nginx.pid && echo still running || echo nginx exited
--- response_body
close 1001 ''
eof
HTTP/1.1 101 Switching Protocols
text: b
close 1001 ''
eof
nginx exited
--- record
disconnect 1001 '' echo
counter stopped 1001
--- live_check_after
--- access_log
101 complete /ws/echo
101 complete /ws/count

=== TEST 21b: W15 with a worker_shutdown_timeout under two seconds, a quit's 1001 comes at half of it, before nginx closes the connections
--- apache_skip: nginx's shutdown hold and worker_shutdown_timeout
--- main_config
env ASGI_RECORD=$RECORD;
worker_shutdown_timeout 200ms;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'text b' recv recv 'close 1001' eof > b.out & cd $SERVROOT; for i in $(seq 200); do grep -qs 'text: b' b.out && break; sleep 0.05; done; kill -QUIT $(cat logs/nginx.pid); wait; cat b.out
--- response_body
HTTP/1.1 101 Switching Protocols
text: b
close 1001 ''
eof
--- record
disconnect 1001 '' echo
--- live_check_after

=== TEST 21c: W15 a quit's 1001 is written when the hold sends it: nginx's shutdown timer, expiring in the same pass over the timers (the worker was busy), closes the connections only after it
--- apache_skip: nginx's shutdown hold and worker_shutdown_timeout
--- main_config
env ASGI_RECORD=$RECORD;
worker_shutdown_timeout 1s;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
location /i/ { asgi_native_app $TEST_APP inline; }
--- exec
cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'text b' recv recv eof > b.out & cd $SERVROOT; for i in $(seq 200); do grep -qs 'text: b' b.out && break; sleep 0.05; done; /usr/bin/python3 $ROOT/t/tools/quit_then_block.py $PORT $SERVROOT '/i/block?ms=1500'; wait; cat b.out
--- response_body
HTTP/1.1 101 Switching Protocols
text: b
close 1001 ''
eof
--- live_check_after

=== TEST 21d: W15 a WebSocket accepted after a quit's 1001s went gets its own at once, before worker_shutdown_timeout closes it
--- apache_skip: nginx's shutdown hold and worker_shutdown_timeout
--- main_config
env ASGI_RECORD=$RECORD;
worker_shutdown_timeout 1500ms;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
cd $SERVROOT && rm -f go && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'text a' recv recv 'close 1001' eof > a.out & cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/acceptongo recv 'close 1001' eof > b.out & cd $SERVROOT; for i in $(seq 200); do grep -qs 'text: a' a.out && grep -qs 'waiting to accept' record && break; sleep 0.05; done; kill -QUIT $(cat logs/nginx.pid); for i in $(seq 200); do grep -qs 'close 1001' a.out && break; sleep 0.01; done; touch go; wait; cat b.out
--- response_body
HTTP/1.1 101 Switching Protocols
close 1001 ''
eof
--- live_check_after

=== TEST 22: invalid asgi_websocket_* values fail nginx -t naming the directive
--- config
location / { asgi_native_app $TEST_APP threaded; asgi_websocket_max_message 0; }
--- must_die: "asgi_websocket_max_message" directive must be at least 1 byte

=== TEST 23: a close timeout of 0 fails nginx -t
--- config
asgi_websocket_close_timeout 0;
location / { asgi_native_app $TEST_APP threaded; }
--- must_die: "asgi_websocket_close_timeout" directive must be more than 0

=== TEST 24: a malformed ping interval fails nginx -t
--- config
location / { asgi_native_app $TEST_APP threaded; asgi_websocket_ping_interval often; }
--- must_die: "asgi_websocket_ping_interval" directive invalid value

=== TEST 25: W7 an app close the client never answers ends after asgi_websocket_close_timeout: the app hears 1006
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_ping_interval 0;
asgi_websocket_close_timeout 300ms;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/close recv recv 'sleep 1' 'text still here' eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: hi
close 4000 'done here'
eof
--- record
after close websocket.disconnect 1006

=== TEST 26: Starlette: a WebSocket endpoint echoes, and sees the client's code in WebSocketDisconnect
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsframeworks:star; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/star/echo 'text hello' recv 'close 4002 gone' recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: starlette: hello
close 4002 ''
eof
--- record
starlette disconnect 4002
--- access_log
101 complete /ws/star/echo

=== TEST 27: Starlette: close before accept is 403; close after accept sends its code and reason
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsframeworks:star; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/star/deny; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/star/close recv recv 'close 4003' eof
--- response_body
HTTP/1.1 403 Forbidden
HTTP/1.1 101 Switching Protocols
text: {"bye": true}
close 4003 'policy'
eof

=== TEST 28: FastAPI: path and query parameters, JSON both ways, WebSocketDisconnect with the code; plain HTTP on the same path
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsframeworks:fast; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT '/ws/fast/lobby?token=abc' recv 'text {"n": 1}' recv 'close 1000' recv eof; curl -s http://127.0.0.1:$PORT/ws/fast/lobby; echo
--- response_body
HTTP/1.1 101 Switching Protocols
text: {"room": "lobby", "token": "abc"}
text: {"echo": {"n": 1}}
close 1000 ''
eof
{"http":"lobby"}
--- record
fastapi disconnect 1000

=== TEST 29: FastAPI: an endpoint that raises closes with 1011 and logs its traceback
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsframeworks:fast; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/fast/x recv 'text {"fail": 1}' recv 'close 1011' eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: {"room": "x", "token": null}
close 1011 ''
eof
--- error_log
RuntimeError: the endpoint failed on purpose
--- access_log
101 app_error /ws/fast/x

=== TEST 30: Django Channels: a chat room over the in-memory channel layer, two clients, disconnect codes
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wschannels.asgi:application; }
--- exec
cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /chat/lobby recv 'close 4001' recv eof > b.out & cd $SERVROOT; for i in $(seq 200); do grep -qs 'HTTP/1.1 101' b.out && break; sleep 0.05; done; sleep 0.2; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /chat/lobby 'text hi all' recv 'close 1000' recv eof; wait; cat b.out; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /chat/closed; curl -s http://127.0.0.1:$PORT/chat/hello
--- response_body
HTTP/1.1 101 Switching Protocols
text: {"message": "hi all"}
close 1000 ''
eof
HTTP/1.1 101 Switching Protocols
text: {"message": "hi all"}
close 4001 ''
eof
HTTP/1.1 403 Forbidden
Hello from Django
--- record
channels disconnect 1000
channels disconnect 4001
--- timeout: 30

=== TEST 30b: Django Channels: a synchronous consumer, whose thread sends through asgiref's async_to_sync (which warns of a send that is not marked as a coroutine function)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wschannels.asgi:application; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /echo 'text one' recv 'text two' recv 'close 1000' recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
text: sync echo: one
text: sync echo: two
close 1000 ''
eof
--- no_error_log
non-async-marked
[error]
--- timeout: 30

=== TEST 31: W15 W11 a client that never answers the 1001 of a quit: after the close timeout its app hears 1006, gets its grace period and its cancel, then nginx exits
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_close_timeout 300ms;
asgi_disconnect_grace_period 300ms;
location / { asgi_app wsapp:app; }
--- exec
cd $SERVROOT && /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/linger 'text a' recv recv 'sleep 3' > a.out & cd $SERVROOT; for i in $(seq 200); do grep -qs 'text: a' a.out && break; sleep 0.05; done; kill -QUIT $(cat logs/nginx.pid); wait; cat a.out; for i in $(seq 100); do test -e logs/nginx.pid || break; sleep 0.1; done; test -e logs/nginx.pid && echo still running || echo nginx exited
--- response_body
HTTP/1.1 101 Switching Protocols
text: a
close 1001 ''
nginx exited
--- record
disconnect 1006 '' linger
cancelled linger
--- live_check_after

=== TEST 32: W1 a refused upgrade ends the connection: frames sent behind it are never read as a request
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/denial -show connection; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo -H 'Sec-WebSocket-Protocol: a b' -show connection
--- response_body_like
^HTTP/1.1 401 Unauthorized
connection: close
who are you\?
HTTP/1.1 400 Bad Request
connection: close
a Sec-WebSocket-Protocol value that is not a token

=== TEST 33: an app that dies while its large message is still being written (slow client): the frame arrives whole, then 1011
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $SMALLPORT /ws/killmid 'sleep 1' recv recv 'close 1011' eof
--- response_body
HTTP/1.1 101 Switching Protocols
binary: 8388608 bytes
close 1011 ''
eof
--- error_log
RuntimeError: killed mid-message
--- access_log
101 app_error /ws/killmid

=== TEST 34: a native inline app takes WebSockets (ASGICORE_APP_WEBSOCKET): echo, fragments and pings, the client's close; 403 before accept
--- main_config
env ASGI_RECORD=$RECORD;
--- config
location /i/ { asgi_native_app $TEST_APP "inline websocket record=$RECORD"; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /i/echo 'text one' recv 'frame 0 2 0102' 'ping x' 'frame 1 0 03' recv recv 'close 4005' recv eof; /usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /i/wsdeny
--- response_body
HTTP/1.1 101 Switching Protocols
text: one
pong 'x'
binary: 3 bytes
close 4005 ''
eof
HTTP/1.1 403 Forbidden
--- record
ws-disconnect 4005 /i/echo
--- access_log
101 complete /i/echo
403 complete /i/wsdeny

=== TEST 35: a native threaded app: a large echo to a slow client, then a violation (1009)
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_websocket_max_message 300000;
location /t/ { asgi_native_app $TEST_APP "threaded websocket record=$RECORD"; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $SMALLPORT /t/echo 'binary 300000' recv 'binary 300001' recv eof
--- response_body
HTTP/1.1 101 Switching Protocols
binary: 300000 bytes
close 1009 ''
eof
--- record
ws-disconnect 1009 /t/echo
--- error_log
WebSocket closed with 1009: the client sent

=== TEST 36: W7 the client's close comes while a flood fills its socket, then it leaves (reset, or garbage then FIN): each scope ends, none is kept
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
for end in "close 1000|sleep 0.3|rst" "raw ffff|sleep 0.3|drop" "close 4000|drop"; do
  IFS='|'; set -- $end; unset IFS
  /usr/bin/python3 $ROOT/t/tools/wsclient.py $SMALLPORT /ws/flood 'sleep 0.3' "$@" | tail -1
done
--- response_body
reset
dropped
dropped
--- access_log
101 client_disconnected /ws/flood

=== TEST 37: W7 a close frame that comes with the client's FIN (half-close) is still answered
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/echo 'text hi' 'close 4001' half recvall
--- response_body_like
101 Switching Protocols
half-closed
(text: hi
)?close 4001 ''
--- access_log
101 complete /ws/echo

=== TEST 38: W13 a client that closes its socket while the app does not receive (reading paused, its FIN unread behind a full window) is found by the pings, which it answers with a reset
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_ping_interval 300ms;
asgi_disconnect_grace_period 100ms;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /ws/deaf 'noread 1' drop
--- response_body
HTTP/1.1 101 Switching Protocols
sent under 64 MiB
dropped
--- record
cancelled deaf
--- access_log
101 client_disconnected /ws/deaf
