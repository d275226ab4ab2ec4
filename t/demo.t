# The demos `make run` serves (docs/examples): what the page promises
# happens when you close the tab.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: the Python demo's page
--- config
location / {
    asgi_python_path $ROOT/docs/examples;
    asgi_app demo_app:app;
}
--- request
GET /
--- error_code: 200
--- response_body_like: A Python ASGI app inside nginx

=== TEST 2: /clock stops the moment the client leaves
--- config
location / {
    asgi_python_path $ROOT/docs/examples;
    asgi_app demo_app:app;
}
--- request
GET /clock
--- abort
--- timeout: 1.3
--- access_log
499 client_disconnected /clock
--- error_log eval
qr/\[info\] .*asgi: demo: clock stopped after \d+ ticks: http\.disconnect, client: /

=== TEST 3: /slow rolls back inside the grace period and ends cleanly
--- config
asgi_disconnect_grace_period 3s;
location / {
    asgi_python_path $ROOT/docs/examples;
    asgi_app demo_app:app;
}
--- request
GET /slow
--- abort
--- timeout: 0.2
--- access_log
499 client_disconnected /slow
--- error_log
demo: client left mid-query: rolling back
demo: rolled back cleanly
--- no_error_log
cancelled after the grace period
[error]

=== TEST 4: /stubborn is cancelled when the grace period ends
--- config
asgi_disconnect_grace_period 300ms;
location / {
    asgi_python_path $ROOT/docs/examples;
    asgi_app demo_app:app;
}
--- request
GET /stubborn
--- abort
--- timeout: 0.2
--- access_log
499 cancelled_after_grace /stubborn
--- error_log
demo: cancelled after the grace period: the app ignored the disconnect
--- no_error_log
rolled back cleanly

=== TEST 5: the native demo's page
--- config
location / { asgi_native_app $BUILD/run/demo_app.so; }
--- request
GET /
--- error_code: 200
--- response_body_like: native ASGI app

=== TEST 6: the WebSocket counter counts, takes a bump, and logs the close code the page sends
--- config
location / {
    asgi_python_path $ROOT/docs/examples;
    asgi_app demo_app:app;
}
--- exec
/usr/bin/python3 $ROOT/t/tools/wsclient.py $PORT /counter recv 'text +100' recv recv 'close 4000 bye' recvall eof
--- response_body_like eval
qr/^HTTP\/1.1 101 Switching Protocols\ntext: \d+\n(text: \d+\n)*text: 1\d\d\n(text: \d+\n)*close 4000 ''\neof\n\z/
--- error_log
WebSocket closed by the client: code 4000 bye
--- access_log
101 complete /counter
