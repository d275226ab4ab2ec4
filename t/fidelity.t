# Python apps behave in nginx as they do under python3 (P1-P9, docs/behaviours.md):
# locale, tracebacks, imports, readiness.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: P1 UTF-8 mode: file names, open() and subprocess text as under python3 in a UTF-8 locale
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /utf8mode
--- error_code: 200
--- response_body eval
"utf8_mode=1 fs=utf-8 preferred=utf-8 read=\xc3\xa9t\xc3\xa9 size=6 sub=\xc3\xa9"

=== TEST 2: P2 a deep traceback: the exception and the request first, then every frame, each entry with the request
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /deep?n=80
--- error_code: 500
--- error_log eval
qr/\[error\] \d+#\d+: \*\d+ asgi: app failed: ValueError: deep failure at the bottom\nTraceback \(most recent call last\):\n.*, client: 127\.0\.0\.1, server: \S*, request: "GET \/deep\?n=80 HTTP\/1\.1"/s
--- apache_error_log eval
qr/\[asgi:error\] .*\[client 127\.0\.0\.1:\d+\] app failed: ValueError: deep failure at the bottom\n.*\] Traceback \(most recent call last\):$/m
--- after
my $log = error_log_text();
if (server_name() eq 'apache') {
    # Apache: an entry per line, each with the client
    my @entries = grep { /\[asgi:error\]/ } split /\n/, $log;
    ok(@entries >= 160, "P2 the traceback spans " . scalar(@entries) . " entries");
    is(scalar(grep { !/\] \[client 127\.0\.0\.1:\d+\] / } @entries), 0,
       "P2 every entry carries the client");
    $log =~ s/^\[[^\n]*?\[client [\d.:]+\] //mg;
} else {
my @entries = grep { /asgi: (app failed|\(part \d+\/\d+\))/ } split /(?=^\d{4}\/\d\d\/\d\d )/m, $log;
ok(@entries >= 3, "P2 the traceback spans " . scalar(@entries) . " entries");
is(scalar(grep { !/, client: 127\.0\.0\.1, server: \S*, request: "GET \/deep\?n=80 HTTP\/1\.1"/ } @entries), 0,
   "P2 every entry carries the request");
}
my $frames = () = $log =~ /in deep_[ab]\n/g;
is($frames, 81, "P2 all 81 frames of deep_a() and deep_b() are in the log");
like($log, qr/raise ValueError\("deep failure at the bottom"\)/, "P2 the raising line is there");

