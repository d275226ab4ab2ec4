"""An HTTP/2 request that asks for a WebSocket (Upgrade, Connection), which
HTTP/2 forbids: prints the status nginx answers, or how the stream ended."""
import socket, sys
import h2.config, h2.connection, h2.events
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False))
c.initiate_connection()
c.send_headers(1, [(":method", "GET"), (":path", "/ws/echo"), (":scheme", "http"), (":authority", "localhost"), ("upgrade", "websocket"), ("connection", "upgrade"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13")], end_stream=True)
s.sendall(c.data_to_send())
while True:
    data = s.recv(65536)
    if not data: print("closed"); break
    for ev in c.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            print(dict(ev.headers)[b":status"].decode()); sys.exit(0)
        if isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
            print("reset", ev); sys.exit(0)
    s.sendall(c.data_to_send())
