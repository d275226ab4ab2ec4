# Python apps behave in nginx as they do under python3 (BEHAVIOURS P1-P9):
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
--- after
my $log = error_log_text();
my @entries = grep { /asgi: (app failed|\(part \d+\/\d+\))/ } split /(?=^\d{4}\/\d\d\/\d\d )/m, $log;
ok(@entries >= 3, "P2 the traceback spans " . scalar(@entries) . " entries");
is(scalar(grep { !/, client: 127\.0\.0\.1, server: \S*, request: "GET \/deep\?n=80 HTTP\/1\.1"/ } @entries), 0,
   "P2 every entry carries the request");
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
my $short = () = $log =~ /app failed: the ASGI app 'broken:app' could not be imported when this worker started \(\w+Error: [^\n]*; the traceback was logged then\), client/g;
is($short, 3, "P6 one short line per request, with the request");
