"""DB-API drivers: every statement a connection runs becomes a record (issue 4, SPEC §4, PRIOR_ART 9–14, 34–36).

``instrument_connection(conn)`` wraps one connection; ``instrument_dbapi(module)`` wraps the module's ``connect``
so every connection it makes is instrumented. The generic parts live here; what differs by driver (context fields,
extra statement methods such as sqlite3's ``executescript`` or psycopg's ``copy``, C functions that need the raw
object) lives in ``dbapi_<driver>.py``, one module per driver, imported only when that driver is seen.

Two shapes, chosen by measurement (benchmarks/bench_dbapi.py):

- A ``wrapt.ObjectProxy`` (``ConnectionProxy``, ``CursorProxy``) for drivers written in Python (psycopg, PyMySQL,
  trino, DuckDB's connection) and for ``instrument_connection`` on a connection that already exists. Every attribute
  read on a wrapt proxy costs ~0.15 µs even when the proxy class defines it, ~0.6 µs when wrapt forwards it, so the
  members used per statement or per row are defined on the proxy as plain pass-throughs.
- A real subclass of the driver's C cursor (and, through ``connect``, of its connection) where the driver takes a
  factory: sqlite3 (``factory=``, ``cursor(factory)``) and psycopg2 (``connection_factory``, ``cursor_factory``).
  Only the statement methods are overridden, so ``fetchone``/``rowcount``/iteration cost nothing extra, and
  C functions that type-check (``backup``, ``register_type``, ``quote_ident``, ``adapt().prepare``) accept them.

Every statement method calls the driver between two ``perf_counter()`` readings and hands the outcome to
``recorder.record``: the driver's exception propagates unchanged (recorded ``FAILED``), and a method that returns
the driver's own object (``cursor.execute`` returning the cursor) returns the proxy instead.

A ``Site`` is the per-connection state every recording method reads: ``(context, record, session, connection)``,
where ``connection`` is what the user holds (proxy or subclass) and ``session`` the raw connection's ``id``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from time import perf_counter
from typing import Any, Callable, Optional

import wrapt

from .. import logs, recorder
from ..context import make_context, search_path_head
from ..logs import log
from ..tagging import current_tags, push
from . import UNWRAP

_record = recorder.record

_DRIVER_MODULES = {
    "sqlite3": "dbapi_sqlite3",
    "psycopg": "dbapi_psycopg",
    "psycopg2": "dbapi_psycopg2",
    "pymysql": "dbapi_pymysql",
    "duckdb": "dbapi_duckdb",
    "_duckdb": "dbapi_duckdb",  # the module DuckDB's connection class reports
    "trino": "dbapi_trino",
}

Recorder = Callable[..., None]
Site = tuple  # (context, record, session, connection)


def recorder_for(tags: Optional[list[str]]) -> Recorder:
    """``recorder.record``, or for a connection with its own tags a function that adds them around each record."""
    added = tuple(str(t) for t in tags or () if str(t))
    if not added:
        return _record

    def record_tagged(*args: Any) -> None:
        token = push(added)
        try:
            _record(*args)
        finally:
            current_tags.reset(token)

    return record_tagged


def raw(obj: Any) -> Any:
    """The driver's own object behind one of our wrapt proxies (anything else passes through)."""
    return obj.__wrapped__ if isinstance(obj, (ConnectionProxy, CursorProxy)) else obj


def held_connection(site: Site, inner: Any) -> Any:
    """PEP 249's ``cursor.connection`` as the application knows it: the instrumented connection it holds when
    ``inner``, the driver's answer, is the one inside it (statements run through it are then recorded too)."""
    held = site[3]
    return held if held is not inner and raw(held) is inner else inner


def query_text(query: Any, connection: Any) -> Any:
    """The SQL text of ``query``: str and bytes as they are, a psycopg ``sql.Composed`` rendered (without its
    connection if that fails: psycopg 3 can), a DuckDB ``Statement``'s ``query``. Never raises, and never falls
    back on the ``repr`` of a composed object, which shows its ``Literal`` values."""
    if isinstance(query, (str, bytes)):
        return query
    try:
        text = getattr(query, "query", None)
        if isinstance(text, str):
            return text
        render = getattr(query, "as_string", None)
        if render is None:
            return str(query)
        for context in (raw(connection), None):
            try:
                return render(context)
            except Exception:
                pass
    except Exception:
        pass
    return "<unprintable %s>" % type(query).__name__


