"""A small web application with no line of ryft-instrument code in it: recording is switched on from outside.

    RYFT_INSTRUMENT=1 RYFT_OUTPUT=queries.jsonl python examples/web_app.py --port 8000
    RYFT_INGEST_TOKEN=... ryft-instrument --service bookshop python examples/web_app.py --port 8000

then open http://127.0.0.1:8000/books, /books/2 or /stats. Stop it with Ctrl-C (or SIGTERM): the records still
queued are delivered at exit, within RYFT_SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
book = sa.Table("book", metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("title", sa.String(200), nullable=False),
                sa.Column("views", sa.Integer, nullable=False, default=0))


def make_engine(path: str) -> sa.engine.Engine:
    engine = sa.create_engine("sqlite:///%s" % path)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(book.insert(), [{"title": title, "views": 0} for title in
                                     ("The Dispossessed", "Kindred", "Solaris", "Excession")])
    return engine


class Handler(BaseHTTPRequestHandler):
    engine: sa.engine.Engine

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        status = 404
        payload: Any = {"error": "not found"}
        with self.engine.begin() as conn:
            if parts == ["books"]:
                rows = conn.execute(sa.select(book.c.id, book.c.title).order_by(book.c.title)).all()
                status, payload = 200, [{"id": r.id, "title": r.title} for r in rows]
            elif len(parts) == 2 and parts[0] == "books" and parts[1].isdigit():
                conn.execute(book.update().where(book.c.id == int(parts[1])).values(views=book.c.views + 1))
                row = conn.execute(sa.select(book).where(book.c.id == int(parts[1]))).first()
                status, payload = (200, dict(row._mapping)) if row else (404, {"error": "no such book"})
            elif parts == ["stats"]:
                status, payload = 200, {"views": conn.execute(sa.select(sa.func.sum(book.c.views))).scalar()}
        # Answer after the commit, so a client's next request sees what this one wrote.
        self.reply(status, payload)

    def reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        sys.stderr.write("%s\n" % (format % args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    # SIGTERM (docker stop, systemd, a process manager) ends the process normally, so at-exit handlers run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory() as directory:
        Handler.engine = make_engine("%s/shop.db" % directory)
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
        print("serving on http://127.0.0.1:%d" % server.server_address[1], flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            Handler.engine.dispose()


if __name__ == "__main__":
    main()
