# WebSocket conformance: the cases of the Autobahn testsuite's sections
# 1-7 and 9-10, ported to raw sockets with python3-wsproto decoding the
# server's frames (t/tools/ws_conformance.py), against the raw ASGI echo
# endpoint of t/apps/python/wsapp.py through nginx.
use lib 't/lib';
use Test::Asgi;
use Test::More;

run_tests();
done_testing();

__DATA__

=== TEST 1: W4 W5 W7 W8 W9 every conformance case passes, section by section
--- config
asgi_python_path $ROOT/t/apps/python;
asgi_websocket_max_message 16m;
location / { asgi_app wsapp:app; }
--- exec
/usr/bin/python3 $ROOT/t/tools/ws_conformance.py $PORT /ws/echo
--- timeout: 600
--- response_body_like eval
qr/^section 1 \(framing\): 16 of 16 passed
section 2 \(pings and pongs\): 11 of 11 passed
section 3 \(reserved bits\): 7 of 7 passed
section 4 \(opcodes\): 10 of 10 passed
section 5 \(fragmentation\): 20 of 20 passed
section 6 \(UTF-8 handling\): (\d+) of \1 passed
section 7 \(close handling\): (\d+) of \2 passed
section 9 \(limits and performance\): 54 of 54 passed
section 10 \(miscellaneous\): 1 of 1 passed
(?:non-strict .*\n)?conformance: (\d+) of \3 cases passed
$/
