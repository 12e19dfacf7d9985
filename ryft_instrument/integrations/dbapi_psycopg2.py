"""psycopg2: real subclasses of the driver's C cursor (a user's ``cursor_factory`` included, as a subclass of it)
and, through ``connect(connection_factory=)``, of its connection, so ``register_type``, ``quote_ident`` and
``adapt(...).prepare`` accept them as they are (PRIOR_ART 11, 12). Recorded: ``execute``, ``executemany``,
``callproc``, ``copy_expert``, ``copy_from``, ``copy_to``; ``extras.execute_values``/``execute_batch`` as one
record of their template (the statements they send carry the values inline).

``instrument_connection`` on an existing connection gives a wrapt proxy (its cursors are the same real
subclasses); ``register_type`` and ``quote_ident`` are then taught to unwrap it. ``adapt(x).prepare(proxy)``
cannot be: a connection made through ``instrument_dbapi(psycopg2)`` is a real one and has no such limit.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from ..context import user_agent
from .dbapi import (
    ConnectionProxy,
    CursorProxy,
    Site,
    Unrecorded,
    cursor_methods,
    held_connection,
    patch_function,
    postgres_context,
    raw,
    recorder_for,
    recording_subclass,
    timed,
    unpatch_function,
)

_AGENT = user_agent([("psycopg2", psycopg2.__version__.split()[0])])
_DEFAULT_CURSOR = psycopg2.extensions.cursor


def _context(connection: Any) -> dict[str, str]:
    info = connection.info
    return postgres_context(info, info.dsn_parameters.get("options"), _AGENT)


def _cursor_namespace(base: type) -> dict[str, Any]:
    namespace = cursor_methods(base)
    callproc = base.callproc  # type: ignore[attr-defined]
    copy_expert = base.copy_expert  # type: ignore[attr-defined]
    copy_from = base.copy_from  # type: ignore[attr-defined]
    copy_to = base.copy_to  # type: ignore[attr-defined]

    def callproc_recorded(self: Any, procname: Any, parameters: Any = None) -> Any:
        # What psycopg2 sends, with placeholders where it puts the values.
        if isinstance(parameters, dict):
            arguments = ", ".join("%s := %%(%s)s" % (key, key) for key in parameters)
        else:
            arguments = ", ".join(["%s"] * len(parameters or ()))
        text = "SELECT * FROM %s(%s)" % (procname, arguments)
        return timed(self._self_site, callproc.__get__(self), procname, (parameters,), {}, text)

    def copy_expert_recorded(self: Any, sql: Any, file: Any, *args: Any, **kwargs: Any) -> Any:
        return timed(self._self_site, copy_expert.__get__(self), sql, (file, *args), kwargs)

    def copy_from_recorded(self: Any, file: Any, table: Any, *args: Any, **kwargs: Any) -> Any:
        return timed(self._self_site, lambda _table: copy_from(self, file, table, *args, **kwargs), table, (), {},
                     "COPY %s FROM stdin" % table)

    def copy_to_recorded(self: Any, file: Any, table: Any, *args: Any, **kwargs: Any) -> Any:
        return timed(self._self_site, lambda _table: copy_to(self, file, table, *args, **kwargs), table, (), {},
                     "COPY %s TO stdout" % table)

    connection = base.connection  # type: ignore[attr-defined]

    def connection_held(self: Any) -> Any:
        return held_connection(self._self_site, connection.__get__(self))

    namespace.update(callproc=callproc_recorded, copy_expert=copy_expert_recorded, copy_from=copy_from_recorded,
                     copy_to=copy_to_recorded, connection=property(connection_held))
    return namespace


def _cursor(site: Site, make: Callable[..., Any], args: Any, kwargs: Any, default: Any, chooses: bool) -> Any:
    """A recording cursor: the user's ``cursor_factory`` (or the connection's) as a recording subclass. When
    neither is set and the connection class has a ``cursor()`` of its own (``chooses``), that method runs as it
    is: the cursor type it picks (``extras.RealDictConnection``'s, ``LoggingConnection``'s) becomes a recording
    one, and the C cursor (which cannot change class) comes back in a proxy."""
    factory = kwargs.get("cursor_factory") or default
    if factory is None and chooses:
        cursor = make(*args, **kwargs)
        kind = type(cursor)
        if getattr(kind, "_ryft_kind", None) != "psycopg2":
            try:
                cursor.__class__ = recording_subclass(kind, "psycopg2", _cursor_namespace)
            except TypeError:
                return CursorProxy(cursor, site)
    else:
        kwargs["cursor_factory"] = recording_subclass(factory or _DEFAULT_CURSOR, "psycopg2", _cursor_namespace)
        cursor = make(*args, **kwargs)
    cursor._self_site = site
    return cursor


def _chooses(connection_type: type) -> bool:
    """Whether ``connection_type`` has a ``cursor()`` of its own, in Python (it may pick the cursor type)."""
    return getattr(connection_type, "cursor", None) is not psycopg2.extensions.connection.cursor


class Psycopg2Connection(ConnectionProxy):
    """``instrument_connection`` on an existing psycopg2 connection."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        raw_connection = self.__wrapped__
        return _cursor(self._self_site, raw_connection.cursor, args, kwargs, raw_connection.cursor_factory,
                       _chooses(type(raw_connection)))