def timed(site: Site, method: Callable[..., Any], query: Any, args: Any, kwargs: Any, text: Any = None,
          query_id: Optional[Callable[..., Optional[str]]] = None) -> Any:
    """``method(query, *args, **kwargs)``, timed and recorded as ``text`` (default: ``query``); ``query_id(exc)``
    gives the engine's id for the record, called with the exception or None."""
    start = perf_counter()
    try:
        result = method(query, *args, **kwargs)
    except BaseException as exc:
        end = perf_counter()
        site[1](site[0], query_text(query if text is None else text, site[3]), start, end - start, exc,
                None if query_id is None else query_id(exc), site[2])
        raise
    end = perf_counter()
    site[1](site[0], query_text(query if text is None else text, site[3]), start, end - start, None,
            None if query_id is None else query_id(None), site[2])
    return result


# -- wrapt proxies ------------------------------------------------------------------------------------------------


class CursorProxy(wrapt.ObjectProxy):
    """A driver cursor whose ``execute``/``executemany`` are recorded; everything else reads and writes through."""

    def __init__(self, cursor: Any, site: Site) -> None:
        super().__init__(cursor)
        self._self_site = site

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        UNWRAP[cls] = _unwrap

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        # Written out rather than through ``timed``: this is the hot path.
        cursor = self.__wrapped__
        site = self._self_site
        start = perf_counter()
        try:
            result = cursor.execute(query, *args, **kwargs)
        except BaseException as exc:
            site[1](site[0], query_text(query, site[3]), start, perf_counter() - start, exc, None, site[2])
            raise
        site[1](site[0], query if query.__class__ is str else query_text(query, site[3]), start,
                perf_counter() - start, None, None, site[2])
        return self if result is cursor else result

    def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._self_own(timed(self._self_site, self.__wrapped__.executemany, query, args, kwargs))

    def _self_own(self, result: Any) -> Any:
        """The driver's cursor as a result (``execute`` returning ``self``) becomes this proxy."""
        return self if result is self.__wrapped__ else result

    # Hot members as pass-throughs: wrapt's own forwarding costs ~0.6 µs each (PRIOR_ART 34).
    def fetchone(self) -> Any:
        return self.__wrapped__.fetchone()

    def fetchmany(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__.fetchmany(*args, **kwargs)

    def fetchall(self) -> Any:
        return self.__wrapped__.fetchall()

    @property
    def rowcount(self) -> Any:
        return self.__wrapped__.rowcount

    @property
    def description(self) -> Any:
        return self.__wrapped__.description

    @property
    def connection(self) -> Any:
        return held_connection(self._self_site, self.__wrapped__.connection)

    # Protocols wrapt 2's BaseObjectProxy does not forward, or forwards to the raw object (PRIOR_ART 9, 10).
    def __iter__(self) -> Any:
        it = iter(self.__wrapped__)
        return self if it is self.__wrapped__ else it

    def __next__(self) -> Any:
        return next(self.__wrapped__)

    def __enter__(self) -> Any:
        return self._self_own(self.__wrapped__.__enter__())

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)


class ConnectionProxy(wrapt.ObjectProxy):
    """A driver connection whose cursors come back as ``cursor_type`` proxies."""

    cursor_type: type = CursorProxy
    # Raw cursor classes a connection-level statement may return (psycopg's ``conn.execute``): proxied on return.
    _self_cursor_base: tuple[type, ...] = ()

    def __init__(self, connection: Any, context: dict[str, Any], record: Recorder = _record) -> None:
        super().__init__(connection)
        self._self_site = (context, record, id(connection), self)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        return self.cursor_type(self.__wrapped__.cursor(*args, **kwargs), self._self_site)

    def _self_statement(self, method: Callable[..., Any], query: Any, args: Any, kwargs: Any) -> Any:
        """A connection-level statement, recorded; a cursor it returns comes back proxied, the connection as this
        proxy."""
        result = timed(self._self_site, method, query, args, kwargs)
        if result is self.__wrapped__:
            return self
        if self._self_cursor_base and isinstance(result, self._self_cursor_base):
            return self.cursor_type(result, self._self_site)
        return result

    def __enter__(self) -> Any:
        entered = self.__wrapped__.__enter__()
        return self if entered is self.__wrapped__ else entered

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)


def _unwrap(cursor: Any) -> Any:
    """For ``UNWRAP``: the SQLAlchemy hook records the statement itself, so it calls the driver's raw cursor."""
    return cursor.__wrapped__


UNWRAP[CursorProxy] = _unwrap


# -- real subclasses of a driver's cursor -------------------------------------------------------------------------

# kind → base → its recording subclass (our subclasses map to themselves). Looked up on every ``cursor()``.
_subclasses: dict[str, dict[type, type]] = {}


