"""trino (``trino.dbapi``): wrapt proxies whose records carry Trino's own query id (``cursor.query_id``, or the
failed query's ``query_id``), and a context from the connection (``catalog``, ``schema``, ``user``) plus the
coordinator's version from ``GET /v1/info`` (``nodeVersion.version``), asked once per coordinator: it runs no
query, where ``SELECT version()`` would (SPEC §4).

What ``duration_ms`` covers: ``cursor.execute`` returns once the coordinator has sent the first rows (or the query
has finished), so a long result still streaming at fetch time is not in it; a query that fails after its first rows
raises from ``fetch*`` and is recorded ``FINISHED``."""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

import trino
import trino.dbapi

from ..context import make_context, user_agent
from ..logs import log
from . import QUERY_IDS
from .dbapi import ConnectionProxy, CursorProxy, connect_wrapper, patch_function, recorder_for, timed, unpatch_function

_AGENT = user_agent([("trino", trino.__version__)])
_INFO_TIMEOUT = 2.0
_RETRY_AFTER = 60.0

# (scheme, host, port) → (version or None, monotonic time of the answer)
_versions: dict[tuple[str, str, int], tuple[Optional[str], float]] = {}
_lock = threading.Lock()


def server_version(scheme: str, host: str, port: int, session: Any = None) -> Optional[str]:
    """The coordinator's version from ``GET /v1/info``, once per coordinator (a failure is retried after a minute).
    ``session``: the connection's own ``requests.Session`` (its TLS settings and auth). Never raises."""
    key = (scheme, host, int(port))
    with _lock:
        found = _versions.get(key)
        if found is not None and (found[0] is not None or time.monotonic() - found[1] < _RETRY_AFTER):
            return found[0]
        version = None
        try:
            import requests

            getter = session.get if session is not None else requests.get
            answer = getter("%s://%s:%d/v1/info" % key, timeout=_INFO_TIMEOUT)
            answer.raise_for_status()
            version = str(answer.json()["nodeVersion"]["version"]) or None
        except Exception as exc:
            log.debug("ryft_instrument: no version from the Trino coordinator %s://%s:%d: %s", *key, exc)
        _versions[key] = (version, time.monotonic())
        return version


def sqlalchemy_server_version(dialect: Any, url: Any) -> Optional[str]:
    """``server_version`` for a ``trino://`` engine, from the connect arguments its dialect derives from the URL
    (the trino dialect's ``server_version_info`` would run ``SELECT version()``)."""
    try:
        kwargs = dialect.create_connect_args(url)[1]
        scheme = kwargs.get("http_scheme") or "http"
        port = kwargs.get("port") or (443 if scheme == "https" else 8080)
        return server_version(scheme, kwargs["host"], port)
    except Exception:
        return None


def _context(connection: Any) -> dict[str, str]:
    version = server_version(connection.http_scheme, connection.host, connection.port,
                             getattr(connection, "_http_session", None))
    return make_context(catalog=connection.catalog, schema=connection.schema, user=connection.user,
                        serverVersion=version, userAgent=_AGENT)


class TrinoCursor(CursorProxy):
    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_own(timed(self._self_site, self.__wrapped__.execute, query, args, kwargs,
                                    query_id=self._self_query_id))

    def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_own(timed(self._self_site, self.__wrapped__.executemany, query, args, kwargs,
                                    query_id=self._self_query_id))

    def _self_query_id(self, exc: Optional[BaseException]) -> Optional[str]:
        return query_id(self.__wrapped__, exc)


def query_id(cursor: Any, exc: Optional[BaseException]) -> Optional[str]:
    """Trino's id: the failed query's, else the cursor's (of the last query for ``executemany``)."""
    found = getattr(exc, "query_id", None) if exc is not None else None
    found = found or getattr(cursor, "query_id", None)
    return found if isinstance(found, str) and found else None


QUERY_IDS[trino.dbapi.Cursor] = query_id


class TrinoConnection(ConnectionProxy):
    cursor_type = TrinoCursor


def wrap(connection: Any, tags: Optional[list[str]]) -> Any:
    return TrinoConnection(connection, _context(connection), recorder_for(tags))


def patch(module: Any) -> None:
    patch_function(trino.dbapi, "connect", connect_wrapper(wrap))


def unpatch(module: Any) -> None:
    unpatch_function(trino.dbapi, "connect")
