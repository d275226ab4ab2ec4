# Clients that leave: before, during and after the body, mid-response,
# by FIN, RST or half-close; the grace period and the cancel that follows.
use lib 't/lib';
use Test::Asgi;
use Test::More;
use POSIX ();
use IO::Socket::INET;

run_tests();
done_testing();

__DATA__

=== TEST 1: R3 the client leaves mid-body: the waiting receive gets http.disconnect
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- raw_request eval
"POST /t/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"
--- abort
--- timeout: 0.3
--- record
disconnected /t/echo
--- access_log
499 client_disconnected /t/echo
--- no_error_log
[error]

=== TEST 2: R6 G1 G4 R4 R5 after the body the app waits; it sees the disconnect and cleans up in the grace period
--- config
asgi_disconnect_grace_period 500ms;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/cleanup?ms=100
--- abort
--- timeout: 0.3
--- record
saw-disconnect /t/cleanup
disconnect-checked /t/cleanup
cleanup-done /t/cleanup
--- no_record
cancelled
disconnect-check-failed
--- access_log
499 client_disconnected /t/cleanup
--- no_error_log
[error]
--- after
# G4: well past the grace period, nothing was cancelled, nothing fired
select(undef, undef, undef, 0.8);
unlike(`cat @{[servroot()]}/record`, qr/cancelled/, "G4 never cancelled");
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]|signal 11/, "G4 no late timer into freed memory");

=== TEST 3: G2 G5 an app that ignores the disconnect is cancelled once at disconnect + grace
--- config
asgi_disconnect_grace_period 500ms;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/ignore
--- abort
--- timeout: 0.2
--- record
saw-disconnect /t/ignore
cancelled /t/ignore
--- access_log
499 cancelled_after_grace /t/ignore
--- error_log
grace period of 500 ms after the client disconnected; cancelling it
--- no_error_log
[error]
--- after
my $d = recorded_at('cancelled', '/t/ignore')
        - recorded_at('saw-disconnect', '/t/ignore');
ok($d >= 450 && $d <= 550, "G2 cancelled ${d} ms after the disconnect (500 +- 50)");

=== TEST 4: G3 a zero grace period cancels at once
--- config
asgi_disconnect_grace_period 0;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/ignore
--- abort
--- timeout: 0.2
--- record
cancelled /t/ignore
--- access_log
499 cancelled_after_grace /t/ignore
--- after
my $d = recorded_at('cancelled', '/t/ignore') - recorded_at('saw-disconnect', '/t/ignore');
ok($d >= 0 && $d <= 50, "G3 cancelled ${d} ms after the disconnect");

=== TEST 5: G2 an inline app is cancelled the same way
--- config
asgi_disconnect_grace_period 300ms;
location /i/ { asgi_native_app $TEST_APP "inline record=$RECORD"; }
--- request
GET /i/ignore
--- abort
--- timeout: 0.2
--- record
cancelled /i/ignore
--- access_log
499 cancelled_after_grace /i/ignore
--- after
my $d = recorded_at('cancelled', '/i/ignore') - recorded_at('saw-disconnect', '/i/ignore');
ok($d >= 250 && $d <= 350, "G2 inline: cancelled ${d} ms after the disconnect (300 +- 50)");

=== TEST 6: a reset (RST) is a disconnect
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/cleanup
--- abort: rst
--- timeout: 0.2
--- record
cleanup-done /t/cleanup
--- access_log
499 client_disconnected /t/cleanup

=== TEST 7: a half-close counts as a disconnect (as nginx treats it)
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/cleanup
--- abort: half
--- timeout: 0.2
--- record
cleanup-done /t/cleanup
--- access_log
499 client_disconnected /t/cleanup

=== TEST 8: S3 a send after the disconnect fails quietly; nothing is written
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/wait?ms=400
--- abort
--- timeout: 0.1
--- record
disconnected /t/wait
--- access_log
499 client_disconnected /t/wait
--- no_error_log
[error]
app error

=== TEST 9: L3 asgi_ignore_client_abort on: the app runs to completion unaware
--- config
asgi_ignore_client_abort on;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/wait?ms=400
--- abort
--- timeout: 0.1
--- access_log
499 client_disconnected /t/wait
--- no_record
disconnected
--- no_error_log
[error]