=== TEST 3: P6 an app that cannot be imported: its traceback once, then one short line per request
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app broken:app; }
--- exec
for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/x; done
--- response_body
500
500
500
--- after
my $log = error_log_text();
my $tracebacks = () = $log =~ /Traceback \(most recent call last\)/g;
is($tracebacks, 1, "P6 the traceback is logged once");
my $end = server_name() eq 'apache' ? qr/\)$/m : qr/\), client/;
my $short = () = $log =~ /app failed: the ASGI app 'broken:app' could not be imported when this worker started \(\w+Error: [^\n]*; the traceback was logged then$end/g;
is($short, 3, "P6 one short line per request, with the request");

=== TEST 4: P8 each app's state in asgi_status (JSON and text), and one line when an app is ready
--- config
asgi_python_path $ROOT/t/apps/python;
location /ok/ { asgi_app rawapp:app; }
location /broken/ { asgi_app broken:app; }
location /lifefail/ { asgi_app lifeapp:failing; }
location /native/ { asgi_native_app $TEST_APP; }
--- request
GET /_asgi_status?format=json
--- error_code: 200
--- response_body_like eval
qr/"apps":\[\{"app":"rawapp:app","state":"ready","message":"","workers":\{"loading":0,"ready":1,"failed":0\}\},\{"app":"broken:app","state":"failed","message":"import failed: ImportError: this test app cannot be imported","workers":\{"loading":0,"ready":0,"failed":1\}\},\{"app":"lifeapp:failing","state":"failed","message":"lifespan startup failed: the database is unreachable","workers":\{"loading":0,"ready":0,"failed":1\}\},\{"app":"[^"]+testapp.so","state":"ready","message":"","workers":\{"loading":0,"ready":1,"failed":0\}\}\],"workers":\[\{"pid":\d+,"current":true,[^{}]*\}\]\}$/
--- error_log eval
qr/\[info\] \d+#\d+: asgi: ASGI app 'rawapp:app' ready in \d+ ms\n/
--- after
like(`curl -s http://127.0.0.1:@{[server_port()]}/_asgi_status`,
     qr/^app rawapp:app: ready\napp broken:app: failed: import failed: ImportError: this test app cannot be imported\napp lifeapp:failing: failed: lifespan startup failed: the database is unreachable\napp \S+testapp.so: ready$/m,
     "P8 the text status lists the apps");

=== TEST 5: P8 an app still importing shows "loading"; a request waits for it, then it is "ready"
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app slowimport:app; }
--- no_wait_ready
--- request
GET /_asgi_status?format=json
--- response_body_like: "apps":\[\{"app":"slowimport:app","state":"loading","message":"importing","workers":\{"loading":1,"ready":0,"failed":0\}\}\]
--- after
like(`curl -s -m 10 http://127.0.0.1:@{[server_port()]}/x`, qr/^imported$/, "P8 a request made while it loads is served once it is ready");
like(`curl -s http://127.0.0.1:@{[server_port()]}/_asgi_status`, qr/^app slowimport:app: ready$/m, "P8 then it is ready");
like(error_log_text(), qr/ASGI app 'slowimport:app' ready in (1[5-9]\d\d|[2-9]\d\d\d) ms/, "P8 the log says how long it took");

=== TEST 6: P7 the same app object in two locations runs its lifespan startup once per worker
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location /a/ { asgi_app lifeapp:app; }
location /b/ { asgi_app lifeapp:app; }
--- exec
curl -s http://127.0.0.1:$PORT/a/x; curl -s http://127.0.0.1:$PORT/b/x
--- response_body
pool=ready
pool=ready
--- after
my $n = () = `cat @{[servroot()]}/record` =~ /^startup$/mg;
is($n, 1, "P7 one startup for one app object");

=== TEST 7: P9 a line the app logs while it is cancelled, after nginx finalized the request, keeps the request
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_disconnect_grace_period 200ms;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /ignore
--- abort
--- timeout: 0.2
--- record
cancelled ignore
--- access_log
499 cancelled_after_grace /ignore
--- error_log eval
qr/\[warn\] \d+#\d+: \*\d+ asgi: rawapp: cleaning up after the cancel, client: 127\.0\.0\.1, server: \S*, request: "GET \/ignore HTTP\/1\.1"/
--- apache_error_log eval
qr/\[asgi:warn\] .*\[client 127\.0\.0\.1:\d+\] rawapp: cleaning up after the cancel$/m

=== TEST 8: P3 two apps that would import the same package from two directories: the second is refused, naming both
--- config
location /a/ { asgi_python_path $ROOT/t/apps/python/siteA; asgi_app other:app; }
location /b/ { asgi_python_path $ROOT/t/apps/python/siteB; asgi_app mysite.asgi:app; }
--- exec
curl -s http://127.0.0.1:$PORT/a/x; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/b/x
--- response_body
site A
500
--- error_log eval
qr/the ASGI app 'mysite\.asgi:app' would import the module 'mysite' from \S+\/siteB\/mysite\/__init__\.py, but the ASGI app 'other:app' imported it from \S+\/siteA\/mysite\/__init__\.py first/
--- after
like(`curl -s http://127.0.0.1:@{[server_port()]}/_asgi_status`, qr/^app mysite\.asgi:app: failed: import failed: ImportError: the ASGI app 'mysite\.asgi:app' would import/m, "P3 the status says why");

=== TEST 9: P3 nginx -t refuses two apps whose directories hold the same top-level module
--- config
location /a/ { asgi_python_path $ROOT/t/apps/python/siteA; asgi_app mysite.asgi:app; }
location /b/ { asgi_python_path $ROOT/t/apps/python/siteB; asgi_app mysite.asgi:app; }
--- must_die: would import the module "mysite" from

=== TEST 10: P3 a second Django project in the same worker is refused: Django's settings are process-wide
--- config
asgi_python_path $ROOT/t/apps/python;
location /d/ { asgi_app djangoapp.asgi:application; }
location /d2/ { asgi_app djangoapp2.asgi:application; }
--- exec
curl -s http://127.0.0.1:$PORT/d/hello; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/d2/hello
--- response_body
Hello from Django
500
--- error_log
the ASGI app 'djangoapp2.asgi:application' sets DJANGO_SETTINGS_MODULE to 'djangoapp2.settings', but the ASGI app 'djangoapp.asgi:application' set it to 'djangoapp.settings' first

=== TEST 11: P4 a virtual environment: its editable install wins over Debian's copy, sys.executable and sys.prefix are the venv's
--- config
location / { asgi_python_path $ROOT/t/apps/venv/lib/python3/site-packages; asgi_app venvapp:app; }
--- request
GET /x
--- error_code: 200
--- response_body_like eval
qr{^h2 editable=True\nexecutable=\S+/t/apps/venv/bin/python\nprefix=\S+/t/apps/venv\nchild prefix=\S+/t/apps/venv\n$}

=== TEST 12: P4 without a venv, sys.executable is a real python3 (subprocess and multiprocessing work)
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /executable
--- error_code: 200
--- response_body
/usr/bin/python3 ok

=== TEST 13: P5 an app that sets TZ and calls tzset() does not move nginx's clock
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /settz
--- error_code: 200
--- response_body
TZ=Etc/GMT-14
--- error_log
logged after the app's tzset
an app set TZ=Etc/GMT-14
--- after
my ($stamp) = server_name() eq 'apache'
    ? error_log_text() =~ /^\[\w+ \w+ +\d+ (\d\d:\d\d:\d\d)\.\d+ \d{4}\] \[asgi:warn\] .*logged after the app's tzset/m
    : error_log_text() =~ /^(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) \[warn\] .*logged after the app's tzset/m;
my @t = localtime();
my $now = sprintf("%04d/%02d/%02d %02d:%02d", $t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1]);
my ($h) = $stamp =~ /(?:^| )(\d\d):/;
is($h, sprintf("%02d", $t[2]), "P5 nginx's timestamp $stamp stays in nginx's zone (now $now)")
    or diag("the hour moved: the app's zone reached nginx");

