package Test::Asgi;

# A small data-driven harness in the style of OpenResty's Test::Nginx, on
# Test::Base: every block of a .t file runs a real nginx with the real
# module and checks what a real client sees, the logs and the counters.
#
# Sections of a block:
#   --- config          directives inside server { }; $TEST_APP, $RECORD,
#                       $SERVROOT, $PORT, $BUILD, $ROOT and $PYTHON_RUNTIME
#                       (the runtime beside the module) are replaced
#   --- http_config     directives inside http { }
#   --- main_config     directives at the top level
#   --- request         "METHOD /uri" [newline body]; HTTP/1.1, one
#                       connection, Connection: close
#   --- raw_request     bytes sent as they are (use "eval" for \r\n)
#   --- more_headers    extra request header lines
#   --- http2           curl with HTTP/2 prior knowledge instead of a socket
#   --- exec            a client command instead ($PORT, $H2PORT (cleartext
#                       HTTP/2), $TLSPORT (HTTP/2 over TLS), $SMALLPORT
#                       (HTTP/1.1 with sndbuf=32k), $ROOT, $SERVROOT
#                       replaced); its output is checked as the body
#   --- port: small     the request goes to the sndbuf=32k listener
#   --- abort           close the connection --- timeout seconds after the
#                       module opened its scope, without reading the
#                       response; --- abort: rst sends
#                       a TCP reset, --- abort: half shuts down writing
#   --- timeout         seconds (default 5 for a full response)
#   --- error_code      expected status
#   --- response_body   expected body (exact); --- response_body_like: regex
#   --- response_headers "Name: value" lines that must be in the response
#   --- access_log      lines that must appear in the access log, whose
#                       format is "$status $asgi_outcome $request_uri"
#   --- error_log       lines that must appear in error.log (substring,
#                       or regexes with "eval")
#   --- no_error_log    lines that must not appear in error.log
#   --- record          lines the test app must have recorded
#   --- no_record       lines it must not have recorded
#   --- warmup          a URI fetched (and checked for 200) before the test
#   --- must_die        nginx must refuse the configuration (nginx -t),
#                       with this text in its message
#   --- after           Perl code run last (package main)
#   --- no_wait_ready   send the request at once, not after the worker's
#                       apps are ready (asgi_status shows none "loading")
#   --- live_check_after  run --- after before the live-scope check, which
#                       is skipped if nginx has exited
#   --- workers         worker_processes (default 1)
#   --- allow_alerts    regexes of [alert]/[emerg] lines the test causes on
#                       purpose (a killed worker, a reload that fails)
#   --- server_wrapper  a command the server is started under ($BUILD,
#                       $ROOT replaced), e.g. $BUILD/t/seccomp_deny kill
#
# Helpers for --- after: status_json, worker_rss_kb, recorded_at,
# error_log_text, http_get, app_threads_leave_signals (asserts every app
# thread blocks the worker's signals).
#
# The environment (make sets the first three):
#   ASGI_BUILD_DIR      the build directory (default build/)
#   ASGI_MODULE, ASGI_TEST_APP  the module and the native test app to load
#                       (default: the plain builds in ASGI_BUILD_DIR)
#   ASGI_SANITIZE=asan  preload ASan into nginx; any report fails the block
#   ASGI_ASAN_OPTIONS   more ASan options (make soak: a small quarantine)
#   ASGI_NGINX          the nginx binary (default: nginx on PATH)
#   ASGI_TEST_PORT      the first of the four ports the suite listens on
#   ASGI_LOG_LEVEL      error_log level (default debug)
#   ASGI_MAIN_CONFIG    top-level directives added to every block
#   ASGI_TEST_BLOCKS=regex runs only the blocks whose name matches it.
#   ASGI_SERVER=apache  run the blocks against Apache httpd with mod_asgi
#                       (ASGI_APACHE_MODULE, default build/mod_asgi.so;
#                       ASGI_APACHE_MPM event or worker, default event)
#
# Under Apache a block's nginx --- config is translated (locations and the
# asgi_* directives); a block with anything else (or a --- main_config,
# --- http_config, --- port, --- must_die) needs its own --- apache_config
# (and --- apache_must_die), or it is skipped as nginx's own behaviour;
# --- apache_skip: reason skips it on purpose; --- apache_response_body
# and --- apache_error_log replace their nginx twins where Apache answers
# or logs otherwise by design.
#
# Waiting is on events, with deadlines: the access-log line of the request,
# log lines, recorded lines, the live-scope counter. After every block the
# worker's live scopes must be back to 0 and error.log must hold no
# [alert], [crit] or [emerg] line, no worker exit with a non-zero code and
# no sanitizer report.

use strict;
use JSON::PP ();
use warnings;

