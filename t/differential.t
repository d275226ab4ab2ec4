# Differential tests against uvicorn: the same raw HTTP/1.1
# exchanges (methods, escaped and UTF-8 paths, queries, bodies with and
# without chunking, Expect, pipelining, clients leaving mid-body) to the same raw ASGI, Starlette and
# FastAPI apps under the module and under Debian's uvicorn (h11); what the
# apps observed and what the clients got must be the same, or a difference
# t/tools/differential.py allows with its reason (docs/python.md).
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: the module and uvicorn: the same scope, messages and answers, or an allowed difference
--- main_config
env OBSERVE_RECORD=$RECORD;
--- config
asgi_python_path $ROOT/t/apps/python;
location / { asgi_app observe:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/differential.py $PORT $ROOT/t/apps/python $SERVROOT/record
--- timeout: 60
--- response_body_like eval
qr/^33 exchanges: \d+ the same, \d+ allowed differences, 0 unexplained$/m
