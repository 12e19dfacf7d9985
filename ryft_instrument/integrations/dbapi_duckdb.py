"""DuckDB: wrapt proxies over ``DuckDBPyConnection`` (a DuckDB cursor is a connection too). Recorded:
``execute``, ``executemany``, ``sql``, ``query``, ``from_query`` on a connection or cursor, and the module-level
``duckdb.execute/executemany/sql/query/from_query``, which run on DuckDB's default connection and bypass any
connection wrapper (PRIOR_ART 35).

DuckDB looks up a table name it does not know among the variables of the Python frame that called it (replacement
scans: ``SELECT * FROM df`` on a pandas DataFrame ``df``). That frame would be ours, so each statement runs from a
frame made of the caller's variables, file name and line (``_from_caller``): DuckDB sees what it would without us.

What ``duration_ms`` covers for ``sql()``/``query()``/``from_query()``: the call itself. DuckDB runs a statement
that is not a query (DDL, INSERT…) inside that call, so its duration is complete; for a query those methods return
a lazy relation after planning it, and the real work happens when the relation is consumed (``fetchall``, ``df``,
``show``…), which is not timed. Use ``execute`` for a query whose duration matters."""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Any, Callable, Optional

import duckdb

from ..context import make_context, user_agent
from .dbapi import ConnectionProxy, Recorder, patch_function, recorder_for, timed, unpatch_function

_AGENT = user_agent([("duckdb", duckdb.__version__)])
_STATEMENTS = ("execute", "executemany", "sql", "query", "from_query")


def catalog_for(database: Any) -> Optional[str]:
    """DuckDB's name for the database: ``memory`` in memory, else the file's stem; unknown (None) for a
    connection made elsewhere (asking DuckDB would be a query)."""
    if isinstance(database, (str, os.PathLike)):
        path = os.fspath(database)
        if path in ("", ":memory:"):
            return "memory"
        if path.startswith(":memory:"):
            return path[len(":memory:"):]
        if ":" not in path:
            return os.path.splitext(os.path.basename(path))[0]
    return None


def context_for(database: Any = None) -> dict[str, str]:
    return make_context(catalog=catalog_for(database), serverVersion=duckdb.__version__, userAgent=_AGENT)


_DEFAULT = context_for(":memory:")


# The call, with no Python frame between the caller's copy and DuckDB (a lambda would be one).
_METHOD, _ARGS, _KWARGS = "__ryft_instrument_method__", "__ryft_instrument_args__", "__ryft_instrument_kwargs__"
_BASE_CODE = compile("%s(*%s, **%s)" % (_METHOD, _ARGS, _KWARGS), "<ryft_instrument>", "eval")
_codes: dict[tuple[str, int], CodeType] = {}


def _from_caller(frame: FrameType, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, called from a frame that has ``frame``'s variables, globals, file name and line (see the module
    docstring): ``eval`` of a one-call expression in a copy of its locals."""

    def call(*args: Any, **kwargs: Any) -> Any:
        names = frame.f_locals
        scope = {} if names is frame.f_globals else dict(names)
        scope[_METHOD], scope[_ARGS], scope[_KWARGS] = method, args, kwargs
        return eval(_code(frame), frame.f_globals, scope)

    return call


def _code(frame: FrameType) -> CodeType:
    """The one-call expression, under the caller's file name and line (DuckDB names them in some errors)."""
    key = (frame.f_code.co_filename, frame.f_lineno or 1)
    code = _codes.get(key)
    if code is None:
        if len(_codes) >= 512:
            _codes.clear()
        code = _codes[key] = _BASE_CODE.replace(co_filename=key[0], co_firstlineno=key[1])
    return code


class DuckDBConnection(ConnectionProxy):
    """A connection or cursor; ``cursor()`` gives another one sharing this context."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        site = self._self_site
        return DuckDBConnection(self.__wrapped__.cursor(*args, **kwargs), site[0], site[1])

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_statement(_from_caller(sys._getframe(1), self.__wrapped__.execute), query, args, kwargs)

    def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_statement(_from_caller(sys._getframe(1), self.__wrapped__.executemany), query, args,
                                    kwargs)

    def sql(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_statement(_from_caller(sys._getframe(1), self.__wrapped__.sql), query, args, kwargs)

    def query(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_statement(_from_caller(sys._getframe(1), self.__wrapped__.query), query, args, kwargs)

    def from_query(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_statement(_from_caller(sys._getframe(1), self.__wrapped__.from_query), query, args,
                                    kwargs)


def wrap(connection: Any, tags: Optional[list[str]], database: Any = None) -> Any:
    return DuckDBConnection(connection, context_for(database), recorder_for(tags))


def _connect(connect: Callable[..., Any]) -> Callable[..., Any]:
    def connect_instrumented(*args: Any, **kwargs: Any) -> Any:
        database = args[0] if args else kwargs.get("database", ":memory:")
        return wrap(connect(*args, **kwargs), None, database)

    return connect_instrumented


def _module_statement(function: Callable[..., Any]) -> Callable[..., Any]:
    """``duckdb.execute(…)`` and friends: recorded with the default connection's context (or an unknown catalog
    when a ``connection=`` is passed); the connection they return comes back wrapped."""
    record: Recorder = recorder_for(None)

    def statement(query: Any, *args: Any, **kwargs: Any) -> Any:
        context = _DEFAULT if kwargs.get("connection") is None else context_for(None)
        result = timed((context, record, None, None), _from_caller(sys._getframe(1), function), query, args, kwargs)
        if isinstance(result, duckdb.DuckDBPyConnection):
            return DuckDBConnection(result, context, record)
        return result

    return statement


def patch(module: Any) -> None:
    patch_function(duckdb, "connect", _connect)
    for name in _STATEMENTS:
        patch_function(duckdb, name, _module_statement)


def unpatch(module: Any) -> None:
    unpatch_function(duckdb, "connect")
    for name in _STATEMENTS:
        unpatch_function(duckdb, name)
