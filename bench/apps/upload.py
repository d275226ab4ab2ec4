"""The upload app of make bench: reads the whole body, answers with its
size and the number of http.request messages it took."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    size = messages = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        messages += 1
        if not message.get("more_body"):
            break
    body = b"%d bytes in %d messages\n" % (size, messages)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
