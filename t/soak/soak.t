# The soak (make soak): ASGI_SOAK_N requests (default 10^6)
# against a Python app and a native app, over HTTP/1.1 and HTTP/2, aborted
# at random phases (the storm), with ASan+UBSan builds of the module, the
# library and the Python runtime in nginx. Then: every storm passed, the
# counters balance, nothing is live or running, no sanitizer report, no
# [alert], and the worker's memory flat from the first 10 % to the end.
use lib 't/lib';
use Test::Asgi;
use Test::More;

our $N = $ENV{ASGI_SOAK_N} || 1000000;

run_tests();
done_testing();

__DATA__

=== TEST 1: L1 B3 S5 the soak
--- config
asgi_disconnect_grace_period 100ms;
keepalive_requests 100000000;
asgi_python_path $ROOT/t/apps/python;
location /py/ { asgi_app rawapp:app; }
location /t/ { asgi_native_app $TEST_APP threaded; }
--- exec eval
"sh \$ROOT/t/tools/soak.sh $ENV{ASGI_BUILD_DIR}/t/storm \$PORT \$TLSPORT $main::N 2>&1 | tee \$SERVROOT/soak.out"
--- timeout: 7200
--- response_body_like: round 10: \d+ requests, worker RSS \d+ kB
--- after
my $out = `cat @{[servroot()]}/soak.out`;
my @storms = $out =~ /storm: (\d+) passed, (\d+) failed/g;
my ($passed, $failed) = (0, 0);
while (@storms) { $passed += shift @storms; $failed += shift @storms; }
is($failed, 0, "every storm passed ($passed requests checked)");
# The allocator and ASan's quarantine move resident memory up and down by
# megabytes between rounds: growth is the highest of the last three rounds
# against the highest of the first three.
my @rss = $out =~ /round \d+: \d+ requests, worker RSS (\d+) kB/g;
my ($early) = sort { $b <=> $a } @rss[0 .. 2];
my ($late) = sort { $b <=> $a } @rss[-3 .. -1];
diag("worker RSS by round (kB): @rss");
ok($late - $early < 2048, "S5 worker RSS flat: the last rounds' peak $late kB, the first rounds' $early kB");
my $c = status_json();
diag("counters: " . join ' ', map { "$_=$c->{$_}" } sort keys %$c);
is($c->{live}, 0, "L1 nothing live");
is($c->{running_apps}, 0, "L1 every app finished");
is($c->{app_errors}, 0, "no app error");
is($c->{opened}, $c->{completed} + $c->{disconnected} + $c->{cancelled} + $c->{app_errors}, "L1 counters balance");
