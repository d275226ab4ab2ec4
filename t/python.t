# The Python ASGI runtime: raw ASGI 3 apps in the
# nginx worker (asgi_app, asgi_python_path), through the same module and
# library as native apps.
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
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /hello
--- error_code: 200
--- response_body
Hello from Python
--- access_log
200 complete /hello

=== TEST 2: the worker logs which Python and which event loop serve
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /hello
--- error_code: 200
--- error_log eval
qr/\[info\] \d+#\d+: asgi: Python 3\.\d+\.\d+ runtime started, event loop: uvloop \d/

=== TEST 3: the ASGI scope
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /a/scope?x=1
--- error_code: 200
--- response_body
3.0 2.4 http.response.trailers 1.1 GET b'x=1' /a/scope localhost
--- apache_response_body
3.0 2.4  1.1 GET b'x=1' /a/scope localhost

=== TEST 3b: the scope's method, HTTP version, server and client addresses follow each request (the runtime reuses address and string objects, the scope's dicts' layout and the last request's values), whatever an app did to an earlier scope
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
for i in 1 2 3; do
  for p in $PORT $H2PORT; do
    v=--http1.1 hv=1.1; [ $p = $H2PORT ] && v=--http2-prior-knowledge hv=2
    m=GET; [ $i = 2 ] && m=PUT
    got=$(curl -s $v -X $m -w 'LP=%{local_port}' http://127.0.0.1:$p/addrs)
    want="$m $hv ('127.0.0.1', $p) ('127.0.0.1', ${got##*LP=}) fresh"
    body=$(printf '%s' "$got" | head -1)
    if [ "$body" = "$want" ]; then echo "ok $i $v"
    else echo "bad $i $v: $got (want $want)"; fi
  done
done
--- response_body
ok 1 --http1.1
ok 1 --http2-prior-knowledge
ok 2 --http1.1
ok 2 --http2-prior-knowledge
ok 3 --http1.1
ok 3 --http2-prior-knowledge

=== TEST 3b2: sends from an app's thread that runs an event loop of its own reach the client at once (the runtime batches only its own loop's sends)
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- after
use IO::Select;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => server_port())
    or die "connect: $!";
print $s "GET /foreign-loop HTTP/1.0\r\nHost: x\r\n\r\n";
my $got = '';
my $sel = IO::Select->new($s);
my $read_until = sub {
    my ($want) = @_;
    my $deadline = time + 8;
    while (index($got, $want) < 0 && time < $deadline) {
        next unless $sel->can_read(0.1);
        my $n = sysread($s, my $buf, 4096);
        last unless $n;
        $got .= $buf;
    }
    return index($got, $want) >= 0;
};
ok($read_until->("one\n"), "the first chunk arrived while the app waits");
open(my $g, '>', servroot() . "/record.go.0") or die $!;
close $g;
ok($read_until->("two\n"), "the second too");
open($g, '>', servroot() . "/record.go.1") or die $!;
close $g;
ok($read_until->("three\n"), "and the last");
like($got, qr{^HTTP/1\.1 200 .*\r\n\r\none\ntwo\nthree\n$}s, "the whole response");

=== TEST 3c: send() returns what an async def would: nothing happens until it is awaited (create_task, gather, close, throw, awaited twice, keyword argument)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /sendop
--- error_code: 200
--- response_body chomp
abc coroutine throw:into a new one again:cannot reuse already awaited coroutine bad:unexpected ASGI message type 'bogus'
--- error_log
RuntimeWarning: coroutine 'send' was never awaited
--- no_error_log
[alert]
app error

=== TEST 3d: receive() returns what an async def would (create_task, close, throw, never awaited)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
POST /receiveop
abc
--- error_code: 200
--- response_body chomp
coroutine http.request:b'abc':False throw:into a new one args:TypeError
--- error_log
RuntimeWarning: coroutine 'receive' was never awaited
--- no_error_log
[alert]
app error