=== TEST 14: asgi_scheme behind a TLS load balancer; the realip module gives the app the client's address
--- config
set_real_ip_from 127.0.0.1;
real_ip_header X-Forwarded-For;
asgi_scheme $http_x_forwarded_proto;
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
curl -s -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-For: 203.0.113.7' http://127.0.0.1:$PORT/origin; curl -s -H 'X-Forwarded-Proto: gopher' http://127.0.0.1:$PORT/origin; curl -s http://127.0.0.1:$PORT/origin
--- response_body
https 203.0.113.7
http 127.0.0.1
http 127.0.0.1

=== TEST 15: P1 env LANG still sets the locale for apps that ask for it
--- main_config
env LANG=C.UTF-8;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /locale
--- error_code: 200
--- response_body
C.UTF-8

=== TEST 16: P3 two apps whose own helper modules share a name: the second is refused, not served the first's helpers
--- config
location /a/ { asgi_python_path $ROOT/t/apps/python/p3a; asgi_app app1:app; }
location /b/ { asgi_python_path $ROOT/t/apps/python/p3b; asgi_app app2:app; }
--- exec
curl -s http://127.0.0.1:$PORT/a/x; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/b/x
--- response_body
app1 uses helpers of a
500
--- error_log eval
qr/the ASGI app 'app2:app' would import the module 'helpers' from \S+\/p3b\/helpers\.py, but the ASGI app 'app1:app' imported it from \S+\/p3a\/helpers\.py first/

=== TEST 17: P3 a namespace package spread over two apps' directories is not refused
--- config
location /n1/ { asgi_python_path $ROOT/t/apps/python/ns1; asgi_app corp.site1.main:app; }
location /n2/ { asgi_python_path $ROOT/t/apps/python/ns2; asgi_app corp.site2.main:app; }
--- exec
curl -s http://127.0.0.1:$PORT/n1/x; curl -s http://127.0.0.1:$PORT/n2/x
--- response_body
site1
site2

=== TEST 18: P2 an exception whose text holds NUL or undecodable bytes: a 500 and its line, escaped
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /raiseodd
--- error_code: 500
--- error_log
app failed: ValueError: before\0after name-\udcff
--- apache_error_log
app failed: ValueError: before\\0after name-\\udcff
--- access_log
500 app_error /raiseodd

=== TEST 19: P6 an import error UTF-8 cannot carry fails that app alone; a lifespan failure's odd text shows as failed
--- config
asgi_python_path $ROOT/t/apps/python;
location /bad/ { asgi_app badsur:app; }
location /odd/ { asgi_app lifeapp:failing_odd; }
location /ok/ { asgi_app rawapp:app; }
--- exec
curl -s http://127.0.0.1:$PORT/ok/hello; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/bad/x; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$PORT/odd/x
--- response_body
Hello from Python
500
503
--- after
my $status = `curl -s http://127.0.0.1:@{[server_port()]}/_asgi_status`;
like($status, qr/^app badsur:app: failed: import failed: RuntimeError: cannot read conf-\\udcff\.ini \\0 here$/m, "P6 the import failure, escaped");
like($status, qr/^app lifeapp:failing_odd: failed: lifespan startup failed: no db at \/srv\/\\udcff$/m, "P8 the lifespan failure, escaped");
like($status, qr/^app rawapp:app: ready$/m, "the other app serves");

=== TEST 20: a process the app forks is stopped by SIGTERM, as under python3
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /forkterm
--- error_code: 200
--- response_body
signaled=True sig=15 fast=True
--- no_error_log
signal 15 (SIGTERM) received

=== TEST 21: a partial line is logged with its own request when that ends; progress-bar output stays cheap
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- exec
curl -s http://127.0.0.1:$PORT/partial; curl -s http://127.0.0.1:$PORT/progress
--- response_body
printed
fast=True
--- error_log eval
qr/asgi: partial line of its own, client: 127\.0\.0\.1, server: \S*, request: "GET \/partial HTTP\/1\.1"/
--- apache_error_log eval
qr/\[client 127\.0\.0\.1:\d+\] partial line of its own$/m

=== TEST 22: sys.stdout.buffer and reconfigure() work; asgi_python_path with a space in it
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
location /spaced/ { asgi_python_path "$ROOT/t/apps/python/dir with space"; asgi_app spaced:app; }
--- exec
curl -s http://127.0.0.1:$PORT/stdoutbuf; curl -s http://127.0.0.1:$PORT/spaced/x
--- response_body
utf-8 False <stderr>
spaced
--- error_log
written as bytes