use Test::Base;
use Test::More;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER SHUT_WR);
use Time::HiRes qw(sleep time);
use File::Path qw(make_path remove_tree);
use Cwd qw(abs_path);
use File::Basename qw(dirname basename);

use base 'Exporter';
our @EXPORT = qw(run_tests server_port servroot nginx_start nginx_stop server_name
                 nginx_signal http_get wait_for error_log_text
                 recorded_at status_json worker_rss_kb error_log_like
                 app_threads_leave_signals server_exited);

my $root = abs_path(dirname(__FILE__) . '/../../..');
# ASGI_BUILD_DIR: the build directory (make's B); plain `prove` uses
# build/, and the suites that run built tools read it from here too.
my $build = $ENV{ASGI_BUILD_DIR} ||= "$root/build";
my $module = $ENV{ASGI_MODULE} || "$build/ngx_http_asgi_module.so";
my $test_app = $ENV{ASGI_TEST_APP} || "$build/t/testapp.so";
# ASGI_SANITIZE=asan: nginx runs with the ASan runtime preloaded (the
# module and the test app are ASan builds); every report is a failure.
my $sanitize = $ENV{ASGI_SANITIZE} // '';
my $name = basename($0, '.t');
my $servroot = "$build/t/servroot/$name";
my $port = $ENV{ASGI_TEST_PORT} || free_port_pair();
my $nginx = $ENV{ASGI_NGINX} || 'nginx';
my $server = $ENV{ASGI_SERVER} || 'nginx';
my $apache_module = $ENV{ASGI_APACHE_MODULE} || "$build/mod_asgi.so";
my $apache_mpm = $ENV{ASGI_APACHE_MPM} || 'event';
sub server_name { $server }
$ENV{ASGI_LOG_LEVEL} ||= 'debug';

# Four consecutive free ports (HTTP/1.1, cleartext HTTP/2, HTTP/2 over
# TLS, HTTP/1.1 with a small send buffer), below Linux's ephemeral range so
# outgoing connections never hold them.
sub free_port_pair {
    for my $try (0 .. 200) {
        my $p = 20000 + int(rand(3000)) * 4;
        my @s = map { IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                            LocalPort => $p + $_,
                                            Proto => 'tcp', Listen => 1) }
                (0 .. 3);
        return $p if 4 == grep { $_ } @s;
    }
    die "no free port quadruple";
}

# A self-signed certificate for the TLS listener, made once per build.
unless (-e "$build/t/cert.pem") {
    make_path("$build/t");
    system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
           . " -nodes -keyout $build/t/key.pem -out $build/t/cert.pem"
           . " -days 3650 -subj /CN=localhost >/dev/null 2>&1") == 0
        or die "openssl could not make a test certificate";
}

sub server_port { $port }
sub servroot { $servroot }

