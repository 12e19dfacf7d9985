"""SQLAlchemy: the dialect's own ``do_execute`` / ``do_executemany`` / ``do_execute_no_params``, timed (PRIOR_ART 1–8).

``instrument(engine)`` replaces those three methods on the engine's dialect object with wrappers that call the
dialect's own method between two clock readings: every driver call, success or failure, is seen on the thread that
made it, with nothing kept on the Connection, and no event is dispatched per statement. (Two empty
``before/after_cursor_execute`` listeners put SQLAlchemy on its slow path, ~4 µs a statement, and
``after_cursor_execute`` never fires for a failing statement; even one empty ``do_execute`` dialect-event listener
costs ~1 µs here.) ``instrument()`` covers every engine, present and future, with a class-wide ``do_execute`` event
listener that wraps each dialect it meets the same way and lets SQLAlchemy call the wrapper. Per-dialect state lives
on the dialect object, so a disposed engine is collected; ``AsyncEngine.sync_engine`` works the same.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from time import perf_counter
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .. import counters, recorder
from ..context import make_context, module_version, search_path_head, user_agent, version_text
from ..logs import log
from . import QUERY_IDS, UNWRAP

_STATE = "_ryft_state"
_EXCLUDED = "_ryft_excluded"
# Dialects whose server version is not known yet are asked again for this many statements before we settle.
_VERSION_TRIES = 50

_record = recorder.record
_errors = counters.hot("internal_errors")
_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()
# Every dialect wrapped, by either path, so that ``uninstrument()`` can put each back.
_wrapped: weakref.WeakSet[Any] = weakref.WeakSet()
_wrapping = threading.Lock()


def _new_lock_in_child() -> None:
    global _wrapping
    _wrapping = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)

try:
    import sqlalchemy

    _SQLALCHEMY = "sqlalchemy/%s" % sqlalchemy.__version__
except Exception:  # pragma: no cover - import above already needed it
    _SQLALCHEMY = ""


class _State:
    """What a wrapped dialect knows: its engine's URL and the record context, built on the first statement."""

    __slots__ = ("context", "tries", "url")

    def __init__(self, url: Any) -> None:
        self.url = url
        self.context: Optional[dict[str, str]] = None
        self.tries = 0

    def build(self, dialect: Any) -> dict[str, str]:
        """The context (SPEC §4); kept once the server version is known, or after ``_VERSION_TRIES`` statements."""
        built = build_context(dialect, self.url)
        self.tries += 1
        if "serverVersion" in built or self.tries >= _VERSION_TRIES:
            self.context = built
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
_METHODS = ("do_execute", "do_executemany", "do_execute_no_params")


def _recording(original: Any, state: _State, dialect_ref: Any) -> Any:
    """A replacement for the dialect's bound method ``original`` that calls it between two clock readings and
    records the statement. ``do_execute``/``do_executemany`` take ``(cursor, statement, parameters, context)``,
    ``do_execute_no_params`` ``(cursor, statement, context)``: one body serves both."""

    def recorded(cursor: Any, statement: Any, parameters: Any = _NO_PARAMETERS, context: Any = _NO_PARAMETERS) -> Any:
        ctx = state.context
        if ctx is None:
            try:
                ctx = state.build(dialect_ref())
            except Exception:
                # Never into the user's query: the statement is recorded without context, and we count it.
                next(_errors)
                log.debug("ryft_instrument: cannot build the context of a SQLAlchemy engine", exc_info=True)
                ctx = {}
        if UNWRAP:
            unwrap = UNWRAP.get(type(cursor))
            if unwrap is not None:
                cursor = unwrap(cursor)
        start = perf_counter()
        try:
            if context is _NO_PARAMETERS:
                result = original(cursor, statement) if parameters is _NO_PARAMETERS else original(
                    cursor, statement, parameters)
            else:
                result = original(cursor, statement, parameters, context)
        except BaseException as exc:
            end = perf_counter()
            _record(ctx, statement, start, end - start, exc, _query_id(cursor, exc) if QUERY_IDS else None,
                    _session(cursor) if statement[:1] in _MAY_PREPARE else None)
            raise
        end = perf_counter()
        _record(ctx, statement, start, end - start, None, _query_id(cursor, None) if QUERY_IDS else None,
                _session(cursor) if statement[:1] in _MAY_PREPARE else None)
        return result

    recorded.__name__ = recorded.__qualname__ = getattr(original, "__name__", "do_execute")
    recorded._ryft_original = original  # type: ignore[attr-defined]
    return recorded


def _wrap(dialect: Any, url: Any) -> None:
    """Put the recording methods on ``dialect`` (idempotent; the lock keeps two threads that meet a new engine at
    once from wrapping its methods twice)."""
    with _wrapping:
        if _STATE in dialect.__dict__:
            return
        state = _State(url)
        ref = weakref.ref(dialect)
        for name in _METHODS:
            dialect.__dict__[name] = _recording(getattr(dialect, name), state, ref)
        dialect.__dict__[_STATE] = state
        _wrapped.add(dialect)


def _unwrap(dialect: Any) -> None:
    if dialect.__dict__.pop(_STATE, None) is not None:
        for name in _METHODS:
            dialect.__dict__.pop(name, None)


def _on_first_statement(cursor: Any, statement: Any, parameters: Any, context: Any = _NO_PARAMETERS) -> bool:
    """``instrument()``'s class-wide dialect-event listener: wrap the dialect of an engine met for the first time,
    then let SQLAlchemy call its (now recording) method."""
    if context is _NO_PARAMETERS:
        context = parameters
    if context is not None:
        dialect = context.dialect
        if _STATE not in dialect.__dict__ and not dialect.__dict__.get(_EXCLUDED):
            try:
                _wrap(dialect, context.root_connection.engine.url)
            except Exception:
                next(_errors)
                log.debug("ryft_instrument: cannot instrument a SQLAlchemy engine", exc_info=True)
    return False


def _listen(target: Any, *names: str) -> None:
    for name in names:
        fn = _silence_driver if name == "connect" else _on_first_statement
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


def _unlisten(target: Any, *names: str) -> None:
    for name in names:
        fn = _silence_driver if name == "connect" else _on_first_statement
        if event.contains(target, name, fn):
            event.remove(target, name, fn)


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
    dialect.__dict__.pop(_EXCLUDED, None)
    _wrap(dialect, target.url)
    _listen(target, "connect")
    _instrumented.add(target)
    return engine


def instrument_all() -> None:
    """Record every statement of every engine, present and future."""
    _listen(Engine, *_METHODS, "connect")


def uninstrument_engine(engine: Any) -> Any:
    """Stop recording ``engine``'s statements, even while ``instrument()`` covers every engine."""
    target = sync_engine(engine)
    if target in _instrumented:
        _unlisten(target, "connect")
        _instrumented.discard(target)
    _unwrap(target.dialect)
    target.dialect.__dict__[_EXCLUDED] = True
    return engine


def uninstrument_all() -> None:
    """Remove every hook: the class-wide listener, and the wrappers of every dialect it or ``instrument(engine)``
    put in place."""
    _unlisten(Engine, *_METHODS, "connect")
    for engine in list(_instrumented):
        _unlisten(engine, "connect")
    _instrumented.clear()
    for dialect in list(_wrapped):
        _unwrap(dialect)
    _wrapped.clear()
