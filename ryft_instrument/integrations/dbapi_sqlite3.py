"""sqlite3 (and ``sqlite3.dbapi2``): real subclasses of ``sqlite3.Cursor`` (``cursor(factory)``) and, through
``connect(factory=)``, of ``sqlite3.Connection``; ``instrument_connection`` on an existing connection gives a wrapt
proxy whose cursors are the same real subclasses. Recorded: ``cursor.execute/executemany/executescript`` and the
connection shortcuts ``execute/executemany/executescript`` (PRIOR_ART 11). ``backup`` accepts a proxy as target.

An application's own connection class (``connect(factory=MyConnection)``) keeps its methods: the recording class
goes below it in the MRO, so its ``cursor()`` (with its own default cursor type) and ``execute()`` run and reach
ours through ``super()``. ``instrument_connection`` on one of its connections moves the object to that class."""

from __future__ import annotations

import sqlite3
import sqlite3.dbapi2
from typing import Any, Callable, Optional

from ..context import make_context, user_agent
from .dbapi import (
    ConnectionProxy,
    Site,
    cursor_methods,
    patch_function,
    raw,
    recorder_for,
    recording_subclass,
    timed,
    unpatch_function,
)

# The same for every connection of the process (SQLite has no user and one library version), so shared.
CONTEXT = make_context(catalog="main", serverVersion=sqlite3.sqlite_version,
                       userAgent=user_agent([("sqlite3", sqlite3.sqlite_version)]))

# ``sqlite3`` and ``sqlite3.dbapi2`` each hold their own reference to ``connect``.
_OWNERS = (sqlite3, sqlite3.dbapi2)


def _cursor_namespace(base: type) -> dict[str, Any]:
    namespace = cursor_methods(base)
    executescript = base.executescript  # type: ignore[attr-defined]

    def executescript_recorded(self: Any, script: Any) -> Any:
        return timed(self._self_site, executescript.__get__(self), script, (), {})

    def connection(self: Any) -> Any:
        """The connection the user holds (our proxy or subclass), as PEP 249's ``cursor.connection``."""
        return self._self_site[3]

    namespace.update(executescript=executescript_recorded, connection=property(connection))
    return namespace


def _cursor(site: Site, make: Callable[..., Any], connection: Any, factory: Any) -> Any:
    """A recording cursor from ``make(connection, factory)``: the raw connection class's own ``cursor``. (SQLAlchemy
    over an instrumented sqlite3 asks for one per statement: no bound method is made for it.)"""
    cursor = make(connection, recording_subclass(factory, "sqlite3", _cursor_namespace))
    cursor._self_site = site
    return cursor


class SqliteConnection(ConnectionProxy):
    """``instrument_connection`` on an existing sqlite3 connection."""

    def cursor(self, factory: Any = sqlite3.Cursor) -> Any:
        connection = self.__wrapped__
        return _cursor(self._self_site, type(connection).cursor, connection, factory)

    def execute(self, sql: Any, *args: Any) -> Any:
        return self.cursor().execute(sql, *args)

    def executemany(self, sql: Any, *args: Any) -> Any:
        return self.cursor().executemany(sql, *args)

    def executescript(self, script: Any) -> Any:
        return self.cursor().executescript(script)

    def backup(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """``Connection.backup`` type-checks its target: give it the raw connection (PRIOR_ART 12)."""
        return self.__wrapped__.backup(raw(target), *args, **kwargs)


def _connection_namespace(base: type) -> dict[str, Any]:
    """A real ``sqlite3.Connection`` subclass (made by ``connect(factory=)``) with the same behaviour."""
    make_cursor = base.cursor  # type: ignore[attr-defined]
    backup = base.backup  # type: ignore[attr-defined]

    def cursor(self: Any, factory: Any = sqlite3.Cursor) -> Any:
        return _cursor(self._self_site, make_cursor, self, factory)

    def backup_raw(self: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        return backup(self, raw(target), *args, **kwargs)

    return {"cursor": cursor, "backup": backup_raw, "execute": SqliteConnection.execute,
            "executemany": SqliteConnection.executemany, "executescript": SqliteConnection.executescript}


_classes: dict[type, type] = {}


def _connection_class(factory: type) -> type:
    """The recording connection class for ``connect(factory=factory)`` (see the module docstring)."""
    recording = recording_subclass(sqlite3.Connection, "sqlite3", _connection_namespace)
    if factory is sqlite3.Connection or issubclass(factory, recording):
        return recording if factory is sqlite3.Connection else factory
    found = _classes.get(factory)
    if found is None:
        found = _classes[factory] = type(factory.__name__, (factory, recording), {
            "__module__": factory.__module__, "__qualname__": factory.__qualname__, "__doc__": factory.__doc__})
    return found


def wrap(connection: Any, tags: Optional[list[str]]) -> Any:
    if type(connection) is not sqlite3.Connection:
        try:  # an application's own connection class: the object moves to its recording class, methods and all
            connection.__class__ = _connection_class(type(connection))
            connection._self_site = (CONTEXT, recorder_for(tags), id(connection), connection)
            return connection
        except TypeError:
            pass
    return SqliteConnection(connection, CONTEXT, recorder_for(tags))


def _connect(connect: Callable[..., Any]) -> Callable[..., Any]:
    def connect_instrumented(*args: Any, **kwargs: Any) -> Any:
        # ``factory`` is the 6th positional parameter of sqlite3.connect.
        if len(args) > 5:
            args = (*args[:5], _connection_class(args[5]), *args[6:])
        else:
            kwargs["factory"] = _connection_class(kwargs.get("factory") or sqlite3.Connection)
        connection = connect(*args, **kwargs)
        connection._self_site = (CONTEXT, recorder_for(None), id(connection), connection)
        return connection

    return connect_instrumented


def patch(module: Any) -> None:
    for owner in _OWNERS:
        patch_function(owner, "connect", _connect)


def unpatch(module: Any) -> None:
    for owner in _OWNERS:
        unpatch_function(owner, "connect")