=== TEST 3e: send() and receive() where an outside attack found them unlike an async def's: a warning that is an error (the worker crashed), throw after the end, re-entry while sending, the coroutine mark, weak references
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /sendop-edges
--- error_code: 200
--- response_body chomp
body iscoroutinefunction:True names:send,receive RuntimeError:cannot reuse already awaited coroutine TypeError:throw expected at least 1 argument, got 0 reenter:coroutine already executing reenter:coroutine already executing reenter:coroutine already executing weakref:True
--- error_log
RuntimeWarning: coroutine 'send' was never awaited
--- no_error_log
[alert]
app error

=== TEST 4: R2 a body in, S1 a streamed response out
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request eval
"POST /echo\n" . ("python " x 20000)
--- error_code: 200
--- response_body eval
"python " x 20000

=== TEST 4b: an upload is read in pieces of asgi_body_buffer_size, 256k by default: a slow reader gets pieces over 128k, never over 256k
--- apache_skip: nginx's request body buffer (asgi_body_buffer_size)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request eval
"POST /readsizes?min=131072&max=262144&pause=0.5\n" . ("x" x 800000)
--- error_code: 200
--- response_body
largest in (131072, 262144]

=== TEST 4c: asgi_body_buffer_size sets the pieces' size
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; asgi_body_buffer_size 64k; }
--- request eval
"POST /readsizes?min=32768&max=65536\n" . ("x" x 800000)
--- error_code: 200
--- response_body
largest in (32768, 65536]

=== TEST 5: S1 streaming
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /stream
--- response_body
part 0
part 1
part 2

=== TEST 6: R6 S3 the client leaves: receive() returns http.disconnect, send() raises an OSError, no app error
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
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

=== TEST 7: a generator-fed stream whose client left is closed soon, though in a reference cycle
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /genstream
--- abort
--- timeout: 0.3
--- record
generator closed
--- access_log
499 client_disconnected /genstream
--- no_error_log
[error]

