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
