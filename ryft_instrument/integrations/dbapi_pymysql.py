"""PyMySQL: wrapt proxies. Recorded: ``execute``, ``executemany`` (one record, however PyMySQL batches the rows) and
``callproc`` (as the ``CALL`` PyMySQL sends; the ``SET @_p_0=…`` carrying the values is not recorded). Entry
points: ``pymysql.connect`` and ``pymysql.Connect`` (``pymysql.Connection`` stays the class)."""

from __future__ import annotations

from typing import Any, Optional

import pymysql

from ..context import make_context, module_version, user_agent
from .dbapi import ConnectionProxy, CursorProxy, connect_wrapper, patch_function, recorder_for, timed, unpatch_function

_AGENT = user_agent([("pymysql", module_version("pymysql"))])


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _context(connection: Any) -> dict[str, str]:
    """The database is both catalog and schema (as for SQLAlchemy's mysql URLs); MariaDB's ``5.5.5-`` prefix,
    which it sends for old clients, is not part of its version."""
    database = _text(getattr(connection, "db", None))
    version = _text(getattr(connection, "server_version", None))
    if isinstance(version, str) and version.startswith("5.5.5-"):
        version = version[len("5.5.5-"):]
    return make_context(catalog=database, schema=database, user=_text(getattr(connection, "user", None)),
                        serverVersion=version, userAgent=_AGENT)


class PyMySQLCursor(CursorProxy):
    def callproc(self, procname: Any, args: Any = ()) -> Any:
        text = "CALL %s(%s)" % (procname, ",".join("@_%s_%d" % (procname, i) for i in range(len(args or ()))))
        return timed(self._self_site, self.__wrapped__.callproc, procname, (args,), {}, text)


class PyMySQLConnection(ConnectionProxy):
    cursor_type = PyMySQLCursor


def wrap(connection: Any, tags: Optional[list[str]]) -> Any:
    return PyMySQLConnection(connection, _context(connection), recorder_for(tags))


def patch(module: Any) -> None:
    for name in ("connect", "Connect"):
        patch_function(pymysql, name, connect_wrapper(wrap))


def unpatch(module: Any) -> None:
    for name in ("connect", "Connect"):
        unpatch_function(pymysql, name)
