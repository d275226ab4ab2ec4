# asgi_status for the whole server: every worker's figures in a shared
# zone, totals that survive reloads and killed workers.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: four workers: totals equal the requests sent, before and after a reload a request outlives, and after a worker is killed
--- workers: 4
--- allow_alerts: worker process \d+ exited on signal 9$
--- config
asgi_python_path $ROOT/t/apps/python;
location /py/ { asgi_app "rawapp:app"; asgi_disconnect_grace_period 100ms; }
--- exec
/usr/bin/python3 $ROOT/t/tools/fleet_check.py $PORT $SERVROOT 4
--- timeout: 120
--- response_body_like
^ok 4 workers report, all of the running configuration
ok totals: opened 43 = completed 40 \+ disconnected or cancelled 3 \(clients left: [a-z_ 0-9,]+\), live 0; [1-4] workers served them and add up
ok after the reload an exiting worker holds the live request
ok reloaded: 4 new workers; opened 44, completed 41, live 0
ok 20 more: opened 64, completed 61
ok a killed worker's requests stay counted: opened 64, completed 61, 4 workers

=== TEST 2: four workers: the Prometheus text follows the grammar and agrees with the JSON, with the server's totals; an app served in two locations is one series
--- workers: 4
--- config
asgi_python_path $ROOT/t/apps/python;
location /py/ { asgi_app "rawapp:app"; }
location /also/ { asgi_app "rawapp:app"; }
location /n1/ { asgi_native_app $TEST_APP threaded; }
location /n2/ { asgi_native_app $TEST_APP inline; }
--- exec
/usr/bin/python3 $ROOT/t/tools/prom_check.py $PORT /py/hello 12
--- response_body_like
\d+ samples, grammar ok, figures agree with the JSON; completed 12

=== TEST 3: a reload that fails (its port is taken) leaves the running workers current, with their apps ready
--- apache_skip: a graceful restart that cannot bind stops Apache altogether (its own behaviour)
--- workers: 4
--- allow_alerts: bind\(\) to 127\.0\.0\.1:\d+ failed
--- config
asgi_python_path $ROOT/t/apps/python;
location /py/ { asgi_app "rawapp:app"; }
--- exec
/usr/bin/python3 $ROOT/t/tools/fleet_check.py $PORT $SERVROOT 4 failed-reload
--- timeout: 60
--- response_body
ok the reload failed: bind() to the taken port
ok 4 workers, all of the running configuration; rawapp:app ready in 4

=== TEST 4: the format is case-insensitive; an unknown one is a 400 that names the valid ones
--- config
location /t/ { asgi_native_app $TEST_APP threaded; }
--- exec
curl -s "http://127.0.0.1:$PORT/_asgi_status?format=JSON" | head -c 7; echo
curl -s -o /dev/null -w 'prometheus %{http_code} ' "http://127.0.0.1:$PORT/_asgi_status?format=Prometheus"
curl -s -w 'xml %{http_code}' "http://127.0.0.1:$PORT/_asgi_status?format=xml"; echo
--- response_body
{"pid":
prometheus 200 asgi_status: unknown format; give format=text, format=json or format=prometheus
xml 400
--- apache_response_body
{"pid":
prometheus 200 ASGIStatus: unknown format; give format=text, format=json or format=prometheus
xml 400
=== TEST 5: a module loaded but not used makes no zone: another module's zone may be named asgi_status
--- apache_skip: nginx's shared zones
--- exec
sh $ROOT/t/tools/zone-name.sh $ROOT/build
--- response_body
nginx -t ok: the module loaded, a limit_req zone named asgi_status