=== TEST 10: G6 a stream stops when the client leaves mid-response; the disconnect counts once
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/stream?n=1000&ms=10
--- abort
--- timeout: 0.2
--- record
disconnected /t/stream
--- access_log
499 client_disconnected /t/stream?n=1000&ms=10
--- after
# The read side (FIN) and the write side (EPIPE) both report it.
my $c = status_json();
is($c->{disconnected}, 1, "G6 counted once");
my @lines = grep { /^disconnected / } split /\n/, `cat @{[servroot()]}/record`;
is(scalar @lines, 1, "G6 the app saw it once");

=== TEST 11: R9 client_body_timeout: the app sees a disconnect, nginx logs 408
--- config
client_body_timeout 300ms;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- raw_request eval
"POST /t/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"
--- abort
--- timeout: 1
--- record
disconnected /t/echo
--- access_log
408 client_disconnected /t/echo

=== TEST 12: R8 a disconnect with body still unread ends the app's reading
--- config
client_body_buffer_size 1k;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- raw_request eval
"POST /t/slowread?ms=100 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" . ("x" x 60000)
--- abort
--- timeout: 0.3
--- record
disconnected /t/slowread
--- access_log
499 client_disconnected /t/slowread?ms=100

=== TEST 13: S5 a client that does not read: memory stays bounded
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/big?size=200000000
--- abort
--- timeout: 1.5
--- record
disconnected /t/big
--- access_log
499 client_disconnected /t/big?size=200000000
--- after
my $kb = worker_rss_kb();
ok($kb && $kb < 60000, "S5 worker peak RSS ${kb} kB while a 200 MB response met a client that never read");

=== TEST 14: B3 an app that ignores the cancel too is torn down from the client side and counted
--- config
asgi_disconnect_grace_period 200ms;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/stubborn
--- abort
--- timeout: 0.1
--- record
cancel-ignored /t/stubborn
--- access_log
499 cancelled_after_grace /t/stubborn
--- after
my $c = status_json();
is($c->{live}, 0, "B3 no live scope");
is($c->{abandoned}, 1, "B3 counted as abandoned");
is($c->{running_apps}, 1, "B3 the app still holds its scope until the worker exits");

=== TEST 15: R7 after a complete response, receive returns http.disconnect at once
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
location /i/ { asgi_native_app $TEST_APP "inline record=$RECORD"; }
--- request
GET /t/after-response
--- error_code: 200
--- response_body
answered
--- record
r7-ok /t/after-response
--- after
my ($status) = http_get('/i/after-response');
is($status, 200, "inline too");
ok(wait_for(5, sub { `cat @{[servroot()]}/record` =~ /^r7-ok \/i\/after-response/m }), "R7 inline app");

=== TEST 16: L2 a request whose client left before the app started is never dispatched
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/hello
--- error_code: 200
--- after
# /t/block holds the app thread; /t/cleanup queues behind it and its
# client leaves before the thread is free.
# Each step awaits the module's counters, not a time.
my $opened = status_json()->{opened};
my $pid = fork // die;
if (!$pid) { http_get('/t/block?ms=2000'); POSIX::_exit(0); }
ok(wait_for(5, sub { status_json()->{opened} == $opened + 1 }),
   "the block holds the app thread");
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => server_port());
print $s "GET /t/cleanup HTTP/1.1\r\nHost: x\r\n\r\n";
ok(wait_for(5, sub { status_json()->{opened} == $opened + 2 }),
   "the second request is queued behind it");
close $s;
waitpid $pid, 0;
ok(wait_for(5, sub { status_json()->{not_dispatched} == 1 }), "L2 counted as not dispatched");
my $c = status_json();
is($c->{disconnected}, 1, "L2 ended as client_disconnected");
ok(wait_for(5, sub { `cat @{[servroot()]}/logs/access.log` =~ m{^499 client_disconnected /t/cleanup$}m }), "L2 logged 499");
unlike(`cat @{[servroot()]}/record 2>/dev/null`, qr/cleanup/, "L2 the app never saw it");
