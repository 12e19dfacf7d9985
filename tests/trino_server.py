"""A loopback HTTP server speaking enough of Trino's client protocol for the real ``trino`` client, unmodified.

``POST /v1/statement`` starts a query and answers with its id and a ``nextUri``; each ``GET`` of that URI returns
the next page (``columns``, ``data``, ``stats``) until the last, which has no ``nextUri``; a failing query answers
with an ``error`` object (``message``, ``errorCode``, ``errorName``, ``errorType``, ``failureInfo``); ``DELETE``
cancels; ``GET /v1/info`` gives ``nodeVersion.version``. What a statement returns is scripted by its text.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from loopback import LoopbackServer


@dataclass
class Answer:
    """What a statement returns: ``rows`` of ``columns`` (name, type) served ``page`` rows per GET, or an error."""

    columns: list[tuple[str, str]] = field(default_factory=lambda: [("_col0", "integer")])
    rows: list[list[Any]] = field(default_factory=lambda: [[1]])
    page: int = 2
    error: Optional[dict[str, Any]] = None
    update_type: Optional[str] = None


def user_error(name: str, code: int, message: str) -> dict[str, Any]:
    return {"message": message, "errorCode": code, "errorName": name, "errorType": "USER_ERROR",
            "failureInfo": {"type": "io.trino.spi.TrinoException", "message": message, "suppressed": [], "stack": []}}


class TrinoServer(LoopbackServer):
    """Use as a context manager; ``url``/``port``; ``answers`` maps a statement's first words to an ``Answer``."""

    def __init__(self, version: str = "476") -> None:
        self.version = version
        self.answers: dict[str, Answer] = {}
        self.statements: list[tuple[str, dict[str, str]]] = []
        self.info_requests = 0
        self.cancelled: list[str] = []
        self._queries: dict[str, tuple[Answer, int]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    server_class = ThreadingHTTPServer

    def handler_class(self) -> type:
        return _handler(self)

    def answer_for(self, sql: str) -> Answer:
        text = " ".join(sql.split()).upper()
        if text.startswith("EXECUTE IMMEDIATE '"):  # the client's way of sending parameters
            text = text[len("EXECUTE IMMEDIATE '"):].split("' USING", 1)[0].replace("''", "'")
        for prefix, answer in self.answers.items():
            if text.startswith(prefix.upper()):
                return answer
        if text.startswith("SELECT VERSION()"):
            return Answer(columns=[("_col0", "varchar")], rows=[[self.version]])
        return Answer()

    # -- protocol ---------------------------------------------------------------------------------------------

    def start(self, sql: str, headers: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.statements.append((sql, headers))
            query_id = "20260310_120000_%05d_ryft0" % next(self._ids)
            self._queries[query_id] = (self.answer_for(sql), 0)
        return {"id": query_id, "infoUri": self._uri("/ui/query.html?" + query_id),
                "nextUri": self._uri("/v1/statement/executing/%s/1" % query_id), "stats": _stats("QUEUED")}

    def page(self, query_id: str, token: int) -> dict[str, Any]:
        with self._lock:
            answer, served = self._queries[query_id]
        body: dict[str, Any] = {"id": query_id, "infoUri": self._uri("/ui/query.html?" + query_id)}
        if answer.error is not None:
            body.update(stats=_stats("FAILED"), error=answer.error)
            return body
        columns = [{"name": name, "type": kind, "typeSignature": _signature(kind)} for name, kind in answer.columns]
        chunk = answer.rows[served:served + answer.page]
        with self._lock:
            self._queries[query_id] = (answer, served + len(chunk))
        body["columns"] = columns
        if chunk:
            body["data"] = chunk
        if answer.update_type:
            body["updateType"] = answer.update_type
        if served + len(chunk) < len(answer.rows):
            body.update(stats=_stats("RUNNING"), nextUri=self._uri("/v1/statement/executing/%s/%d" % (query_id,
                                                                                                       token + 1)))
        else:
            body["stats"] = _stats("FINISHED")
        return body

    def _uri(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.port, path)


def _signature(kind: str) -> dict[str, Any]:
    """Trino's typeSignature; ``varchar`` is unbounded (length 2147483647), as Trino reports it."""
    arguments = [{"kind": "LONG", "value": 2147483647}] if kind == "varchar" else []
    return {"rawType": kind, "arguments": arguments}


def _stats(state: str) -> dict[str, Any]:
    return {"state": state, "queued": state == "QUEUED", "scheduled": state != "QUEUED", "nodes": 1,
            "totalSplits": 1, "queuedSplits": 0, "runningSplits": 0, "completedSplits": 1, "cpuTimeMillis": 1,
            "wallTimeMillis": 1, "queuedTimeMillis": 0, "elapsedTimeMillis": 1, "processedRows": 0,
            "processedBytes": 0, "peakMemoryBytes": 0, "spilledBytes": 0}


def _handler(owner: TrinoServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet."""

        def _reply(self, status: int, body: Optional[dict[str, Any]] = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            sql = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path != "/v1/statement":
                return self._reply(404, {"error": "not found"})
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._reply(200, owner.start(sql, headers))

        def do_GET(self) -> None:
            if self.path == "/v1/info":
                owner.info_requests += 1
                return self._reply(200, {"nodeVersion": {"version": owner.version}, "environment": "test",
                                         "coordinator": True, "starting": False, "uptime": "1.00m"})
            parts = self.path.strip("/").split("/")
            if parts[:3] == ["v1", "statement", "executing"] and len(parts) == 5:
                return self._reply(200, owner.page(parts[3], int(parts[4])))
            self._reply(404, {"error": "not found"})

        def do_DELETE(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) >= 4:
                owner.cancelled.append(parts[3])
            self._reply(204)

    return Handler