def _connection_namespace(base: type) -> dict[str, Any]:
    make_cursor = base.cursor  # type: ignore[attr-defined]
    chooses = _chooses(base)

    def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _cursor(self._self_site, make_cursor.__get__(self), args, kwargs, self.cursor_factory, chooses)

    return {"cursor": cursor}


def wrap(connection: Any, tags: Optional[list[str]]) -> Any:
    _teach_extras()
    _teach_c_functions()
    return Psycopg2Connection(connection, _context(connection), recorder_for(tags))


def _connect(connect: Callable[..., Any]) -> Callable[..., Any]:
    def connect_instrumented(dsn: Any = None, connection_factory: Any = None, cursor_factory: Any = None,
                             **kwargs: Any) -> Any:
        factory = recording_subclass(connection_factory or psycopg2.extensions.connection, "psycopg2",
                                     _connection_namespace)
        connection = connect(dsn, connection_factory=factory, cursor_factory=cursor_factory, **kwargs)
        connection._self_site = (_context(connection), recorder_for(None), id(connection), connection)
        return connection

    return connect_instrumented


def _template(function: Callable[..., Any]) -> Callable[..., Any]:
    """``extras.execute_values(cur, sql, argslist, …)`` / ``execute_batch``: one record of ``sql`` (placeholders),
    the pages it sends (values inline) going to the driver unrecorded."""

    def run(cursor: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        site = getattr(cursor, "_self_site", None)
        if site is None:
            return function(cursor, sql, *args, **kwargs)
        plain = Unrecorded(cursor)
        return timed(site, lambda query: function(plain, query, *args, **kwargs), sql, (), {})

    return run


# -- C functions that type-check their connection argument ----------------------------------------------------------

_C_FUNCTIONS = ("register_type", "quote_ident")


def _unwrapping(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*(raw(a) for a in args), **{k: raw(v) for k, v in kwargs.items()})

    return call


def _teach_c_functions() -> None:
    """Let ``register_type``/``quote_ident`` take a proxy, in every loaded psycopg2 module that holds them."""
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "psycopg2" or name.startswith("psycopg2.")):
            for function in _C_FUNCTIONS:
                if function in vars(module):
                    patch_function(module, function, _unwrapping)


def _teach_extras() -> None:
    """``execute_values``/``execute_batch`` record their template; left in place (a no-op for cursors that are not
    ours) as long as the process lives, since instrumented connections outlive ``uninstrument_dbapi``."""
    for name in ("execute_values", "execute_batch"):
        patch_function(psycopg2.extras, name, _template)


def patch(module: Any) -> None:
    _teach_extras()  # now, before the program's own ``from psycopg2.extras import execute_values`` runs
    patch_function(psycopg2, "connect", _connect)


def unpatch(module: Any) -> None:
    unpatch_function(psycopg2, "connect")