=== TEST 8: logging, print() and sys.stderr go to nginx's error log, with the request
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /log
--- response_body
logged
--- error_log eval
[qr/\[warn\] \d+#\d+: \*\d+ asgi: rawapp: warned from python, client: 127\.0\.0\.1, server: \S*, request: "GET \/log HTTP\/1\.1"/,
 qr/\[info\] \d+#\d+: \*\d+ asgi: printed to stdout, client: /,
 qr/\[error\] \d+#\d+: \*\d+ asgi: written to stderr, client: /,
 qr/\[error\] \d+#\d+: \*\d+ asgi: rawapp: it failed\nTraceback \(most recent call last\):\n.*\nZeroDivisionError: division by zero, client: /s,
 qr/\[warn\] \d+#\d+: \*\d+ asgi: rawapp: from a thread, client: 127\.0\.0\.1, server: \S*, request: "GET \/log HTTP\/1\.1"/,
 qr/\[info\] \d+#\d+: \*\d+ asgi: configured: kept its level, client: /]
--- apache_error_log eval
[qr/\[asgi:warn\] \[pid \d+:tid \d+\] \[client 127\.0\.0\.1:\d+\] rawapp: warned from python$/m,
 qr/\[asgi:info\] .*\[client [\d.:]+\] printed to stdout$/m,
 qr/\[asgi:error\] .*\[client [\d.:]+\] written to stderr$/m,
 qr/\[asgi:error\] .*\[client ([\d.:]+)\] rawapp: it failed\n.*\[client \1\] Traceback \(most recent call last\):\n(.*\n)*.*\[client \1\] ZeroDivisionError: division by zero$/m,
 qr/\[asgi:warn\] .*\[client [\d.:]+\] rawapp: from a thread$/m,
 qr/\[asgi:info\] .*\[client [\d.:]+\] configured: kept its level$/m]

=== TEST 9: R10 cancelling a pending receive() propagates, and loses nothing
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /r10
--- abort
--- timeout: 0.3
--- record
receive cancelled
receive timed out
then http.disconnect
--- no_record
receive returned
--- access_log
499 client_disconnected /r10
--- no_error_log
[error]

=== TEST 10: R10 cancelling a send() that waits for a slow client propagates
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /r10send
--- abort
--- timeout: 1
--- record
send cancelled
then http.disconnect
--- no_record
send never waited
--- access_log
499 client_disconnected /r10send
--- no_error_log
[error]

=== TEST 11: S2 sending bad messages from Python: 500, a clear error line each
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /badsend?case=header
--- error_code: 500
--- error_log eval
[qr/TypeError: a header is a pair of bytes, not \('content-type', 'text\/plain'\)/]
--- after
for my $case (qw(type notdict status bigstatus order)) {
    my ($status) = main::http_get("/badsend?case=$case");
    is($status, 500, "S2 a bad send ($case) answers 500");
}
my ($status, $body) = main::http_get("/hello");
is($status, 200, "S2 and the worker serves on");
my $log = main::error_log_text();
like($log, qr/RuntimeError: unexpected ASGI message type 'http.response.bogus'/, "S2 unknown type named");
like($log, qr/TypeError: an ASGI message is a dict, not list/, "S2 a list is not a message");
like($log, qr/TypeError: .*integer/, "S2 a string status is refused");
like($log, qr/app error: http.response.body sent before http.response.start/, "S2 body before start: the reason");
like($log, qr/RuntimeError: ASGI send of 'http.response.body' failed: /, "S2 body before start: the exception");

=== TEST 12: http.response.trailers from Python
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /trailers
--- error_code: 200
--- response_body
with trailers
--- no_error_log
[error]

=== TEST 12b: S1 trailers are offered (the scope's extension) exactly where the server writes them, and then reach the client
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
for v in --http1.1 --http1.0 --http2-prior-knowledge; do
  port=$PORT; [ $v = --http2-prior-knowledge ] && port=$H2PORT
  ext=$(curl -s $v http://127.0.0.1:$port/scope | cut -d' ' -f3)
  got=$(curl -s $v -D - -o /dev/null http://127.0.0.1:$port/trailers \
        | tr -d '\r' | grep -i '^x-checksum:')
  echo "$v offers '$ext', sent '$got'"
done
--- response_body
--http1.1 offers 'http.response.trailers', sent 'x-checksum: abc'
--http1.0 offers '', sent ''
--http2-prior-knowledge offers 'http.response.trailers', sent 'x-checksum: abc'
--- apache_response_body
--http1.1 offers '', sent ''
--http1.0 offers '', sent ''
--http2-prior-knowledge offers 'http.response.trailers', sent 'x-checksum: abc'
--- error_log
http.response.trailers dropped: the server cannot send trailers
--- no_error_log
[error]

=== TEST 13: asgi_python_path processes .pth files, as a virtual environment's site-packages needs
--- config
asgi_python_path $ROOT/t/apps/python/sitedir;
location / { asgi_app pthapp:app; }
--- request
GET /
--- error_code: 200
--- response_body
found through a .pth file

=== TEST 14: S5 a large Python response to a client that does not read: memory stays bounded
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /big?size=200000000
--- abort
--- timeout: 1.5
--- record eval
qr/disconnected big after \d+ MB/
--- access_log
499 client_disconnected /big?size=200000000
--- after
my $kb = main::worker_rss_kb();
SKIP: {
    skip "RSS under ASan", 1 if $ENV{ASGI_SANITIZE};
    ok($kb && $kb < 80000, "S5 worker peak RSS ${kb} kB while a Python app's 200 MB response met a client that never read");
}

=== TEST 15: the Python thread (and the threads it starts) leave signals to nginx
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /log
--- error_code: 200
--- after
app_threads_leave_signals();

=== TEST 16: processes an app starts do not inherit the runtime's blocked signals nor its scheduling policy, and the app reaps them, not nginx
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /children
--- error_code: 200
--- response_body
runtime=batch popen=0000000000000000/other asyncio=0000000000000000/other fork=0000000000000000/other posix_spawn=0000000000000000/other statuses=ok system=0000000000000000/other
--- no_error_log
unknown process

=== TEST 17: an app cannot replace nginx's signal handlers, with signal.signal() or its event loop's add_signal_handler()
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /signal
--- error_code: 200
--- response_body
refused: signal handlers belong to nginx, which runs this process (asgicore): not setting one for signal 15
loop refused: signal handlers belong to nginx, which runs this process (asgicore): not setting one for signal 15
own loop refused
own loop refused
--- apache_response_body
refused: signal handlers belong to Apache httpd, which runs this process (asgicore): not setting one for signal 15
loop refused: signal handlers belong to Apache httpd, which runs this process (asgicore): not setting one for signal 15
own loop refused
own loop refused

=== TEST 18: R3 an upload cut short: the app's own OSError is the client's 499, not an app error
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- raw_request eval
"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"
--- abort
--- timeout: 0.3
--- access_log
499 client_disconnected /echo
--- error_log
app stopped after the client disconnected: OSError: client left mid-body
--- no_error_log
[error]

=== TEST 19: an exception group of disconnect reactions is the client's 499 too
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /groupafter
--- abort
--- timeout: 0.3
--- access_log
499 client_disconnected /groupafter
--- error_log
app stopped after the client disconnected: ExceptionGroup
--- no_error_log
[error]

=== TEST 20: B2 a bug that runs after the client left is still logged as an app error
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /bugafter
--- abort
--- timeout: 0.3
--- access_log
499 client_disconnected /bugafter
--- error_log eval
qr/\[error\] .*asgi: app failed: KeyError: 'missing http\.disconnect'\nTraceback.*KeyError: 'missing http\.disconnect'/s
--- apache_error_log eval
qr/\[asgi:error\] .* app failed: KeyError: 'missing http\.disconnect'\n.*\] Traceback .*\n(.*\n)*.*\] KeyError: 'missing http\.disconnect'$/m

=== TEST 21: asgi_root_path mounts the app at a prefix: it moves from path to root_path
--- config
asgi_python_path $ROOT/t/apps/python;
location /api/ { asgi_root_path /api; asgi_app rawapp:app; }
location /apiary/ { asgi_app rawapp:app; }
--- request
GET /api/sub/paths
--- error_code: 200
--- response_body
/api /sub/paths b'/api/sub/paths'
--- after
my ($status, $body) = main::http_get("/apiary/paths");
is($body, " /apiary/paths b'/apiary/paths'\n", "without asgi_root_path the path is whole");

=== TEST 22: B2 an app that stops the event loop: logged, and the worker's Python apps serve on
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /stoploop
--- error_code: 200
--- error_log
an app stopped the event loop (loop.stop()); it runs again
--- after
my ($status, $body) = main::http_get("/hello");
is($status, 200, "B2 the next request is served");
is($body, "Hello from Python\n", "by the app");
($status) = main::http_get("/exitloop");
is($status, 200, "B2 a SystemExit from a loop callback");
ok(main::wait_for(5, sub { main::error_log_text() =~ /the event loop stopped on an exception; it runs again:\n.*SystemExit: 3/s }), "B2 is logged");
($status, $body) = main::http_get("/hello");
is($body, "Hello from Python\n", "B2 and the apps serve on");

=== TEST 23: B2 an app that returns without responding: 500 and an error line
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /noresponse
--- error_code: 500
--- error_log
app returned without sending a response
--- access_log
500 app_error /noresponse

=== TEST 24: B2 an app that returns mid-response: the connection is closed, an error line
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- raw_request eval
"GET /halfresponse HTTP/1.1\r\nHost: x\r\n\r\n"
--- response_body_like: partial
--- error_log
app returned before completing its response
--- access_log
200 app_error /halfresponse

=== TEST 25: G2 G5 an app that ignores the disconnect gets CancelledError after the grace period
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 300ms;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
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

=== TEST 26: B2 an exception: 500 and the traceback in one error line
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /raise
--- error_code: 500
--- error_log
ValueError: the Python test app raised
--- access_log
500 app_error /raise

=== TEST 27: an app that cannot be imported: 500 with the reason, the worker keeps serving
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app broken:app; }
--- request
GET /anything
--- error_code: 500
--- error_log
cannot load the ASGI app 'broken:app'
this test app cannot be imported

