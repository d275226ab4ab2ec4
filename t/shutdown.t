# Graceful shutdown (L4) and reload under load (L5).
use lib 't/lib';
use Test::Asgi;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();

sub pid_file { servroot() . "/logs/nginx.pid" }
# Apache's own graceful stop takes about 2.4 s here with no module loaded
# (its parent and children poll once a second): the bounds allow it.
our $slack = server_name() eq 'apache' ? 2.5 : 0;

# Runs $n requests in $procs parallel children; returns the statuses.
sub load {
    my ($procs, $n, $uri, $during) = @_;
    my @kids;
    for my $p (1 .. $procs) {
        pipe(my $r, my $w) or die $!;
        my $pid = fork // die $!;
        if (!$pid) {
            close $r;
            for (1 .. $n) {
                my ($status) = http_get($uri);
                print $w ($status // 'none'), "\n";
            }
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [$pid, $r];
    }
    $during->() if $during;
    my @statuses;
    for my $k (@kids) {
        my $fh = $k->[1];
        push @statuses, map { chomp; $_ } <$fh>;
        waitpid $k->[0], 0;
    }
    return @statuses;
}

run_tests();
done_testing();

__DATA__

=== TEST 1: L4 nginx -s quit lets an in-flight request finish
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
location = /status { asgi_status; }
--- after
my @statuses = load(3, 1, '/t/wait?ms=3000', sub {
    # the quit comes once the three requests are in the app, not before
    ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 3\b/ }),
       "L4 three requests in flight");
    nginx_signal('QUIT');
});
is(join(',', @statuses), '200,200,200', "L4 the three in-flight requests finished");
ok(wait_for(5, sub { server_exited() }), "L4 nginx exited after them");

=== TEST 1b: L4 nginx -s quit lets an in-flight request finish after the worker was idle
# the hold a finished request leaves behind (cancelable while idle) holds
# the worker again for the next requests
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
location /i/ { asgi_native_app $TEST_APP inline; }
location = /status { asgi_status; }
--- after
is((http_get('/i/hello'))[0], 200, "an inline request, finished");
is((http_get('/t/hello'))[0], 200, "a threaded request, finished");
my @statuses = load(2, 1, '/t/wait?ms=2000', sub {
    ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 2\b/ }),
       "L4 two requests in flight");
    nginx_signal('QUIT');
});
is(join(',', @statuses), '200,200', "L4 the two in-flight requests finished");
ok(wait_for(5, sub { server_exited() }), "L4 nginx exited after them");

=== TEST 2: L4 an idle worker quits at once
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- request
GET /t/hello
--- error_code: 200
--- after
my $t = time;
nginx_signal('QUIT');
ok(wait_for(5, sub { server_exited() }), "nginx exited");
ok(time - $t < 0.5 + $main::slack, sprintf "L4 in %.2f s", time - $t);

=== TEST 2b: L4 an idle worker quits at once after an inline app's request
--- config
location /t/ { asgi_native_app $TEST_APP inline; }
--- request
GET /t/hello
--- error_code: 200
--- after
my $t = time;
nginx_signal('QUIT');
ok(wait_for(5, sub { server_exited() }), "nginx exited");
ok(time - $t < 0.5 + $main::slack, sprintf "L4 in %.2f s", time - $t);

=== TEST 3: L4 a pending grace period does not keep a quitting worker beyond worker_shutdown_timeout
--- main_config
worker_shutdown_timeout 500ms;
--- config
asgi_disconnect_grace_period 60s;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/stubborn
--- abort
--- timeout: 0.2
--- record
saw-disconnect /t/stubborn
--- live_check_after
--- after
my $t = time;
nginx_signal('QUIT');
ok(wait_for(10, sub { server_exited() }), "nginx exited");
my $took = time - $t;
ok($took < 3, sprintf "L4 exited %.2f s after quit despite a 60 s grace period", $took);
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, "L4 no alert at exit");

=== TEST 3b: L4 worker_shutdown_timeout ends a quitting worker's wait for an app when it runs out, not at the hold's next tick
--- main_config
worker_shutdown_timeout 300ms;
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
location = /status { asgi_status; }
--- after
my $pid = fork // die $!;
if (!$pid) { http_get('/t/wait?ms=10000'); POSIX::_exit(0); }
ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 1\b/ }),
   "L4 a request in flight");
my $t = time;
nginx_signal('QUIT');
ok(wait_for(10, sub { server_exited() }), "nginx exited");
my $took = time - $t;
waitpid $pid, 0;
# the hold ticks once a second: before, the worker lived 1-2 s
ok($took < 0.95, sprintf "L4 exited %.2f s after quit, worker_shutdown_timeout 300ms", $took);
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, "L4 no alert at exit");

