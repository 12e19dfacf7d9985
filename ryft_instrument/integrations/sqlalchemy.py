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
from sqlalchemy.engine.default import DefaultDialect

from .. import counters, recorder, tagging
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
    """What a wrapped dialect knows, so that most statements take the hot path: its engine's URL; the record
    context (built on the first statements); ``plain``, the driver's cursor type once the context is final and that
    type needs neither unwrapping (``UNWRAP``) nor a query id (``QUERY_IDS``); ``texts``, statements recorded before
    that need nothing looked up (short, and not about prepared statements). SQLAlchemy hands the same string for a
    cached statement each time, so ``texts`` is one set lookup in place of a length and a first-character test."""

    __slots__ = ("context", "plain", "texts", "tries", "url")

    def __init__(self, url: Any) -> None:
        self.url = url
        self.context: Optional[dict[str, str]] = None
        self.plain: Optional[type] = None
        self.texts: set[str] = set()
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
# At most this many statements in a dialect's ``texts`` (SQLAlchemy's compiled cache holds 500 by default).
_TEXTS = 512


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


_METHODS = ("do_execute", "do_executemany", "do_execute_no_params")
_queue = recorder.buffer


def _recording(original: Any, state: _State, dialect_ref: Any, driver_method: str = "") -> Any:
    """A replacement for the dialect's bound method ``original(cursor, statement, parameters, context)`` that calls
    it between two clock readings and records the statement. ``driver_method`` ("execute" or "executemany") says
    that ``original`` is SQLAlchemy's default, which only calls the cursor's method of that name: the wrapper calls
    it itself, a Python frame fewer (PRIOR_ART 8).

    The hot path (a ``plain`` cursor, a statement in ``texts``, room in the queue) appends the event itself:
    ``recorder.record``'s short path, inlined, as the call alone measured ~0.5 µs of the 1.5 µs budget (SPEC §8).
    Everything else goes through ``_prepare`` and ``_recorded``."""
    texts = state.texts
    direct = bool(driver_method)
    many = driver_method == "executemany"

    def recorded(cursor: Any, statement: Any, parameters: Any, context: Any = None) -> Any:
        ctx: Any
        plain = type(cursor) is state.plain
        if plain:
            ctx = state.context  # final once ``plain`` is set
        else:
            ctx, cursor = _prepare(state, dialect_ref, cursor)
        start = perf_counter()
        try:
            if not direct:
                result = original(cursor, statement, parameters, context)
            else:
                if many:
                    cursor.executemany(statement, parameters)
                else:
                    cursor.execute(statement, parameters)
                result = None
        except BaseException as exc:
            _recorded(state, ctx, cursor, statement, start, perf_counter(), exc)
            raise
        end = perf_counter()
        try:
            if plain and statement in texts and len(_queue) < recorder.room:
                _queue.append((ctx, statement, start, end - start, None, None, None,
                               recorder.get_tags() if tagging.scoped else ()))
                return result
        except TypeError:
            pass  # an unhashable statement from an unusual dialect: the long way
        _recorded(state, ctx, cursor, statement, start, end, None)
        return result

    recorded.__name__ = recorded.__qualname__ = getattr(original, "__name__", "do_execute")
    recorded._ryft_original = original  # type: ignore[attr-defined]
    return recorded


def _without_parameters(original: Any, state: _State, dialect_ref: Any) -> Any:
    """``_recording`` for ``do_execute_no_params(cursor, statement, context)``."""
    inner = _recording(lambda cursor, statement, _parameters, context: original(cursor, statement, context), state,
                       dialect_ref)

    def recorded(cursor: Any, statement: Any, context: Any = None) -> Any:
        return inner(cursor, statement, None, context)

    recorded.__name__ = recorded.__qualname__ = "do_execute_no_params"
    recorded._ryft_original = original  # type: ignore[attr-defined]
    return recorded


def _prepare(state: _State, dialect_ref: Any, cursor: Any) -> tuple[dict[str, Any], Any]:
    """The engine's context (built on its first statements), and the driver's own cursor where our DB-API
    integration wrapped it (its statements are recorded here, once); learns ``state.plain``."""
    ctx = state.context
    if ctx is None:
        try:
            ctx = state.build(dialect_ref())
        except Exception:
            # Never into the user's query: the statement is recorded without context, and we count it.
            next(_errors)
            log.debug("ryft_instrument: cannot build the context of a SQLAlchemy engine", exc_info=True)
            ctx = {}
    kind = type(cursor)
    unwrap = UNWRAP.get(kind)
    if unwrap is not None:
        return ctx, unwrap(cursor)
    if state.context is not None and kind not in QUERY_IDS:
        state.plain = kind
    return ctx, cursor


def _recorded(state: _State, ctx: dict[str, Any], cursor: Any, statement: Any, start: float, end: float,
              exc: Optional[BaseException]) -> None:
    """Everything the hot path leaves to ``recorder.record``: failures, the engine's query id, the connection of a
    statement that may be about prepared statements, long statements, sampling, observers, a full queue. A
    statement that needs none of that is remembered in ``state.texts`` for the next time."""
    query_id = session = None
    try:
        if QUERY_IDS:
            query_id = _query_id(cursor, exc)
        if statement[:1] in _MAY_PREPARE:
            session = _session(cursor)
        elif exc is None and type(statement) is str and len(statement) <= recorder.SHORT:
            texts = state.texts
            if len(texts) >= _TEXTS:
                texts.clear()
            texts.add(statement)
    except Exception:
        next(_errors)
        log.debug("ryft_instrument: cannot inspect a SQLAlchemy statement", exc_info=True)
    _record(ctx, statement, start, end - start, exc, query_id, session)


def _wrap(dialect: Any, url: Any) -> None:
    """Put the recording methods on ``dialect`` (idempotent; the lock keeps two threads that meet a new engine at
    once from wrapping its methods twice)."""
    with _wrapping:
        if _STATE in dialect.__dict__:
            return
        state = _State(url)
        ref = weakref.ref(dialect)
        for name in _METHODS:
            original = getattr(dialect, name)
            if name == "do_execute_no_params":
                dialect.__dict__[name] = _without_parameters(original, state, ref)
            else:
                default = getattr(type(dialect), name, None) is getattr(DefaultDialect, name)
                dialect.__dict__[name] = _recording(original, state, ref, name[3:] if default else "")
        dialect.__dict__[_STATE] = state
        _wrapped.add(dialect)


def _unwrap(dialect: Any) -> None:
    if dialect.__dict__.pop(_STATE, None) is not None:
        for name in _METHODS:
            dialect.__dict__.pop(name, None)


_NO_PARAMETERS: Any = object()


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
