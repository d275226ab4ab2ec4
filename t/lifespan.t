# asgi_lifespan: startup before requests (with state), a failing startup
# answers 503, shutdown runs when nginx quits.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: lifespan startup runs first and its state reaches the requests
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app lifeapp:app; }
--- request
GET /x
--- error_code: 200
--- response_body
pool=ready
--- record
startup
--- after
nginx_stop('QUIT');
like(`cat @{[servroot()]}/record`, qr/^startup\nshutdown$/m, "lifespan shutdown ran at quit");
error_log_like(qr/\[warn\] \d+#\d+: asgi: lifeapp: closing the pool/, "what it logged while stopping reached the error log");

=== TEST 1b: a request whose client leaves while startup runs is cancelled alone: startup goes on, later requests are served, shutdown runs at quit
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 100ms;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app lifeapp:gated; }
--- no_wait_ready
--- after
my $url = "http://127.0.0.1:" . server_port() . "/x";
system("curl -s -m 1 -o /dev/null $url");
ok(wait_for(10, sub { error_log_text() =~ /grace period of 100 ms.*cancelling it/ }),
   "the request that waited for startup was cancelled");
open(my $gate, '>', servroot() . "/record.go") or die $!;
close $gate;
my ($status, $body) = http_get('/x');
is($status, 200, "a request after startup is served");
is($body, "started\n", "by the app");
nginx_stop('QUIT');
like(`cat @{[servroot()]}/record`, qr/^startup\nshutdown$/m, "shutdown ran at quit");
unlike(error_log_text(), qr/exited on signal|\[alert\]/, "the worker exited by itself");

=== TEST 1c: after startup every request gets the state, each its own copy
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app lifeapp:app; }
--- exec
for i in 1 2 3 4; do curl -s http://127.0.0.1:$PORT/keys; done
--- response_body
keys=['pool']
keys=['pool']
keys=['pool']
keys=['pool']

=== TEST 2: asgi_lifespan off: no lifespan, no state
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_lifespan off;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app lifeapp:app; }
--- request
GET /x
--- error_code: 200
--- response_body
pool=None
--- no_record
startup

=== TEST 3: a failed startup: logged, and that app answers 503 in this worker
--- config
asgi_python_path $ROOT/t/apps/python;
location /bad/ { asgi_app lifeapp:failing; }
location /good/ { asgi_app lifeapp:app; }
--- request
GET /bad/x
--- error_code: 503
--- error_log
ASGI lifespan startup of 'lifeapp:failing' failed
the database is unreachable
--- after
my ($status, $body) = http_get('/good/x');
is($status, 200, "the other app serves");

=== TEST 4: auto: an app without lifespan support serves as usual
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /hello
--- error_code: 200
--- no_error_log
lifespan startup
lifespan task failed

=== TEST 4b: one app object in an auto and an on location (auto first): a lifespan that raises is no lifespan under auto, a failure (503) under on
--- config
asgi_python_path $ROOT/t/apps/python;
location /a/ { asgi_lifespan auto; asgi_app rawapp:app; }
location /on/ { asgi_lifespan on; asgi_app rawapp:app; }
--- exec
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/a/hello; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/on/hello; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/a/hello
--- response_body
200
503
200
--- error_log eval
qr/ASGI lifespan startup of 'rawapp:app' failed; it answers 503 in this worker: KeyError/

=== TEST 4c: one app object in an auto and an on location (on first): a lifespan that raises is no lifespan under auto, a failure (503) under on
--- config
asgi_python_path $ROOT/t/apps/python;
location /on/ { asgi_lifespan on; asgi_app rawapp:app; }
location /a/ { asgi_lifespan auto; asgi_app rawapp:app; }
--- exec
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/a/hello; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/on/hello; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/a/hello
--- response_body
200
503
200
--- error_log eval
qr/ASGI lifespan startup of 'rawapp:app' failed; it answers 503 in this worker: KeyError/

=== TEST 5: asgi_lifespan takes on, off or auto
--- config
asgi_lifespan sometimes;
location / { return 200; }
--- must_die: invalid value "sometimes" in "asgi_lifespan" directive

=== TEST 6: a task factory an app sets at startup makes the request tasks
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app lifeapp:with_task_factory; }
--- request
GET /x
--- error_code: 200
--- response_body
FactoryTask asgi lifeapp:with_task_factory

=== TEST 7: without a task factory a request's task is asyncio's, named after its app
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /task
--- error_code: 200
--- response_body
Task asgi rawapp:app