=== TEST 3c: L4 a quitting worker exits when the last app that outlived its request finishes, not at the hold's next tick
--- apache_skip: nginx's shutdown hold (Apache's children poll once a second when they stop)
--- config
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- after
my $t0 = time;
my ($status) = http_get('/t/background?ms=1500');
is($status, 200, "answered before the app finished");
nginx_signal('QUIT');
ok(wait_for(10, sub { server_exited() }), "nginx exited");
my $took = time - $t0;
ok(defined recorded_at('background-done', '/t/background'), "the app finished its work");
# the hold was armed with the request and ticks each second after it:
# before, the worker exited at the tick after the app's end (2 s)
ok($took >= 1.5 && $took < 1.85, sprintf "L4 exited %.2f s after the request (its app ran 1.5 s)", $took);

=== TEST 3d: L4 an idle worker quits at once after an app that outlived its request finished
--- apache_skip: nginx's shutdown hold (Apache's children poll once a second when they stop)
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
location = /status { asgi_status; }
--- after
my ($status) = http_get('/t/background?ms=200');
is($status, 200, "answered before the app finished");
ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 0\b/ }),
   "the app finished");
my $t = time;
nginx_signal('QUIT');
ok(wait_for(5, sub { server_exited() }), "nginx exited");
# before, the worker waited for its hold's tick, a second after the request
ok(time - $t < 0.4, sprintf "L4 in %.2f s", time - $t);

=== TEST 4: L4 without worker_shutdown_timeout, the quitting worker waits for the grace period, no longer
--- config
asgi_disconnect_grace_period 1s;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/ignore
--- abort
--- timeout: 0.2
--- record
saw-disconnect /t/ignore
--- live_check_after
--- after
my $t = time;
nginx_signal('QUIT');
ok(wait_for(10, sub { server_exited() }), "nginx exited");
my $took = time - $t;
ok($took > 0.5 && $took < 2.5 + $main::slack, sprintf "L4 exited %.2f s after quit: the app was cancelled at the end of its grace", $took);
like(`cat @{[servroot()]}/record`, qr/^cancelled \/t\/ignore/m, "L4 the app got its cancel");

=== TEST 4b: L4 without worker_shutdown_timeout, an app that ignores its cancel keeps a quitting worker a second after the cancel, not its grace period again
--- apache_skip: nginx's shutdown hold
--- config
asgi_disconnect_grace_period 3s;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /t/stubborn
--- abort
--- timeout: 0.2
--- record
saw-disconnect /t/stubborn
--- live_check_after
--- after
my $t = time;
nginx_signal('QUIT');
ok(wait_for(15, sub { server_exited() }), "nginx exited");
my $took = time - $t;
ok(defined recorded_at('cancel-ignored', '/t/stubborn'), "the app ignored its cancel");
# the grace (3 s), a second, the hold's tick (up to 1 s); before, the
# grace was counted again after the cancel: 7-8 s
ok($took > 2 && $took < 6, sprintf "L4 exited %.2f s after quit", $took);
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, "L4 no alert at exit");

=== TEST 4c: L4 an app cancelled at the end of its grace does not cut short the wait for an app still working after its response
--- apache_skip: nginx's shutdown hold
--- config
location /s/ { asgi_disconnect_grace_period 1s; asgi_native_app $TEST_APP "threaded record=$RECORD"; }
location /b/ { asgi_disconnect_grace_period 4s; asgi_native_app $TEST_APP "threaded record=$RECORD"; }
--- request
GET /s/stubborn
--- abort
--- timeout: 0.2
--- record
saw-disconnect /s/stubborn
--- live_check_after
--- after
my ($status) = http_get('/b/background?ms=3500');
is($status, 200, "answered while the stubborn app is in its grace");
nginx_signal('QUIT');
ok(wait_for(15, sub { server_exited() }), "nginx exited");
# the background app's scope ended first; the stubborn one's, cancelled
# at the end of its 1 s grace, must not end the wait a second later
ok(defined recorded_at('background-done', '/b/background'), "L4 the app working after its response finished");
ok(defined recorded_at('cancel-ignored', '/s/stubborn'), "the stubborn app ignored its cancel");

=== TEST 5: L5 nginx -s reload under load loses no accepted request
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
location /i/ { asgi_native_app $TEST_APP inline; }
--- after
my @statuses = load(8, 40, '/t/wait?ms=20', sub {
    for (1 .. 3) {
        sleep 0.3;
        nginx_signal('HUP');
    }
});
my $ok = grep { $_ eq '200' } @statuses;
is(scalar @statuses, 320, "L5 every request answered");
is($ok, 320, "L5 all 200 across three reloads") or diag(join ',', @statuses);

=== TEST 6: L5 nginx -s reload under load with a Python app loses no accepted request
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- warmup: /hello
--- after
my @statuses = load(8, 40, '/wait?ms=20', sub {
    for (1 .. 3) {
        sleep 0.5;
        nginx_signal('HUP');
    }
});
my $ok = grep { $_ eq '200' } @statuses;
is(scalar @statuses, 320, "L5 every request answered");
is($ok, 320, "L5 all 200 across three reloads, old workers' interpreters finishing theirs") or diag(join ',', @statuses);

