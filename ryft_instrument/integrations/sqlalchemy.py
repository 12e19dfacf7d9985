"""SQLAlchemy: one ``do_execute`` / ``do_executemany`` / ``do_execute_no_params`` dialect-event hook that times the
driver call itself (PRIOR_ART 1–8).

Why the dialect events and not ``before/after_cursor_execute``: two empty cursor-execute listeners put SQLAlchemy on
its slow event path (~4 µs a statement), and ``after_cursor_execute`` never fires for a failing statement. A
``do_execute`` listener that calls the dialect's own ``do_execute`` and returns True sees every driver call, success
or failure, on the thread that made it, with nothing kept on the Connection. SQLAlchemy stops at the first listener
that returns True, so the class-wide listener (``instrument()``) and a per-engine one never both record a statement.
Listening on the ``Engine`` class reaches every dialect, engines created before the call included, and
``AsyncEngine.sync_engine`` alike. Per-engine data lives on the dialect object, so a disposed engine is collected.
"""

from __future__ import annotations

import sys
import weakref
from time import perf_counter
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .. import counters, recorder
from ..context import make_context, module_version, search_path_head, user_agent, version_text
from ..logs import log
from . import QUERY_IDS, UNWRAP

_ATTR = "_ryft_context"
_EXCLUDED = False
# Dialects whose server version is not known yet are asked again for this many statements before we settle.
_VERSION_TRIES = 50

_record = recorder.record
_errors = counters.hot("internal_errors")
_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()
_global = False

try:
    import sqlalchemy

    _SQLALCHEMY = "sqlalchemy/%s" % sqlalchemy.__version__
except Exception:  # pragma: no cover - import above already needed it
    _SQLALCHEMY = ""


def _context(context: Any) -> Any:
    """The record context of the context's dialect, built on its first statement (SPEC §4); the hook reads the
    cached one itself."""
    dialect = context.dialect
    built = build_context(dialect, context.root_connection.engine.url)
    tries = dialect.__dict__.get("_ryft_tries", 0) + 1
    if "serverVersion" in built or tries >= _VERSION_TRIES:
        dialect.__dict__[_ATTR] = built
    else:
        dialect.__dict__["_ryft_tries"] = tries
    return built


def build_context(dialect: Any, url: Any) -> dict[str, str]:
    """Context fields from the engine URL and the dialect: nothing here runs a query."""
    name = getattr(dialect, "name", "") or ""
    database = url.database
    catalog: Optional[str] = database
    schema: Optional[str] = None
    if name == "trino" and database:
        catalog, _, schema = database.partition("/")
    elif name in ("mysql", "mariadb"):
        schema = database
    elif name == "postgresql":
        schema = search_path_head(url.query.get("options"))
    elif name == "sqlite":
        catalog = "main"
    dbapi = getattr(dialect, "loaded_dbapi", None) or getattr(dialect, "dbapi", None)
    driver = getattr(dialect, "driver", None) or name
    driver_version = getattr(dbapi, "sqlite_version", None) if driver == "pysqlite" else None
    driver_version = driver_version or _driver_version(driver, dbapi)
    return make_context(
        catalog=catalog,
        schema=schema,
        user=url.username,
        serverVersion=_server_version(name, dialect, url),
        userAgent=user_agent([(driver, driver_version), ("sqlalchemy", _SQLALCHEMY.partition("/")[2])]),
    )


def _driver_version(driver: str, dbapi: Any) -> Optional[str]:
    """The driver module's version. Async dialects hold an adapter object of SQLAlchemy's, not the module, so the
    dialect's driver name (``asyncpg``, ``psycopg_async`` → ``psycopg``) is tried first."""
    module = getattr(dbapi, "__name__", None)
    for name in (driver, driver.split("_")[0], module):
        if isinstance(name, str) and name and not name.startswith("sqlalchemy"):
            found = module_version(name)
            if found:
                return found
    return None


def _server_version(name: str, dialect: Any, url: Any) -> Optional[str]:
    """The dialect's version; for trino the coordinator's ``/v1/info``, since reading the trino dialect's
    ``server_version_info`` runs ``SELECT version()`` (SPEC §4)."""
    if name == "trino":
        from .dbapi_trino import sqlalchemy_server_version

        return sqlalchemy_server_version(dialect, url)
    return version_text(getattr(dialect, "server_version_info", None))


# The connection key matters only to PREPARE / EXECUTE / DEALLOCATE / DISCARD / DROP PREPARE (the classifier
# remembers prepared statements per connection): looking it up costs ~0.3 µs, so only texts that may start so ask.
_MAY_PREPARE = frozenset("PpEeDd/-( \t\r\n")


def _session(cursor: Any) -> Optional[int]:
    try:
        connection = cursor.connection
    except Exception:
        return None
    return None if connection is None else id(connection)