=== TEST 28: two Python apps in two locations share the worker's interpreter
--- config
location /one/ { asgi_app rawapp:app; asgi_python_path $ROOT/t/apps/python; }
location /two/ { asgi_python_path $ROOT/t/apps/python; asgi_app rawapp:app; }
location /bad/ { asgi_python_path $ROOT/t/apps/python; asgi_app broken:app; }
--- request
GET /one/hello
--- error_code: 200
--- response_body
Hello from Python
--- after
my ($status, $body) = http_get('/two/hello');
is($status, 200, "the second app answers too");
($status) = http_get('/bad/hello');
is($status, 500, "a broken app next to them answers 500");
($status) = http_get('/one/hello');
is($status, 200, "and the first still serves");

=== TEST 29: asgi_app wants module:attribute
--- config
location / { asgi_app rawapp; }
--- must_die: invalid ASGI app "rawapp" in "asgi_app": expected module:attribute

=== TEST 30: asgi_app refuses a reference with a line break or a space (it cannot smuggle runtime settings)
--- config
location / { asgi_app "rawapp:app
lifespan=on"; }
--- must_die: in "asgi_app": a space or control character

=== TEST 31: asgi_python_runtime names the runtime every asgi_app uses
--- http_config
asgi_python_runtime $PYTHON_RUNTIME;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /hello
--- error_code: 200
--- response_body
Hello from Python

=== TEST 32: a runtime that is not there fails nginx -t, naming it
--- http_config
asgi_python_runtime /nonexistent/asgi_python.so;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- must_die: needs the Python runtime "/nonexistent/asgi_python.so"

=== TEST 33: asgi_python_runtime after an asgi_app is refused (that app loaded another)
--- http_config
server {
    listen 127.0.0.1:1;
    location / { asgi_app rawapp:app; }
}
asgi_python_runtime $PYTHON_RUNTIME;
--- config
location / { return 204; }
--- must_die: "asgi_python_runtime" directive must come before the first "asgi_app"

=== TEST 34: a finished request's objects go with it, not at a later garbage collection (its task no longer holds them in a cycle)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /gc-off
--- error_code: 200
--- after
for (1 .. 20) {
    my ($status) = http_get('/hello');
    is($status, 200, "request $_ answers") if $_ == 20;
}
my ($status, $body) = http_get('/scopes-alive');
is($body, "1\n", "only the asking request's scope object is alive");

=== TEST 35: where a seccomp filter kills a process for sched_setscheduler (systemd's SystemCallFilter=~@resources), the runtime keeps the default policy and serves; its children start as usual
--- server_wrapper: $BUILD/t/seccomp_deny kill
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /children
--- error_code: 200
--- response_body
runtime=other popen=0000000000000000/other asyncio=0000000000000000/other fork=0000000000000000/other posix_spawn=0000000000000000/other statuses=ok system=0000000000000000/other
--- no_error_log
exited on signal

=== TEST 36: where a seccomp filter refuses sched_setscheduler (EPERM), the runtime keeps the default policy and the processes an app starts are not refused
--- server_wrapper: $BUILD/t/seccomp_deny eperm
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /children
--- error_code: 200
--- response_body
runtime=other popen=0000000000000000/other asyncio=0000000000000000/other fork=0000000000000000/other posix_spawn=0000000000000000/other statuses=ok system=0000000000000000/other