sub conf_text {
    my ($block) = @_;
    # ASGI_MAIN_CONFIG adds top-level directives (e.g. worker_rlimit_core)
    my $main = ($block->main_config // '') . ($ENV{ASGI_MAIN_CONFIG} // '');
    my $http = $block->http_config // '';
    my $config = $block->config // '';
    # As root, workers stay root: the server root may sit in a directory
    # other users cannot enter (a CI clone under mktemp -d).
    my $user = $> == 0 ? 'user root;' : '';
    my $workers = $block->workers // 1;
    my $text = <<"CONF";
load_module $module;
$user
worker_processes $workers;
error_log logs/error.log $ENV{ASGI_LOG_LEVEL};
pid logs/nginx.pid;
$main
events { worker_connections 1024; }
http {
    client_body_temp_path tmp/body;
    log_format asgi_test '\$status \$asgi_outcome \$request_uri';
    access_log logs/access.log asgi_test;
$http
    server {
        listen 127.0.0.1:$port;
        listen 127.0.0.1:@{[$port + 1]} http2;
        listen 127.0.0.1:@{[$port + 2]} ssl http2;
        listen 127.0.0.1:@{[$port + 3]} sndbuf=32k;
        ssl_certificate $build/t/cert.pem;
        ssl_certificate_key $build/t/key.pem;
        location = /_asgi_status { asgi_status; access_log off; }
$config
    }
}
CONF
    return substitute($text);
}

sub substitute {
    my ($text) = @_;
    $text =~ s/\$TEST_APP/$test_app/g;
    $text =~ s/\$PYTHON_RUNTIME/@{[dirname($module)]}\/asgi_python.so/g;
    $text =~ s/\$BUILD/$build/g;
    $text =~ s/\$ROOT/$root/g;
    $text =~ s/\$RECORD/$servroot\/record/g;
    $text =~ s/\$SERVROOT/$servroot/g;
    $text =~ s/\$PORT/$port/g;
    return $text;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub error_log_text { slurp("$servroot/logs/error.log") }

# like(error_log_text(), ...) in either server's log format (log_has)
sub error_log_like {
    my ($pattern, $name) = @_;
    ok(log_has(error_log_text(), $pattern), $name)
        or diag("no $pattern in the error log");
}

# Polls `cond` until it is true or `seconds` pass; returns its last value.
sub wait_for {
    my ($seconds, $cond) = @_;
    my $deadline = time + $seconds;
    my $v;
    while (1) {
        $v = $cond->();
        return $v if $v || time > $deadline;
        sleep 0.02;
    }
}

sub pid_file {
    "$servroot/logs/" . ($server eq 'apache' ? 'httpd.pid' : 'nginx.pid')
}

my $last_pid;
my @last_children;   # Apache's, when it was signalled: they exit last

sub nginx_pid {
    my $pid = slurp(pid_file());
    $pid =~ s/\s+//g;
    $last_pid = $pid if $pid;
    return $pid;
}

# Whether process $pid runs: a zombie does not (Apache's parent is init's
# child once it daemonized, and some inits reap only now and then).
sub running {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat") // '';
    return $stat !~ /\) Z /;
}

# Whether the server signalled last has exited: nginx's master removes
# its pid file as it exits, Apache's as its stop begins.
sub server_exited {
    return !-e pid_file() if $server ne 'apache';
    return !$last_pid
        || (!running($last_pid) && !grep { running($_) } @last_children);
}

# nginx's signals, as Apache's equivalents: QUIT (graceful stop) is
# WINCH, HUP (reload) is USR1 (graceful restart).
my %apache_signal = (QUIT => 'WINCH', HUP => 'USR1');

sub nginx_signal {
    my ($sig) = @_;
    $sig = $apache_signal{$sig} // $sig if $server eq 'apache';
    my $pid = nginx_pid();
    @last_children = $server eq 'apache' && $pid ? children_of($pid) : ();
    kill $sig, $pid if $pid;
}

# Stops nginx: fast (TERM) unless told 'QUIT' for a graceful shutdown.
# The children of process $pid.
sub children_of {
    my ($pid) = @_;
    my @kids;
    for my $stat (glob("/proc/[0-9]*/stat")) {
        my $text = slurp($stat) or next;
        my @f = split ' ', substr($text, rindex($text, ')') + 2);
        push @kids, $stat =~ m{/proc/(\d+)/} if $f[1] == $pid;
    }
    return @kids;
}

sub nginx_stop {
    my ($sig) = @_;
    my $pid = nginx_pid();
    return unless $pid && kill 0, $pid;
    if (!defined $sig && $server eq 'apache') {
        # between blocks: once its children have exited (their exit is
        # what the suites test), Apache's parent only polls for them,
        # once a second: it is not waited for
        my @kids = children_of($pid);
        kill 'TERM', $pid;
        wait_for(30, sub { !grep { running($_) } @kids });
        wait_for(5, sub { !-e pid_file() });
        kill 'KILL', $pid;
        wait_for(5, sub { !running($pid) });
        unlink pid_file();
        return;
    }
    $sig //= 'TERM';
    $sig = $apache_signal{$sig} // $sig if $server eq 'apache';
    kill $sig, $pid;
    # The master removes its pid file as it exits (its zombie may linger
    # until init reaps it, so kill 0 would say it still runs).
    unless (wait_for(30, sub { !-e pid_file() })) {
        kill 'KILL', $pid;
        unlink pid_file();
    }
    # Apache removes its pid file as the stop begins: the parent exits
    # after its children (it is init's child, so no zombie lingers)
    if ($server eq 'apache' && !wait_for(30, sub { !running($pid) })) {
        kill 'KILL', $pid;
    }
}

sub nginx_start {
    my ($block) = @_;
    nginx_stop();
    remove_tree($servroot);
    make_path("$servroot/conf", "$servroot/logs", "$servroot/tmp");
    return apache_start($block) if $server eq 'apache';
    open my $fh, '>', "$servroot/conf/nginx.conf" or die $!;
    print $fh conf_text($block);
    close $fh;
    my $env = sanitizer_env() . server_wrapper($block);
    my $out = `$env$nginx -p $servroot/ -c conf/nginx.conf 2>&1`;
    if ($? != 0) {
        return $out;
    }
    return listening() ? undef : "nginx did not start listening";
}

# The block's --- server_wrapper and a space, or ''.
sub server_wrapper {
    my ($block) = @_;
    return '' unless defined $block->server_wrapper;
    (my $w = substitute($block->server_wrapper)) =~ s/\s+$//;
    return "$w ";
}

# The environment that preloads the ASan runtime into the server, or ''.
sub sanitizer_env {
    return '' unless $sanitize eq 'asan';
    chomp(my $rt = `gcc -print-file-name=libasan.so`);
    # ASGI_ASAN_OPTIONS adds options (make soak: a small quarantine)
    my $extra = $ENV{ASGI_ASAN_OPTIONS} ? ":$ENV{ASGI_ASAN_OPTIONS}" : '';
    return "LD_PRELOAD=$rt ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:"
         . "log_path=$servroot/logs/asan$extra "
         . "UBSAN_OPTIONS=print_stacktrace=1:log_path=$servroot/logs/ubsan ";
}

# Whether the server accepts connections within 5 s.
sub listening {
    return wait_for(5, sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        return $s ? 1 : 0;
    });
}