def _query_id(cursor: Any, exc: Optional[BaseException]) -> Optional[str]:
    found = QUERY_IDS.get(type(cursor))
    try:
        return None if found is None else found(cursor, exc)
    except Exception:
        return None


def _silence_driver(dbapi_connection: Any, connection_record: Any) -> None:
    """Pool ``connect``: under an async adapter, silence the instrumented driver connection it holds (our DB-API
    integration), since this hook records those statements and ``UNWRAP`` cannot reach that far down."""
    dbapi = sys.modules.get("ryft_instrument.integrations.dbapi")
    if dbapi is None:
        return
    inner = dbapi_connection
    for _ in range(3):
        try:
            inner = getattr(inner, "driver_connection", None) or getattr(inner, "_connection", None) or getattr(
                inner, "_conn", None)
        except Exception:
            return
        if inner is None:
            return
        dbapi.silence(inner)


_NO_PARAMETERS: Any = object()


def _hook(method: str) -> Any:
    """A listener for the dialect event ``method`` that calls the dialect's own ``method`` itself, timed.

    The event passes ``(cursor, statement, parameters, context)``, or ``(cursor, statement, context)`` for
    ``do_execute_no_params``: one body serves both (a ``*rest`` signature measured ~1 µs slower a statement)."""

    def hook(cursor: Any, statement: Any, parameters: Any, context: Any = _NO_PARAMETERS) -> bool:
        if context is _NO_PARAMETERS:
            context, parameters = parameters, _NO_PARAMETERS
        if context is None:
            return False
        dialect = context.dialect
        ctx = dialect.__dict__.get(_ATTR)
        if ctx is None:
            try:
                ctx = _context(context)
            except Exception:
                # Never into the user's query: SQLAlchemy runs the statement itself, unrecorded, and we count it.
                next(_errors)
                log.debug("ryft_instrument: cannot build the context of a SQLAlchemy engine", exc_info=True)
                return False
        if ctx is _EXCLUDED:
            return False
        if UNWRAP:
            unwrap = UNWRAP.get(type(cursor))
            if unwrap is not None:
                cursor = unwrap(cursor)
        call = getattr(dialect, method)
        start = perf_counter()
        try:
            if parameters is _NO_PARAMETERS:
                call(cursor, statement, context)
            else:
                call(cursor, statement, parameters, context)
        except BaseException as exc:
            end = perf_counter()
            _record(ctx, statement, start, end - start, exc, _query_id(cursor, exc) if QUERY_IDS else None,
                    _session(cursor) if statement[:1] in _MAY_PREPARE else None)
            raise
        end = perf_counter()
        _record(ctx, statement, start, end - start, None, _query_id(cursor, None) if QUERY_IDS else None,
                _session(cursor) if statement[:1] in _MAY_PREPARE else None)
        return True

    hook.__name__ = hook.__qualname__ = "ryft_" + method
    return hook


_HOOKS = tuple((name, _hook(name)) for name in ("do_execute", "do_executemany", "do_execute_no_params"))


def _listen(target: Any) -> None:
    for name, fn in _HOOKS:
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)
    if not event.contains(target, "connect", _silence_driver):
        event.listen(target, "connect", _silence_driver)


def _unlisten(target: Any) -> None:
    for name, fn in _HOOKS:
        if event.contains(target, name, fn):
            event.remove(target, name, fn)
    if event.contains(target, "connect", _silence_driver):
        event.remove(target, "connect", _silence_driver)


def sync_engine(engine: Any) -> Engine:
    """The ``Engine`` behind ``engine`` (an ``AsyncEngine`` has one); TypeError for anything else."""
    target = getattr(engine, "sync_engine", engine)
    if not isinstance(target, Engine):
        raise TypeError("ryft_instrument.instrument() takes a SQLAlchemy Engine or AsyncEngine, got %r"
                        % type(engine).__name__)
    return target


def instrument_engine(engine: Any) -> Any:
    """Record every statement of ``engine`` (idempotent); returns ``engine``."""
    target = sync_engine(engine)
    dialect = target.dialect
    if dialect.__dict__.get(_ATTR) is _EXCLUDED:
        del dialect.__dict__[_ATTR]
    _listen(target)
    _instrumented.add(target)
    return engine


def instrument_all() -> None:
    """Record every statement of every engine, present and future."""
    global _global
    _listen(Engine)
    _global = True


def uninstrument_engine(engine: Any) -> Any:
    """Stop recording ``engine``'s statements, even while ``instrument()`` covers every engine."""
    target = sync_engine(engine)
    if target in _instrumented:
        _unlisten(target)
        _instrumented.discard(target)
    target.dialect.__dict__[_ATTR] = _EXCLUDED
    return engine


def uninstrument_all() -> None:
    """Remove every hook: the class-wide one and each engine's."""
    global _global
    _unlisten(Engine)
    _global = False
    for engine in list(_instrumented):
        _unlisten(engine)
    _instrumented.clear()
