"""The scenario of gunicorn issue #3484, against a real async SQLAlchemy
session (aiosqlite): the client disconnects while a transaction is in the
middle of its work. With a grace period the app's own cleanup runs: the
transaction rolls back and the connection goes back to the pool; nothing
is cancelled under the database driver's feet."""
import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

# a real pool, as with a database server: connections are checked out and
# must come back
engine = create_async_engine(
    "sqlite+aiosqlite:///" + os.environ.get("ASGI_DB", "/tmp/asgi-test.db"),
    poolclass=AsyncAdaptedQueuePool, pool_size=2)


def record(line):
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError("no lifespan here")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS t (v TEXT)"))
    try:
        async with AsyncSession(engine) as session:
            async with session.begin():
                await session.execute(text("INSERT INTO t VALUES ('x')"))
                # a slow query: the client leaves meanwhile
                await session.execute(text(
                    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                    "FROM c WHERE n < 3000000) SELECT count(*) FROM c"))
                await send({"type": "http.response.start", "status": 200,
                            "headers": []})
                await send({"type": "http.response.body", "body": b"done\n"})
    except OSError:
        record("rolled back after the disconnect")
    finally:
        record("pool checked out: %d" % engine.pool.checkedout())