# ------------------------------------------------------------ Apache

# nginx's asgi_* directives and their mod_asgi names.
my %apache_directive = (
    asgi_native_app => 'ASGINativeApp', asgi_app => 'ASGIApp',
    asgi_python_path => 'ASGIPythonPath', asgi_lifespan => 'ASGILifespan',
    asgi_disconnect_grace_period => 'ASGIDisconnectGracePeriod',
    asgi_ignore_client_abort => 'ASGIIgnoreClientAbort',
    asgi_root_path => 'ASGIRootPath', asgi_status => 'ASGIStatus',
    asgi_python_runtime => 'ASGIPythonRuntime',
);

# nginx's "location [=] /p { d; d; }" and server-level asgi_* directives
# as Apache sections; undef when the text holds anything else.
sub apache_translate {
    my ($config) = @_;
    my (@top, @locations);
    my $text = $config;
    $text =~ s/#[^\n]*//g;
    my $directives = sub {
        my ($body) = @_;
        my @out;
        for my $d (split /;/, $body) {
            $d =~ s/^\s+|\s+$//g;
            next unless length $d;
            my ($name, $args) = $d =~ /^(\w+)\s*(.*)$/s or return undef;
            my $apache = $apache_directive{$name} or return undef;
            push @out, "    $apache $args";
        }
        return \@out;
    };
    while ($text =~ /\S/) {
        if ($text =~ s/^\s*location\s+(=\s*)?(\S+)\s*\{([^{}]*)\}//s) {
            my ($exact, $path, $body) = ($1, $2, $3);
            my $d = $directives->($body) // return undef;
            push @locations, [$exact ? 1 : 0, $path, $d];
        } elsif ($text =~ s/^\s*([^;{}]+;)//s) {
            my $d = $directives->($1) // return undef;
            push @top, @$d;
        } else {
            return undef;
        }
    }
    # Apache merges every matching section in order, the last one wins:
    # a location after those that are its prefixes gives nginx's longest
    # match; exact ones last. Otherwise the block's order stays (the apps
    # start in it).
    for my $l (@locations) {
        push @$l, scalar grep { $_ != $l && index($l->[1], $_->[1]) == 0 }
                              @locations;
    }
    my @sorted = sort { $a->[0] <=> $b->[0] || $a->[3] <=> $b->[3] }
                 @locations;
    my $out = join "\n", map { s/^    //r } @top;
    for my $l (@sorted) {
        my ($exact, $path, $d) = @$l;
        my $open = $exact ? "<LocationMatch \"^\Q$path\E\$\">"
                          : "<Location $path>";
        my $close = $exact ? '</LocationMatch>' : '</Location>';
        $out .= "\n$open\n" . join("\n", @$d) . "\n$close";
    }
    return $out;
}

# The block's Apache configuration, or undef with why it is skipped.
sub apache_block_config {
    my ($block) = @_;
    return (undef, $block->apache_skip) if defined $block->apache_skip;
    return ($block->apache_config, undef) if defined $block->apache_config;
    for my $s (qw(http_config port must_die)) {
        return (undef, "its --- $s is nginx's") if defined $block->$s;
    }
    # nginx's "env NAME=value;" is the environment Apache starts with
    my $main = $block->main_config // '';
    $main =~ s/^\s*env\s+\w+=\S*;\s*$//mg;
    return (undef, "its --- main_config is nginx's") if $main =~ /\S/;
    my $exec = $block->exec // '';
    return (undef, "its client uses nginx's small-buffer listener")
        if $exec =~ /\$SMALLPORT/;
    my $t = apache_translate($block->config // '');
    return (undef, "its configuration uses nginx's own directives")
        unless defined $t;
    return ($t, undef);
}

# As root the children run as www-data: they must reach the repository
# (a CI clone may sit in a private directory) and write the server root.
sub apache_access {
    return unless $> == 0;
    for my $dir ($root, $build) {
        my $d = $dir;
        while ($d ne '/' && $d ne '.') {
            my $mode = (stat $d)[2];
            chmod(($mode & 07777) | 0711, $d) if defined $mode && !($mode & 1);
            $d = dirname($d);
        }
    }
    my ($uid, $gid) = (getpwnam('www-data'))[2, 3];
    system('chown', '-R', "$uid:$gid", $servroot) if defined $uid;
}

sub apache_conf_text {
    my ($block, $config) = @_;
    my $user = $> == 0 ? "User www-data\nGroup www-data" : '';
    my $mods = '/usr/lib/apache2/modules';
    # nginx's --- workers: N is N children
    my $children = $block->workers // 1;
    my $level = $ENV{ASGI_LOG_LEVEL} eq 'debug' ? 'info asgi:debug'
                                                : $ENV{ASGI_LOG_LEVEL};
    my $text = <<"CONF";
ServerRoot $servroot
ServerName localhost
Listen 127.0.0.1:$port
Listen 127.0.0.1:@{[$port + 1]}
Listen 127.0.0.1:@{[$port + 2]}
PidFile logs/httpd.pid
DefaultRuntimeDir logs
Mutex file:logs default
LoadModule mpm_${apache_mpm}_module $mods/mod_mpm_${apache_mpm}.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule http2_module $mods/mod_http2.so
LoadModule ssl_module $mods/mod_ssl.so
LoadModule asgi_module $apache_module
$user
# %2F decoded in the path, as nginx does (docs/apache.md)
AllowEncodedSlashes On
# HTTP/2 by prior knowledge on its own port, as nginx's listener: no
# "Upgrade: h2c" offered on the HTTP/1.1 one
<VirtualHost 127.0.0.1:@{[$port + 1]}>
    Protocols h2c http/1.1
    AllowEncodedSlashes On
</VirtualHost>
<VirtualHost 127.0.0.1:@{[$port + 2]}>
    SSLEngine on
    SSLCertificateFile $build/t/cert.pem
    SSLCertificateKeyFile $build/t/key.pem
    Protocols h2 http/1.1
    AllowEncodedSlashes On
</VirtualHost>
ErrorLog logs/error.log
LogLevel $level
LogFormat "%>s %{asgi-outcome}n %U%q" asgi_test
CustomLog logs/access.log asgi_test
StartServers $children
# room for the children of a generation that exits gracefully
ServerLimit @{[2 * $children]}
ThreadLimit 16
ThreadsPerChild 16
# as many children as nginx has workers, whatever their load
MaxRequestWorkers @{[16 * $children]}
MinSpareThreads 1
MaxSpareThreads @{[16 * $children + 16]}
GracefulShutdownTimeout 10
$config
# last: Apache merges sections in order, this one wins as nginx's exact
# location does
<LocationMatch "^/_asgi_status\$">
    ASGIStatus
</LocationMatch>
CONF
    return substitute($text);
}

sub apache_start {
    my ($block) = @_;
    my ($config, $why) = apache_block_config($block);
    return "skip: $why" unless defined $config;
    open my $fh, '>', "$servroot/conf/httpd.conf" or die $!;
    print $fh apache_conf_text($block, $config);
    close $fh;
    apache_access();
    my $env = sanitizer_env();
    my $main = substitute($block->main_config // '');
    while ($main =~ /^\s*env\s+(\w+)=(\S*);/mg) {
        $env .= "$1='$2' ";
    }
    my $conf = "$servroot/conf/httpd.conf";
    my $out = `$env/usr/sbin/apache2 -f $conf -t 2>&1`;
    return $out if $? != 0;
    my $wrapper = server_wrapper($block);
    $out = `$env$wrapper/usr/sbin/apache2 -f $conf -k start 2>&1`;
    return $out if $? != 0;
    return listening() ? undef : "Apache did not start listening";
}

# One HTTP/1.1 exchange on its own connection. Returns (status, headers
# hashref, body, raw) or, for an abort, what was read before it.
sub http_exchange {
    my (%a) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $a{port} // $port,
                                     Timeout => 5)
        or return (undef, {}, '', "connect failed: $!");
    $sock->autoflush(1);
    my $req = $a{raw};
    unless (defined $req) {
        my ($line, $body) = split /\n/, $a{request}, 2;
        $line =~ s/\s+$//;
        my ($method, $uri) = split ' ', $line;
        $req = "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n";
        for my $h (split /\n/, $a{more_headers} // '') {
            $req .= "$h\r\n" if length $h;
        }
        if (defined $body) {
            $body =~ s/\n$//;
            $req .= "Content-Length: " . length($body) . "\r\n";
            $req .= "\r\n$body";
        } else {
            $req .= "\r\n";
        }
    }
    print $sock $req;

    if ($a{abort}) {
        # The abort's delay counts from the moment the module opened the
        # request's scope, not from the send: a slow machine must not move
        # the abort to an earlier phase than the test means.
        if (defined $a{opened_before}) {
            wait_for(10, sub {
                (status_json()->{opened} // 0) > $a{opened_before}
            }) or diag("abort: the request never reached the module");
        }
        sleep($a{timeout} // 0.5);
        if ($a{abort} eq 'rst') {
            setsockopt($sock, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
            close $sock;
        } elsif ($a{abort} eq 'half') {
            shutdown($sock, SHUT_WR);
            sleep($a{half_wait} // 0.2);
            close $sock;
        } else {
            close $sock;
        }
        return (undef, {}, '', '');
    }

    my $raw = '';
    my $deadline = time + ($a{timeout} // 5);
    $sock->blocking(0);
    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno($sock), 1) = 1;
        my $n = select(my $rout = $rin, undef, undef, 0.1);
        next unless $n;
        my $got = sysread($sock, my $buf, 65536);
        last if !$got;
        $raw .= $buf;
    }
    close $sock;
    return parse_response($raw);
}

sub parse_response {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return (undef, {}, '', $raw) unless defined $head;
    my @lines = split /\r\n/, $head;
    my ($status) = ($lines[0] // '') =~ m{^HTTP/\S+ (\d+)};
    my %h;
    for my $l (@lines[1 .. $#lines]) {
        my ($k, $v) = split /:\s*/, $l, 2;
        push @{ $h{lc $k} }, $v;
    }
    $body //= '';
    if (($h{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len);
            substr($body, 0, $len + 2) = '';
        }
        $body = $out;
    }
    return ($status, \%h, $body, $raw);
}

sub http_get {
    my ($uri) = @_;
    my ($status, $h, $body) = http_exchange(request => "GET $uri");
    return wantarray ? ($status, $body) : $body;
}

sub curl_h2 {
    my ($block) = @_;
    my ($line, $body) = split /\n/, $block->request, 2;
    $line =~ s/\s+$//;
    my ($method, $uri) = split ' ', $line;
    my $h2port = $port + 1;
    my @cmd = ('curl', '-s', '--http2-prior-knowledge', '-X', $method,
               '-o', "$servroot/h2body", '-w', '%{http_code}');
    if (defined $body) {
        $body =~ s/\n$//;
        push @cmd, '--data-binary', $body;
    }
    push @cmd, '--max-time', $block->timeout if defined $block->abort;
    push @cmd, "http://127.0.0.1:$h2port$uri";
    my $code = `@{[join ' ', map { "'$_'" } @cmd]}`;
    return ($code, {}, slurp("$servroot/h2body"), '');
}

# The time (ms) the test app recorded `what` for `path`, or undef.
sub recorded_at {
    my ($what, $path) = @_;
    my $text = slurp("$servroot/record");
    return $text =~ /^\Q$what\E \Q$path\E (\d+)$/m ? $1 : undef;
}

# The server's counters (and "pid", the worker that answered), as a hash.
sub status_json {
    my ($status, $h, $body) =
        http_exchange(request => "GET /_asgi_status?format=json");
    my $json = eval { JSON::PP::decode_json($body // '') } || {};
    return { map { $_ => $json->{$_} } grep { !ref $json->{$_} } keys %$json };
}

# Peak resident memory of the worker, in kB.
sub worker_rss_kb {
    my $pid = status_json()->{pid} or return undef;
    my ($hwm) = slurp("/proc/$pid/status") =~ /VmHWM:\s+(\d+)/;
    return $hwm;
}

# Signals meant for the worker must reach the nginx thread: every other
# thread of the worker (the apps' threads) must have them blocked.
sub app_threads_leave_signals {
    # Apache's own threads take signals as Apache arranges
    return pass("signals: nginx's arrangement") if $server eq 'apache';
    my $pid = status_json()->{pid};
    my @tids = grep { $_ != $pid } map { m{/(\d+)$} } glob("/proc/$pid/task/*");
    ok(@tids >= 1, "the worker runs an app thread (@tids)");
    for my $tid (@tids) {
        my ($blk) = slurp("/proc/$pid/task/$tid/status") =~ /SigBlk:\s+([0-9a-f]+)/;
        my $mask = hex(substr($blk // '0', -8));
        my @open = grep { !($mask & (1 << ($_ - 1))) }
                   (1, 2, 3, 10, 12, 14, 15, 28, 29);
        is("@open", "", "thread $tid blocks HUP INT QUIT USR1 USR2 ALRM TERM WINCH IO");
    }
}

# The threads of the server's children that used more than a quarter
# of `window` seconds of CPU within it ("pid/tid"); only among `only` if
# given.
sub busy_threads {
    my ($window, @only) = @_;
    my $master = nginx_pid() or return ();
    my %cpu = ();
    my $sample = sub {
        my %t;
        for my $stat (glob("/proc/[0-9]*/task/[0-9]*/stat")) {
            my ($pid, $tid) = $stat =~ m{/proc/(\d+)/task/(\d+)/};
            my $text = slurp($stat) or next;
            my @f = split ' ', substr($text, rindex($text, ')') + 2);
            next unless $f[1] == $master;   # ppid: a child of the server
            $t{"$pid/$tid"} = $f[11] + $f[12];  # utime + stime, ticks
        }
        return \%t;
    };
    my $before = $sample->();
    select(undef, undef, undef, $window);
    my $after = $sample->();
    my $limit = $window * 100 / 4;   # ticks of 10 ms
    my %want = map { $_ => 1 } @only;
    return grep { (!@only || $want{$_}) && defined $before->{$_}
                  && $after->{$_} - $before->{$_} > $limit }
           sort keys %$after;
}

# Whether no app of the worker is still loading (P8).
sub apps_settled {
    my ($status, $h, $body) =
        http_exchange(request => "GET /_asgi_status?format=json");
    return 0 unless defined $status && $status eq '200';
    return $body !~ /"state":"loading"|"loading":[1-9]/;
}

sub status_text {
    my ($status, $h, $body) = http_exchange(request => "GET /_asgi_status");
    return $body;
}

sub live_scopes {
    my ($status, $h, $body) =
        http_exchange(request => "GET /_asgi_status?format=json");
    return undef unless defined $status && $status eq '200';
    my ($live) = $body =~ /"live":(\d+)/;
    return $live;
}

sub lines_of {
    my ($v) = @_;
    return () unless defined $v;
    return ref $v eq 'ARRAY' ? @$v
         : ref $v eq 'Regexp' ? ($v)
         : grep { length } split /\n/, $v;
}

sub log_has {
    my ($text, $pattern) = @_;
    # nginx's "[error]" is Apache's "[module:error]"; Apache names the
    # module in each line instead of nginx's "asgi: " prefix
    $pattern =~ s/^((?:\[\w+\] )?)asgi: /$1/
        if $server eq 'apache' && !ref $pattern;
    if ($server eq 'apache' && ref $pattern eq 'Regexp') {
        # the same for a regex; nginx's "PID#TID: *CONN " is Apache's
        # "[pid P:tid T] [client ADDR] "
        my $src = "$pattern";
        $src =~ s/\\\[(debug|info|notice|warn|error|crit|alert|emerg)\\\]/\\[[\\w.]+:$1\\]/g;
        $src =~ s/\\d\+#\\d\+: (?:\\\*\\d\+ )?/.*?/g;
        $src =~ s/asgi: //g;
        $pattern = qr/$src/;
    }
    if ($server eq 'apache' && !ref $pattern
        && $pattern =~ /^\[(debug|info|notice|warn|error|crit|alert|emerg)\](.*)$/s) {
        $pattern = qr/\[[\w.]+:$1\]\Q$2\E/;
    }
    return ref $pattern eq 'Regexp' ? $text =~ $pattern
                                    : index($text, $pattern) >= 0;
}

# A block's section, or its --- apache_ twin under Apache where it has one
# (an accessor exists once some block of the file has the section).
sub server_section {
    my ($block, $name) = @_;
    my $twin = "apache_$name";
    return $block->$twin
        if $server eq 'apache' && $block->can($twin)
           && defined $block->$twin;
    return $block->$name;
}

sub run_block {
    my ($block) = @_;
    my $label = $block->name;

    my $err = nginx_start($block);
    if (defined $err && $err =~ /^skip: (.*)/s) {
        SKIP: { skip("$label - not run under Apache: $1", 1) }
        return;
    }
    my $must_die = $server eq 'apache' ? $block->apache_must_die
                                       : $block->must_die;
    if (defined $err) {
        if (defined $must_die) {
            like($err, qr/\Q$must_die\E/, "$label - the server refuses the configuration");
            return;
        }
        fail("$label - $server started: $err");
        return;
    }
    if (defined $must_die) {
        fail("$label - $server should have refused the configuration");
        nginx_stop();
        return;
    }

    # P8: the apps import (and run their lifespan startup) after the
    # worker started; a test that raced them would time out on a slow
    # machine. Wait for them, as an operator's check would.
    unless (defined $block->no_wait_ready) {
        my $ready = wait_for(60, sub { apps_settled() });
        ok($ready, "$label - the worker's apps are ready or failed")
            or diag("status: " . (status_text() // 'none'));
    }

    # --- warmup: a request that must succeed first (e.g. slow imports)
    if (defined $block->warmup) {
        my ($ws) = http_get(scalar $block->warmup);
        is($ws, 200, "$label - warm-up request");
    }

    my ($status, $headers, $body, $raw);
    my $timeout = scalar $block->timeout;
    if (defined $block->exec) {
        my $cmd = $block->exec;
        $cmd =~ s/\$TLSPORT/@{[$port + 2]}/g;
        $cmd =~ s/\$SMALLPORT/@{[$port + 3]}/g;
        $cmd =~ s/\$H2PORT/@{[$port + 1]}/g;
        $cmd =~ s/\$PORT/$port/g;
        $cmd =~ s/\$ROOT/$root/g;
        $cmd =~ s/\$SERVROOT/$servroot/g;
        $body = `$cmd`;
        $status = $? == 0 ? 'exit 0' : "exit $?";
    } elsif ($block->http2) {
        ($status, $headers, $body) = curl_h2($block);
    } elsif (defined $block->request || defined $block->raw_request) {
        ($status, $headers, $body, $raw) = http_exchange(
            request => scalar $block->request,
            raw => scalar $block->raw_request,
            more_headers => scalar $block->more_headers,
            abort => defined $block->abort
                     ? ($block->abort =~ /^(rst|half)/ ? $1 : 'fin') : undef,
            timeout => $timeout,
            port => ($block->port // '') =~ /small/ ? $port + 3 : $port,
            opened_before => defined $block->abort
                             ? status_json()->{opened} : undef,
        );
    }

    if (defined $block->error_code) {
        is($status, $block->error_code, "$label - status");
    }
    my $expected_body = server_section($block, 'response_body');
    if (defined $expected_body) {
        is($body, $expected_body, "$label - body");
    }
    if (defined $block->response_body_like) {
        my $re = $block->response_body_like;
        $re = qr/$re/s unless ref $re;
        like($body, $re, "$label - body matches");
    }
    for my $line (lines_of($block->response_headers)) {
        my ($k, $v) = split /:\s*/, $line, 2;
        is(($headers->{lc $k} // [])->[0], $v, "$label - header $k");
    }

    # Await what the test expects, then what every test expects.
    for my $line (lines_of($block->access_log)) {
        ok(wait_for(10, sub { log_has(slurp("$servroot/logs/access.log"),
                                      $line) }),
           "$label - access log has \"$line\"")
            or diag(slurp("$servroot/logs/access.log"));
    }
    for my $line (lines_of($block->record)) {
        ok(wait_for(10, sub { log_has(slurp("$servroot/record"), $line) }),
           "$label - app recorded \"$line\"")
            or diag("record: " . slurp("$servroot/record"));
    }
    for my $line (lines_of(server_section($block, 'error_log'))) {
        ok(wait_for(10, sub { log_has(error_log_text(), $line) }),
           "$label - error log has \"$line\"");
    }

    # A test of what happens while scopes are live runs its own code
    # first (--- live_check_after); nginx may be gone by then.
    if (!defined $block->live_check_after) {
        my $live = wait_for(15, sub {
            my $l = live_scopes();
            return defined $l && $l == 0 ? 'zero' : undef;
        });
        ok($live, "$label - no live scope left");
    }

    # A thread that spins once the block's work is over (a timer kept
    # after it fired, a poll that never waits) shows as CPU time while
    # nothing happens. Sanitizer runs skip it: the same logic, slower.
    if (!$sanitize && !defined $block->live_check_after) {
        my @busy = busy_threads(0.2);
        @busy = busy_threads(0.5, @busy) if @busy; # work that was ending
        ok(!@busy, "$label - the server idles when the block is over")
            or diag("spinning: @busy");
    }

    for my $line (lines_of($block->no_record)) {
        ok(!log_has(slurp("$servroot/record"), $line),
           "$label - app did not record \"$line\"");
    }
    my $log = error_log_text();
    for my $line (lines_of($block->no_error_log)) {
        ok(!log_has($log, $line), "$label - error log lacks \"$line\"");
    }
    my @alerts = grep { /\[(?:[\w.]+:)?(alert|crit|emerg)\]/ } split /\n/, $log;
    for my $allowed (lines_of($block->allow_alerts)) {
        @alerts = grep { $_ !~ /$allowed/ } @alerts;
    }
    ok(!@alerts, "$label - no alert, crit or emerg")
        or diag(join "\n", @alerts);
    # A worker that exits on its own (a sanitizer's exit code 1, a
    # report written to stderr) is a failure even if the next worker
    # answered the client.
    my @exits = grep { /worker process \d+ exited with code [1-9]|child pid \d+ exit signal|runtime error:|ERROR: \w+Sanitizer/ }
        split /\n/, $log;
    ok(!@exits, "$label - no worker exited on its own")
        or diag(join "\n", @exits);
    if ($sanitize) {
        my @reports = glob("$servroot/logs/asan.* $servroot/logs/ubsan.*");
        ok(!@reports, "$label - no sanitizer report")
            or diag(join "\n", map { slurp($_) } @reports);
    }

    if ($block->after) {
        my $code = $block->after;
        $code = eval "package main; sub { $code }" or die $@ unless ref $code;
        $code->($block);
    }
}

# ASGI_TEST_BLOCKS=regex runs only the blocks whose name matches.
sub run_tests {
    my $only = $ENV{ASGI_TEST_BLOCKS};
    for my $block (Test::Base::blocks()) {
        next if defined $only && $block->name !~ /$only/;
        run_block($block);
    }
    nginx_stop();
}

1;
