# The scenario of the original bug report (gunicorn #3484): an async
# SQLAlchemy session mid-query when the client disconnects. Its rollback
# completes inside the grace period; no "non-checked-in connection" and no
# CancelledError traceback appear in the log.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: G1 the transaction rolls back in the grace period, the connection returns to the pool
--- main_config
env ASGI_RECORD=$RECORD;
env ASGI_DB=$SERVROOT/test.db;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app dbapp:app; }
--- warmup: /warm
--- request
GET /slow
--- abort
--- timeout: 0.2
--- record
rolled back after the disconnect
pool checked out: 0
--- access_log
499 client_disconnected /slow
--- no_error_log
non-checked-in connection
CancelledError
Traceback
[error]
--- after
my ($n) = `/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('@{[servroot()]}/test.db').execute('select count(*) from t').fetchone()[0])"`;
is($n + 0, 1, "only the warm-up's insert was committed: the aborted one rolled back");

=== TEST 2: without the disconnect the same request commits
--- main_config
env ASGI_RECORD=$RECORD;
env ASGI_DB=$SERVROOT/test.db;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app dbapp:app; }
--- request
GET /slow
--- error_code: 200
--- response_body
done
--- after
my ($n) = `/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('@{[servroot()]}/test.db').execute('select count(*) from t').fetchone()[0])"`;
is($n + 0, 1, "the insert was committed");