def recording_subclass(base: type, kind: str, make: Callable[[type], dict[str, Any]]) -> type:
    """A subclass of ``base`` with the methods ``make(base)`` returns, made once per ``(base, kind)``.

    ``isinstance`` against ``base`` (a user's ``cursor_factory`` included) holds, and C code that type-checks
    accepts it. Methods call ``base``'s own through closures (no ``super()`` lookup on the hot path). The class has
    ``_ryft_kind`` set and ``base`` as its first base: SQLAlchemy's hook calls ``base``'s methods on such a cursor,
    since it records the statement itself."""
    known = _subclasses.get(kind)
    if known is None:
        known = _subclasses.setdefault(kind, {})
    found = known.get(base)
    if found is None:
        if getattr(base, "_ryft_kind", None) == kind:
            found = base
        else:
            namespace = make(base)
            namespace.update(_ryft_kind=kind, __module__=base.__module__, __qualname__=base.__qualname__,
                             __doc__=base.__doc__)
            found = type(base.__name__, (base,), namespace)
            UNWRAP[found] = Unrecorded
            known[found] = found
        known[base] = found
    return found


class Unrecorded:
    """A recording subclass's cursor seen with the driver's own ``execute``/``executemany``: what the SQLAlchemy
    hook (``UNWRAP``), which records the statement itself, and psycopg2's ``execute_values`` call."""

    _self_site = None

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self._base: Any = type(cursor).__bases__[0]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._base.execute(self._cursor, *args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return self._base.executemany(self._cursor, *args, **kwargs)


_NO_PARAMETERS: Any = object()


def cursor_methods(base: type) -> dict[str, Any]:
    """Recorded ``execute``/``executemany`` for a real cursor subclass of ``base`` (sqlite3, psycopg2), whose
    instances carry their ``Site`` in ``_self_site``.

    ``execute`` takes the parameters by position or as ``vars=`` (psycopg2's name) rather than ``*args,
    **kwargs``: packing and unpacking those costs ~0.3 µs a statement, a third of the budget (SPEC §8)."""
    execute = base.execute  # type: ignore[attr-defined]
    executemany = base.executemany  # type: ignore[attr-defined]

    def execute_recorded(self: Any, query: Any, vars: Any = _NO_PARAMETERS) -> Any:  # noqa: A002
        start = perf_counter()
        try:
            result = execute(self, query) if vars is _NO_PARAMETERS else execute(self, query, vars)
        except BaseException as exc:
            site = self._self_site
            site[1](site[0], query_text(query, site[3]), start, perf_counter() - start, exc, None, site[2])
            raise
        site = self._self_site
        site[1](site[0], query if query.__class__ is str else query_text(query, site[3]), start,
                perf_counter() - start, None, None, site[2])
        return result

    def executemany_recorded(self: Any, query: Any, vars_list: Any) -> Any:
        return timed(self._self_site, executemany.__get__(self), query, (vars_list,), {})

    execute_recorded.__name__ = "execute"
    executemany_recorded.__name__ = "executemany"
    # The site is the only attribute we set on a cursor: a slot, so no __dict__ is made per cursor.
    return {"execute": execute_recorded, "executemany": executemany_recorded, "__slots__": ("_self_site",)}


# -- the public functions -----------------------------------------------------------------------------------------


def _driver(name: str) -> Any:
    """The ``dbapi_<driver>`` module for a module name, or None for a driver we do not know."""
    found = _DRIVER_MODULES.get(name.split(".")[0])
    return None if found is None else importlib.import_module("%s.%s" % (__package__, found))


def _silent(*args: Any) -> None:
    """The record function of a silenced connection: an integration above it records its statements."""


def silence(connection: Any) -> bool:
    """Stop ``connection`` (one of ours) recording: SQLAlchemy's async adapters call the driver from where
    ``UNWRAP`` cannot reach (aiosqlite's own thread, psycopg's async cursor under the adapter's), and the SQLAlchemy
    hook records those statements itself. Cursors made afterwards carry the silent site. False if not ours."""
    site = getattr(connection, "_self_site", None)
    if not isinstance(site, tuple) or site[1] is _silent:
        return False
    connection._self_site = (site[0], _silent, site[2], site[3])
    return True


def is_instrumented(connection: Any) -> bool:
    return isinstance(connection, ConnectionProxy) or getattr(connection, "_self_site", None) is not None


def instrument_connection(connection: Any, *, tags: Optional[list[str]] = None) -> Any:
    """Wrap ``connection`` (any DB-API connection) so that its statements are recorded; idempotent, never raises."""
    if is_instrumented(connection):
        return connection
    try:
        # The class's own module, or a base class's: an application's subclass of a driver's connection class.
        driver = next((found for found in (_driver(getattr(kind, "__module__", None) or "")
                                           for kind in type(connection).__mro__) if found is not None), None)
        if driver is not None:
            return driver.wrap(connection, tags)
        awaitable = inspect.isawaitable(connection)
        if awaitable or not callable(getattr(connection, "cursor", None)):
            logs.limited(logging.WARNING, "not_dbapi", "ryft_instrument: a %s.%s is not a DB-API connection (%s): "
                         "left as it is, its statements are not recorded", type(connection).__module__,
                         type(connection).__qualname__, "awaitable" if awaitable else "no cursor()")
            return connection
        return ConnectionProxy(connection, {}, recorder_for(tags))
    except Exception:
        log.warning("ryft_instrument: could not instrument a %s connection", type(connection).__module__,
                    exc_info=True)
        return connection


def instrument_dbapi(module: Any) -> Any:
    """Wrap ``module.connect`` (and the driver's other entry points) so that every new connection is recorded.

    Idempotent, and safe on a module that has just been imported (zero-code activation calls it from an import
    hook). A module we do not know gets a generic wrapper around its ``connect``; one whose ``connect`` is a
    coroutine function (asyncpg) is left alone, with a warning. Returns ``module``."""
    try:
        driver = _driver(module.__name__)
        if driver is not None:
            driver.patch(module)
        elif inspect.iscoroutinefunction(getattr(module, "connect", None)):
            log.warning("ryft_instrument: %s is not a DB-API module (its connect() is a coroutine function): left as "
                        "it is; through SQLAlchemy's async engine, instrument(engine) records its statements",
                        module.__name__)
        else:
            patch_function(module, "connect", _generic_connect)
    except Exception:
        log.warning("ryft_instrument: could not instrument %s", getattr(module, "__name__", module), exc_info=True)
    return module


def uninstrument_dbapi(module: Any) -> Any:
    """Undo ``instrument_dbapi(module)``; connections already made stay instrumented. Returns ``module``."""
    driver = _driver(module.__name__)
    if driver is not None:
        driver.unpatch(module)
    else:
        unpatch_function(module, "connect")
    return module


def connect_wrapper(wrap: Callable[[Any, Optional[list[str]]], Any]) -> Callable[[Callable[..., Any]], Any]:
    """For ``patch_function``: a ``connect`` whose new connections come back as ``wrap(connection, None)``."""

    def make(connect: Callable[..., Any]) -> Callable[..., Any]:
        def connect_instrumented(*args: Any, **kwargs: Any) -> Any:
            return wrap(connect(*args, **kwargs), None)

        return connect_instrumented

    return make


_generic_connect = connect_wrapper(lambda connection, tags: instrument_connection(connection, tags=tags))


# -- patching module functions, reversibly -------------------------------------------------------------------------

_ORIGINAL = "__ryft_original__"


def patch_function(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``owner.name`` by ``make(original)`` unless already done; ``unpatch_function`` restores it.

    For a classmethod defined on the class ``owner``, ``make`` receives the underlying function (its first
    argument is the class) and the result stays a classmethod."""
    current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if current is None or _original(current) is not None:
        return
    if isinstance(current, classmethod):
        wrapper: Any = classmethod(_mark(make(current.__func__), current))
    else:
        wrapper = _mark(make(current), current)
    setattr(owner, name, wrapper)


def unpatch_function(owner: Any, name: str) -> None:
    current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    original = _original(current)
    if original is not None:
        setattr(owner, name, original)


def _mark(wrapper: Callable[..., Any], original: Any) -> Callable[..., Any]:
    target = getattr(original, "__func__", original)
    wrapper.__name__ = getattr(target, "__name__", wrapper.__name__)
    wrapper.__doc__ = getattr(target, "__doc__", None)
    setattr(wrapper, _ORIGINAL, original)
    return wrapper


def _original(obj: Any) -> Any:
    return getattr(getattr(obj, "__func__", obj), _ORIGINAL, None)


# -- context helpers shared by drivers ------------------------------------------------------------------------------


def postgres_context(info: Any, options: Any, agent: str) -> dict[str, str]:
    """SPEC §4 for psycopg and psycopg2 from ``conn.info`` (no query): database, user, server version, and the
    schema from a reported ``search_path`` (PostgreSQL 18+) or the ``options=-csearch_path=…`` the DSN set."""
    number = info.server_version
    if number >= 100000:
        version = "%d.%d" % (number // 10000, number % 10000)
    else:
        version = "%d.%d.%d" % (number // 10000, number // 100 % 100, number % 100)
    reported = info.parameter_status("search_path")
    schema = search_path_head("-csearch_path=" + reported) if reported else None
    if schema is None or schema == "$user":
        schema = search_path_head(options)
    return make_context(catalog=info.dbname, schema=schema, user=info.user, serverVersion=version, userAgent=agent)
