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
--- killed_workers
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

=== TEST 2: four workers: the Prometheus text follows the grammar and agrees with the JSON, with the server's totals
--- workers: 4
--- config
asgi_python_path $ROOT/t/apps/python;
location /py/ { asgi_app "rawapp:app"; }
--- exec
/usr/bin/python3 $ROOT/t/tools/prom_check.py $PORT /py/hello 12
--- response_body_like
\d+ samples, grammar ok, figures agree with the JSON; completed 12
