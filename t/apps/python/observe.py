"""The apps of the differential tests (t/differential.t): the same app runs
under the module and under uvicorn, and answers with what it observed, as
JSON, so that the two servers can be compared field by field.

observe:app serves, by the request's X-Observe header:
    (none)             raw ASGI: the scope and every message received
    star               Starlette: the request as Starlette reads it
    fast               FastAPI: the same through FastAPI's routing
"""
import json
import os

from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


def _text(b):
    return b.decode("latin-1")


async def raw(scope, receive, send):
    if scope["type"] != "http":
        return
    messages = []
    while True:
        m = await receive()
        entry = {"type": m["type"]}
        if m["type"] == "http.request":
            entry["body"] = len(m.get("body", b""))
            entry["more_body"] = bool(m.get("more_body", False))
        messages.append(entry)
        if m["type"] != "http.request" or not m.get("more_body"):
            break
    # consecutive body chunks are a server's choice: their total is not
    total = sum(e.get("body", 0) for e in messages)
    if messages[-1]["type"] == "http.disconnect":
        # the client left early: what the app saw goes to a file
        record = os.environ.get("OBSERVE_RECORD")
        case = dict(scope["headers"]).get(b"x-case", b"").decode()
        if record:
            with open(record, "a") as f:
                f.write(json.dumps({"case": case, "body_total": total,
                                    "last": messages[-1]["type"]}) + "\n")
        return
    observed = {
        "type": scope["type"],
        "asgi": scope["asgi"].get("version"),
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": _text(scope["raw_path"]),
        "query_string": _text(scope["query_string"]),
        "root_path": scope["root_path"],
        "headers": sorted([_text(k), _text(v)] for k, v in scope["headers"]),
        "client": scope["client"] is not None,
        "server_port": scope["server"][1] if scope.get("server") else None,
        "body_total": total,
        "last": {k: v for k, v in messages[-1].items() if k != "body"},
    }
    body = json.dumps(observed, sort_keys=True).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def _star_view(request):
    body = await request.body()
    return JSONResponse({
        "path": request.url.path,
        "query": sorted(request.query_params.multi_items()),
        "method": request.method,
        "body": len(body),
        "content_type": request.headers.get("content-type"),
        "host": request.headers.get("host"),
    })


star = Starlette(routes=[Route("/{rest:path}", _star_view,
                               methods=["GET", "POST", "PUT", "DELETE",
                                        "PATCH", "HEAD", "OPTIONS"])])

fast = FastAPI()


@fast.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE",
                                         "PATCH", "OPTIONS"])
async def _fast_view(rest: str, request: Request):
    body = await request.body()
    return {"rest": rest, "query": sorted(request.query_params.multi_items()),
            "method": request.method, "body": len(body)}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    which = dict(scope["headers"]).get(b"x-observe", b"")
    target = {b"star": star, b"fast": fast}.get(which, raw)
    await target(scope, receive, send)
