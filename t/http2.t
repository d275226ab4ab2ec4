# HTTP/2: a stream reset disconnects that scope only (H1); losing the
# connection disconnects every scope on it, each with its own grace (H2).
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: a request over HTTP/2 with curl
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- http2
--- request
GET /t/hello
--- error_code: 200
--- response_body
Hello, world!
--- access_log
200 complete /t/hello

=== TEST 2: a body over HTTP/2
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- http2
--- request
POST /t/echo
a body sent over HTTP/2
--- error_code: 200
--- response_body chomp
a body sent over HTTP/2

=== TEST 3: H1 RST_STREAM on one stream disconnects that scope only
--- config
asgi_disconnect_grace_period 1s;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- exec
/usr/bin/python3 $ROOT/t/tools/h2client.py $H2PORT rst-one /t/cleanup?ms=50 /t/wait?ms=400 '/t/stream?n=3&ms=100'
--- response_body
/t/wait?ms=400 200 waited
/t/stream?n=3&ms=100 200 chunk 0
chunk 1
chunk 2
--- record
saw-disconnect /t/cleanup
cleanup-done /t/cleanup
--- no_record
disconnected /t/wait
disconnected /t/stream
--- access_log
499 client_disconnected /t/cleanup?ms=50
200 complete /t/wait?ms=400
200 complete /t/stream?n=3&ms=100

=== TEST 4: H2 losing the connection disconnects every open scope, each with its own grace
--- config
asgi_disconnect_grace_period 300ms;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
location /slow/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; asgi_disconnect_grace_period 800ms; }
--- exec
/usr/bin/python3 $ROOT/t/tools/h2client.py $H2PORT drop /t/ignore /slow/ignore /t/cleanup?ms=50
--- record
cancelled /t/ignore
cancelled /slow/ignore
cleanup-done /t/cleanup
--- access_log
499 cancelled_after_grace /t/ignore
499 cancelled_after_grace /slow/ignore
499 client_disconnected /t/cleanup?ms=50
--- after
my $fast = recorded_at('cancelled', '/t/ignore') - recorded_at('saw-disconnect', '/t/ignore');
my $slow = recorded_at('cancelled', '/slow/ignore') - recorded_at('saw-disconnect', '/slow/ignore');
ok($fast >= 250 && $fast <= 350, "H2 first scope cancelled after its own grace: $fast ms");
ok($slow >= 750 && $slow <= 850, "H2 second scope cancelled after its own grace: $slow ms");
my $status = JSON::PP::decode_json(scalar http_get('/_asgi_status?format=json'));
is($status->{disconnects}{connection_lost}, 3, "H2 the three are counted as a lost connection, not resets");

=== TEST 5: H1 with a Python app: a reset stream disconnects that scope only
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 1s;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/h2client.py $H2PORT rst-one /cleanup /wait?ms=400 /stream
--- response_body
/wait?ms=400 200 waited
/stream 200 part 0
part 1
part 2
--- record
http.disconnect cleanup
send raised ClientDisconnected cleanup
--- access_log
499 client_disconnected /cleanup
200 complete /wait?ms=400
200 complete /stream
--- no_error_log
[error]
