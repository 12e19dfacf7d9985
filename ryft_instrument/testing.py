"""A real Ingest API on loopback for tests: yours and ours.

``IngestServer`` is an HTTP server on 127.0.0.1 that checks the token header, decodes the JSON array (gzip too),
validates every record with the same strict validator the library uses, and keeps what it accepted. It can be told
to misbehave so delivery is tested against real sockets, not mocks:

- ``fail_next(Reply(503), Reply(429, {"Retry-After": "2"}), ...)``: the next requests get these answers, in order;
- ``default = Reply(503)`` (or ``outage()``/``recover()``): every request gets it until it is set back to None;
- ``Reply(hang=s)``: read the request, then say nothing for ``s`` seconds (a slow answer when ``status`` is 200:
  the records are accepted afterwards; an endpoint that accepts and never answers with a long ``hang``);
- ``Reply(reset=True)``: the connection is reset instead of answered;
- ``max_body=n``: 413 for bodies above ``n`` bytes; ``poison="text"``: 400 for a batch holding a record whose
  query contains it (and the problems listed, as the real API would); a wrong token: 401.

``ssl_context=`` (a server-side ``ssl.SSLContext``) serves HTTPS on ``https://127.0.0.1:<port>``: give the
certificate an IP address entry for 127.0.0.1 (``trustme.CA().issue_cert("127.0.0.1")`` does) and point
``REQUESTS_CA_BUNDLE`` at its CA.

The pytest fixture ``ryft_ingest_server`` (from the plugin, no ``--ryft`` needed) gives one
per test with the library pointed at it.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from .schema import validate_record

PATH = "/ingest/push/queries"


@dataclass
class Reply:
    """A scripted answer: a status with headers, or a misbehaviour (``hang`` seconds, ``reset`` the socket)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    hang: float = 0.0
    reset: bool = False


@dataclass
class Request:
    """One request as the server saw it."""

    headers: dict[str, str]
    body: bytes
    status: int
    at: float = 0.0  # time.monotonic() when the request arrived
    records: int = 0  # how many records it carried (0 when it was not parsed)


class IngestServer:
    """The loopback Ingest API. Use as a context manager or call ``start()``/``stop()``."""

    def __init__(self, token: str = "test-token-0123456789", *, max_body: Optional[int] = None,
                 poison: Optional[str] = None, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.token = token
        self.ssl_context = ssl_context
        self.max_body = max_body
        self.poison = poison
        self.records: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.invalid: list[tuple[Any, list[str]]] = []
        self.script: deque[Reply] = deque()
        self.default: Optional[Reply] = None
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()

    # -- control ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        scheme = "http" if self.ssl_context is None else "https"
        return "%s://127.0.0.1:%d%s" % (scheme, self._server.server_address[1], PATH)

    def start(self) -> IngestServer:
        server = _Server(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        if self.ssl_context is not None:
            # The handshake happens on the first read, in the request's own thread, not in the accepting one.
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()  # ends hanging answers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> IngestServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def fail_next(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, then behave normally."""
        with self._lock:
            self.script.extend(replies)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a child process that should deliver here: ``os.environ`` plus the token and URL."""
        return dict(os.environ, RYFT_INGEST_TOKEN=self.token, RYFT_INGEST_URL=self.url, **extra)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` records were accepted; returns them (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._received:
            while len(self.records) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("expected %d records, got %d: %r" % (count, len(self.records),
                                                                             [r.get("query") for r in self.records]))
                self._received.wait(left)
            return list(self.records)

    def queries(self) -> list[str]:
        with self._lock:
            return [r["query"] for r in self.records]

    def ids(self) -> list[str]:
        """The ``queryId`` of every accepted record, in order of arrival (duplicates included)."""
        with self._lock:
            return [r["queryId"] for r in self.records]

    def outage(self, reply: Optional[Reply] = None) -> None:
        """Answer every request with ``reply`` (default 503) until ``recover()``."""
        with self._lock:
            self.default = reply if reply is not None else Reply(503)

    def recover(self) -> None:
        with self._lock:
            self.default = None

    # -- serving ---------------------------------------------------------------------------------------------

    def _next_reply(self) -> Optional[Reply]:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def _accept(self, headers: dict[str, str], body: bytes) -> tuple[int, str, int]:
        """(status, answer, records accepted)."""
        if headers.get("x-ryft-token") != self.token:
            return 401, '{"error":"invalid token"}', 0
        if not headers.get("content-type", "").startswith("application/json"):
            return 415, '{"error":"content type must be application/json"}', 0
        if self.max_body is not None and len(body) > self.max_body:
            return 413, '{"error":"payload too large"}', 0
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            payload = json.loads(body.decode("utf-8"))  # strictly: json.loads(bytes) lets lone surrogates through
        except ValueError as exc:  # UnicodeDecodeError included
            return 400, json.dumps({"error": "invalid JSON: %s" % exc}), 0
        records = payload if isinstance(payload, list) else [payload]
        problems = {i: validate_record(r) for i, r in enumerate(records)}
        bad = {i: p for i, p in problems.items() if p}
        if self.poison is not None:
            bad.update({i: ["poisoned"] for i, r in enumerate(records)
                        if isinstance(r, dict) and self.poison in str(r.get("query", ""))})
        if bad:
            with self._lock:
                self.invalid.extend((records[i], p) for i, p in bad.items())
            return 400, json.dumps({"error": "invalid records", "problems": {str(k): v for k, v in bad.items()}}), 0
        with self._received:
            self.records.extend(records)
            self._received.notify_all()
        return 200, '{"status":"ok"}', len(records)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or refuses our certificate is part of the tests, not an error to print."""
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            super().handle_error(request, client_address)


def _handler(owner: IngestServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one segment: two small writes meet Nagle and the client's delayed ACK (40 ms
        # per answer), which would make the test server, not the library, the bottleneck.
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet: tests read the server's state, not its log."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = owner._next_reply()
            if reply is not None and reply.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            at = time.monotonic()
            if reply is not None and reply.hang and owner._stopped.wait(reply.hang):
                self.close_connection = True
                return
            accepted = 0
            if self.path != PATH:
                status, text, extra = 404, '{"error":"not found"}', {}
            elif reply is not None and reply.status != 200:
                status, text, extra = reply.status, reply.body, reply.headers
            else:
                status, text, accepted = owner._accept(headers, body)
                extra = {}
            with owner._lock:
                owner.requests.append(Request(headers, body, status, at, accepted))
            data = text.encode()
            try:
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True

    return Handler
