# The abort storm: N requests over HTTP/1.1 and multiplexed HTTP/2, each
# aborted at a random phase or let finish; every finished one must carry
# exactly the right body, and afterwards nothing is live and the counters
# balance (L1 in nginx). ASGI_STORM_N sets N (make stress: 200,000).
use lib 't/lib';
use Test::Asgi;
use Test::More;

our $N = $ENV{ASGI_STORM_N} || 10000;

run_tests();
done_testing();

__DATA__

=== TEST 1: L1 storm against a threaded app
--- config
asgi_disconnect_grace_period 100ms;
keepalive_requests 1000000;
location /t/ { asgi_native_app $TEST_APP threaded; }
--- exec eval
"$ENV{ASGI_BUILD_DIR}/t/storm --port \$PORT --h2port \$TLSPORT --n $main::N --concurrency 32 --seed 7 --prefix /t 2>&1"
--- response_body_like: storm: \d+ passed, 0 failed
--- after
my $c = status_json();
diag("counters: " . join ' ', map { "$_=$c->{$_}" } sort keys %$c);
is($c->{live}, 0, "L1 nothing live");
is($c->{running_apps}, 0, "L1 every app finished");
is($c->{app_errors}, 0, "no app error");
is($c->{opened}, $c->{completed} + $c->{disconnected} + $c->{cancelled} + $c->{app_errors}, "L1 counters balance");

=== TEST 2: L1 storm against an inline app
--- config
asgi_disconnect_grace_period 100ms;
keepalive_requests 1000000;
location /i/ { asgi_native_app $TEST_APP inline; }
--- exec eval
"$ENV{ASGI_BUILD_DIR}/t/storm --port \$PORT --h2port \$TLSPORT --n " . int($main::N / 4) . " --concurrency 32 --seed 11 --prefix /i 2>&1"
--- response_body_like: storm: \d+ passed, 0 failed
--- after
my $c = status_json();
diag("counters: " . join ' ', map { "$_=$c->{$_}" } sort keys %$c);
is($c->{live}, 0, "L1 nothing live");
is($c->{opened}, $c->{completed} + $c->{disconnected} + $c->{cancelled} + $c->{app_errors}, "L1 counters balance");

=== TEST 3: L1 storm against a Python app
--- config
asgi_disconnect_grace_period 100ms;
keepalive_requests 1000000;
asgi_python_path $ROOT/t/apps/python;
location /py/ { asgi_app rawapp:app; }
--- exec eval
"$ENV{ASGI_BUILD_DIR}/t/storm --port \$PORT --h2port \$TLSPORT --n " . int($main::N / 2) . " --concurrency 32 --seed 13 --prefix /py 2>&1"
--- response_body_like: storm: \d+ passed, 0 failed
--- after
my $c = status_json();
diag("counters: " . join ' ', map { "$_=$c->{$_}" } sort keys %$c);
is($c->{live}, 0, "L1 nothing live");
is($c->{running_apps}, 0, "L1 every Python task finished");
is($c->{app_errors}, 0, "no app error");
is($c->{opened}, $c->{completed} + $c->{disconnected} + $c->{cancelled} + $c->{app_errors}, "L1 counters balance");
# The first storm warmed the worker up; a second one as large must not
# grow it (nothing leaks per request, aborted or not).
my $rss = sub { my $pid = status_json()->{pid}; `cat /proc/$pid/status` =~ /VmRSS:\s+(\d+)/; $1 };
my $before = $rss->();
my $n = int($main::N / 2);
my $out = `$ENV{ASGI_BUILD_DIR}/t/storm --port @{[server_port()]} --h2port @{[server_port() + 2]} --n $n --concurrency 32 --seed 17 --prefix /py 2>&1`;
like($out, qr/storm: \d+ passed, 0 failed/, "the second storm passes too");
my $after = $rss->();
diag("worker RSS: $before kB after the first storm, $after kB after the second");
SKIP: {
    # ASan keeps freed memory in quarantine: RSS says nothing there
    skip "RSS under ASan", 1 if $ENV{ASGI_SANITIZE};
    ok($after - $before < 4096, "worker RSS flat across $n more requests, half aborted: +@{[$after - $before]} kB");
}
