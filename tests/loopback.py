"""The life cycle the tests' own servers share: a ``socketserver`` on 127.0.0.1, served from a daemon thread while
the ``with`` block runs."""

from __future__ import annotations

import socketserver
import threading
from typing import Any, Optional, TypeVar

Server = TypeVar("Server", bound="LoopbackServer")


class LoopbackServer:
    """Subclasses give ``handler_class()`` and may change ``server_class`` (a threading server)."""

    server_class: type[socketserver.TCPServer] = socketserver.ThreadingTCPServer
    _server: Optional[socketserver.TCPServer] = None

    def handler_class(self) -> type[socketserver.BaseRequestHandler]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    def __enter__(self: Server) -> Server:
        server = self.server_class(("127.0.0.1", 0), self.handler_class())
        server.daemon_threads = True  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._server = server
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