=== TEST 7: B3 an app that blocks its event loop cannot keep a quitting worker forever
--- main_config
worker_shutdown_timeout 1s;
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
--- request
GET /block?s=60
--- abort
--- timeout: 0.3
--- record
blocking
--- live_check_after
--- after
my $t = time;
nginx_signal('QUIT');
ok(wait_for(15, sub { server_exited() }), "nginx exited");
my $took = time - $t;
ok($took < 8, sprintf "B3 the worker exited %.2f s after quit, its Python thread still blocked", $took);
like(error_log_text(), qr/the Python thread did not stop/, "B3 and said why");

=== TEST 8: L4 a fast stop (nginx -s stop, apache2 -k stop) with a request in flight: the server exits soon after; under Apache the app hears its client leave, gets its grace and cancel
--- config
asgi_disconnect_grace_period 1s;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
location = /status { asgi_status; }
--- after
my $t;
my @statuses = load(1, 1, '/t/ignore', sub {
    ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 1\b/ }),
       "L4 a request in flight");
    $t = time;
    nginx_signal('TERM');
});
is(join(',', @statuses), 'none', "L4 its client was closed");
ok(wait_for(15, sub { server_exited() }), "the server exited");
my $took = time - $t;
ok($took < 3 + $main::slack, sprintf "L4 exited %.2f s after the stop: the 1 s grace, then the cancel", $took);
# (nginx's fast stop ends the worker at once: its apps are abandoned;
# Apache's child cannot end before its worker threads return)
if (server_name() eq 'apache') {
    my $record = '';
    wait_for(5, sub {
        $record = `cat @{[servroot()]}/record 2>/dev/null`;
        return $record =~ /^cancelled /m;
    });
    like($record, qr/^saw-disconnect \/t\/ignore/m, "L4 the app heard its client leave");
    like($record, qr/^cancelled \/t\/ignore/m, "L4 and got its cancel");
}

=== TEST 9: L4 a fast stop while a response waits on a client that does not read: the app hears its client leave (Apache), the server exits
--- main_config
env ASGI_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app rawapp:app; }
location = /status { asgi_status; }
--- after
use IO::Socket::INET;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => server_port())
    or die "connect: $!";
print $s "GET /big?size=200000000 HTTP/1.1\r\nHost: x\r\n\r\n";
ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 1\b/ }),
   "L4 a response in flight to a client that does not read");
select(undef, undef, undef, 0.5);   # its writes fill the socket
nginx_signal('TERM');
# (Apache closes the connections of a child that stops at once, but a
# thread blocked writing waits for its Timeout or Apache's SIGKILL: the
# app is told at once all the same)
if (server_name() eq 'apache') {
    ok(wait_for(10, sub { `cat @{[servroot()]}/record 2>/dev/null` =~ /^disconnected big/m }),
       "L4 the app heard its client leave");
}
ok(wait_for(20, sub { server_exited() }), "the server exited");
close $s;

=== TEST 10: L4 a graceful stop that runs out of time (worker_shutdown_timeout, GracefulShutdownTimeout) tells the app in flight its client leaves (under Apache: then its grace and cancel), then the server exits
--- main_config
worker_shutdown_timeout 1s;
--- config
asgi_disconnect_grace_period 1s;
location /t/ { asgi_native_app $TEST_APP "threaded record=$RECORD"; }
location = /status { asgi_status; }
--- apache_config
GracefulShutdownTimeout 1
ASGIDisconnectGracePeriod 1s
<Location /t/>
    ASGINativeApp $TEST_APP "threaded record=$RECORD"
</Location>
<Location /status>
    ASGIStatus
</Location>
--- after
my $t;
my @statuses = load(1, 1, '/t/ignore', sub {
    ok(wait_for(10, sub { scalar(http_get('/status')) =~ /running apps: 1\b/ }),
       "L4 a request in flight");
    $t = time;
    nginx_signal('QUIT');
});
ok(wait_for(20, sub { server_exited() }), "the server exited");
my $took = time - $t;
ok($took < 3.5 + $main::slack, sprintf "L4 exited %.2f s after the graceful stop: its 1 s, the 1 s grace, the cancel", $took);
my $record = '';
wait_for(5, sub {
    $record = `cat @{[servroot()]}/record 2>/dev/null`;
    return $record =~ /^cancelled /m;
});
like($record, qr/^saw-disconnect \/t\/ignore/m, "L4 the app heard its client leave");
# (nginx ends the worker at worker_shutdown_timeout, grace or not: TEST 3)
like($record, qr/^cancelled \/t\/ignore/m, "L4 and got its cancel")
    if server_name() eq 'apache';
