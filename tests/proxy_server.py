"""A forward proxy on 127.0.0.1 for tests: ``CONNECT`` tunnels (what HTTPS through a proxy uses), with optional
Basic credentials. It keeps every request head it received, so a test can tell what a proxy gets to see."""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from typing import Optional

from loopback import LoopbackServer


class ConnectProxy(LoopbackServer):
    """Tunnels ``CONNECT host:port`` to that address; anything else gets 502. Use as a context manager."""

    def __init__(self, credentials: Optional[str] = None) -> None:
        self.credentials = credentials
        self.heads: list[bytes] = []

    def handler_class(self) -> type:
        return _handler(self)

    def url(self, credentials: Optional[str] = None) -> str:
        return "http://%s127.0.0.1:%d" % ("" if credentials is None else credentials + "@", self.port)

    def connects(self) -> list[str]:
        """The targets of the CONNECT requests received, as ``host:port``."""
        return [head.split(b" ")[1].decode() for head in self.heads if head.startswith(b"CONNECT ")]


def _handler(owner: ConnectProxy) -> type:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            owner.heads.append(head)
            method, target = head.split(b" ")[:2]
            if method != b"CONNECT":
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if owner.credentials is not None:
                given = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]
                         if line.lower().startswith(b"proxy-authorization:")]
                if given != [b"Basic " + base64.b64encode(owner.credentials.encode())]:
                    client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                   b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                    return
            host, _, port = target.decode().rpartition(":")
            with socket.create_connection((host, int(port)), timeout=10) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                _pipe(client, upstream)

    return Handler


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until one side closes."""

    def copy(source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            try:
                target.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    other = threading.Thread(target=copy, args=(b, a), daemon=True)
    other.start()
    copy(a, b)
    other.join(10)
