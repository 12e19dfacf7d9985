"""SQLAlchemy: the dialect's own ``do_execute`` / ``do_executemany`` / ``do_execute_no_params``, timed (PRIOR_ART 1–8).

``instrument(engine)`` gives the engine's dialect object a class of its own, a subclass of its class whose three
methods call the dialect's own between two clock readings: every driver call, success or failure, is seen on the
thread that made it, with nothing kept on the Connection, and no event is dispatched per statement. (Two empty
``before/after_cursor_execute`` listeners put SQLAlchemy on its slow path, ~4 µs a statement, and
``after_cursor_execute`` never fires for a failing statement; even one empty ``do_execute`` dialect-event listener
costs ~1 µs here.) ``instrument()`` covers every engine, present and future, the same way: it wraps the dialect of
each engine alive (found once among the garbage collector's objects) and of each engine made later (through
``Engine.__init__``), so it costs a statement no more than ``instrument(engine)``. Per-dialect state lives on the
dialect object, so a disposed engine is collected; ``AsyncEngine.sync_engine`` works the same.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import sys
import threading
import types
import weakref
from time import perf_counter
from typing import Any, Callable, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect

from .. import counters, recorder, tagging
from ..context import make_context, module_version, search_path_head, user_agent, version_text
from ..logs import log
from . import QUERY_IDS, UNWRAP

_STATE = "_ryft_state"
_BASE = "_ryft_base"
_EXCLUDED = "_ryft_excluded"
# Dialects whose server version is not known yet are asked again for this many statements before we settle.
_VERSION_TRIES = 50

_record = recorder.record
_errors = counters.hot("internal_errors")
_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()
# Every dialect wrapped, by either path, so that ``uninstrument()`` can put each back.
_wrapped: weakref.WeakSet[Any] = weakref.WeakSet()
# Dialects of engines that ``uninstrument(engine)`` left out of ``instrument()``, until ``uninstrument()``.
_excluded: weakref.WeakSet[Any] = weakref.WeakSet()
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
    context (built on the first statements); ``texts``, statements recorded before that need nothing looked up
    (short, and not about prepared statements). SQLAlchemy hands the same string for a cached statement each time,
    so ``texts`` is one set lookup in place of a length and a first-character test."""

    __slots__ = ("context", "own", "texts", "tries", "url")

    def __init__(self, url: Any) -> None:
        self.url = url
        # Methods the dialect object carried in its own __dict__ (another patcher's): ours call them, and
        # ``_unwrap`` puts them back.
        self.own: dict[str, Any] = {}
        self.context: Optional[dict[str, str]] = None
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
    server_version = None
    if name == "duckdb":
        # duckdb_engine: the driver is DuckDB itself, embedded (its dialect reports a PostgreSQL version it mimics).
        from .dbapi_duckdb import catalog_for

        catalog, driver = catalog_for(database or ":memory:"), "duckdb"
        driver_version = server_version = module_version("duckdb")
    driver_version = driver_version or _driver_version(driver, dbapi)
    return make_context(
        catalog=catalog,
        schema=schema,
        user=url.username,
        serverVersion=server_version or _server_version(name, dialect, url),
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
    """Pool ``first_connect`` and ``connect``: silence the instrumented driver connection (our DB-API integration)
    that an adapter or a dialect's own wrapper holds, since this hook records those statements and ``UNWRAP`` cannot
    reach that far down: async adapters (aiosqlite's own thread, psycopg's async cursor), duckdb_engine's
    ``ConnectionWrapper``. On ``first_connect`` too, ahead of the dialect's own first statements."""
    dbapi = sys.modules.get("ryft_instrument.integrations.dbapi")
    if dbapi is None:
        return
    inner = dbapi_connection
    for _ in range(3):
        try:
            inner = _held(inner, dbapi.is_instrumented)
        except Exception:
            return
        if inner is None:
            return
        dbapi.silence(inner)


def _held(connection: Any, ours: Callable[[Any], bool]) -> Any:
    """The connection that ``connection`` wraps: an adapter's ``driver_connection``, ``_connection`` or ``_conn``,
    else a connection of ours among its instance attributes (duckdb_engine keeps one in a private name)."""
    for name in ("driver_connection", "_connection", "_conn"):
        inner = getattr(connection, name, None)
        if inner is not None:
            return inner
    attributes = getattr(connection, "__dict__", None)
    if isinstance(attributes, dict):
        return next((value for value in attributes.values() if not isinstance(value, type) and ours(value)), None)
    return None


_METHODS = ("do_execute", "do_executemany", "do_execute_no_params")
_queue = recorder.buffer


def _execute(cursor: Any, statement: Any, parameters: Any) -> None:
    cursor.execute(statement, parameters)


def _executemany(cursor: Any, statement: Any, parameters: Any) -> None:
    cursor.executemany(statement, parameters)


def _execute_no_params(cursor: Any, statement: Any, _parameters: Any) -> None:
    cursor.execute(statement)


# SQLAlchemy's default dialect methods, less the dialect and the context they do not use.
_DEFAULTS = {"execute": _execute, "executemany": _executemany, "execute_no_params": _execute_no_params}


def _unwrapping(default: Any, unwrap: Any) -> Any:
    """``default`` run on the driver's cursor inside one of our DB-API integration's (not recorded twice)."""
    return lambda cursor, statement, parameters: default(unwrap(cursor), statement, parameters)


class _Route:
    """How one wrapper runs a statement on a cursor of type ``kind`` (the first type it met that can take the hot
    path; set once, so a reader that saw ``kind`` sees its ``call``): ``call(cursor, statement, parameters)`` does
    what SQLAlchemy's default method ``method`` ("execute", "executemany", "execute_no_params") would. Where it
    can, that is the driver class's own method: a Python frame fewer, and on a cursor of our DB-API integration
    (``instrument_dbapi`` under SQLAlchemy: zero-code, pytest --ryft) the driver's method, not our recording one;
    on a proxy of that integration, the default on the driver's cursor inside. A dialect with a method of its own
    (``method`` empty: Trino's ``do_execute``, some ``do_executemany``) never takes the hot path."""

    __slots__ = ("call", "kind", "method")

    def __init__(self, method: str) -> None:
        self.method = method
        self.kind: Optional[type] = None
        self.call: Any = None

    def learn(self, kind: type, unwrap: Any) -> None:
        """``kind`` takes the hot path from now on, if no type did before and the dialect's method is the default
        (``unwrap``: how ``UNWRAP`` reaches the driver's cursor inside a ``kind``, or None)."""
        method = self.method
        if not method or self.kind is not None:
            return
        if unwrap is not None:
            # A cursor of our DB-API integration: a recording subclass's driver class's own method, or the default
            # on the driver's cursor that ``unwrap`` finds (a wrapt proxy's).
            if getattr(kind, "_ryft_kind", None) and method != "execute_no_params":
                call = getattr(kind.__bases__[0], method, None)
            else:
                call = _unwrapping(_DEFAULTS[method], unwrap)
        elif kind.__dictoffset__ or method == "execute_no_params":
            call = _DEFAULTS[method]  # instances with a __dict__ may carry a method of their own
        else:
            call = getattr(kind, method, None)
        if call is not None:
            self.call = call
            self.kind = kind


def _recording(original: Any, state: _State, method: str = "") -> Any:
    """A replacement for the dialect's method ``original(dialect, cursor, statement, parameters, context)`` that
    calls it between two clock readings and records the statement. ``method`` names the cursor's method when
    ``original`` is SQLAlchemy's default (see ``_Route``).

    The hot path (a cursor of the route's ``kind``, a statement in ``texts``, room in the queue) appends the event
    itself: ``recorder.record``'s short path, inlined, as the call alone measured ~0.5 µs of the 1.5 µs budget
    (SPEC §8). Any other cursor goes through ``_timed``, any other statement through ``_recorded``."""
    texts = state.texts
    route = _Route(method)

    def recorded(dialect: Any, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> Any:
        if type(cursor) is not route.kind:
            return _timed(state, route, dialect, original, cursor, statement, parameters, context)
        call = route.call
        start = perf_counter()
        try:
            call(cursor, statement, parameters)
        except BaseException as exc:
            _recorded(state, state.context, cursor, statement, start, perf_counter(), exc)
            raise
        end = perf_counter()
        try:
            if statement in texts and len(_queue) < recorder.room:
                if tagging.scoped:
                    _queue.append((state.context, statement, start, end - start, None, None, None,
                                   recorder.get_tags()))
                else:
                    _queue.append((state.context, statement, start, end))  # the short form
                return None
        except TypeError:
            pass  # an unhashable statement from an unusual dialect: the long way
        _recorded(state, state.context, cursor, statement, start, end, None)
        return None

    return recorded


def _without_parameters(original: Any, state: _State, method: str = "") -> Any:
    """``_recording`` for ``do_execute_no_params(dialect, cursor, statement, context)``."""
    inner = _recording(lambda dialect, cursor, statement, _parameters, context: original(dialect, cursor, statement,
                                                                                         context), state, method)

    def recorded(dialect: Any, cursor: Any, statement: Any, context: Any = None) -> Any:
        return inner(dialect, cursor, statement, None, context)

    return recorded


def _timed(state: _State, route: _Route, dialect: Any, original: Any, cursor: Any, statement: Any,
           parameters: Any, context: Any) -> Any:
    """A statement off the hot path (a cursor type the route does not know yet, or one it never takes): context
    and cursor from ``_prepare``, then the dialect's own method, timed and recorded."""
    ctx, cursor = _prepare(state, route, dialect, cursor)
    start = perf_counter()
    try:
        result = original(dialect, cursor, statement, parameters, context)
    except BaseException as exc:
        _recorded(state, ctx, cursor, statement, start, perf_counter(), exc)
        raise
    _recorded(state, ctx, cursor, statement, start, perf_counter(), None)
    return result


def _prepare(state: _State, route: _Route, dialect: Any, cursor: Any) -> tuple[dict[str, Any], Any]:
    """The engine's context (built on its first statements), and the cursor to run this statement on: the driver's
    own where our DB-API integration wrapped it (the statement is recorded here, once). Teaches ``route`` the
    cursor's type once the context is final."""
    ctx = state.context
    if ctx is None:
        try:
            ctx = state.build(dialect)
        except Exception:
            # Never into the user's query: the statement is recorded without context, and we count it.
            next(_errors)
            log.debug("ryft_instrument: cannot build the context of a SQLAlchemy engine", exc_info=True)
            ctx = {}
    kind = type(cursor)
    unwrap = UNWRAP.get(kind)
    driver = cursor if unwrap is None else unwrap(cursor)
    if state.context is not None and kind not in QUERY_IDS and type(driver) not in QUERY_IDS:
        route.learn(kind, unwrap)
    return ctx, driver


def _recorded(state: _State, ctx: Optional[dict[str, Any]], cursor: Any, statement: Any, start: float, end: float,
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
    _record(ctx if ctx is not None else {}, statement, start, end - start, exc, query_id, session)


def _method(base: type, name: str, own: Any) -> Any:
    """The dialect's method ``name`` as a function of ``(dialect, *args)``, the way ``_recording`` calls it: a
    function of its class as it is; a staticmethod, a classmethod or another descriptor bound as attribute access
    would bind it; ``own``, a method another patcher put on the dialect object itself, as it is called there."""
    if own is None:
        found = inspect.getattr_static(base, name)
        if isinstance(found, types.FunctionType):
            return found
        get = getattr(type(found), "__get__", None)
        if get is not None:
            return lambda dialect, *args: get(found, dialect, base)(*args)
        own = found
    return lambda _dialect, *args: own(*args)


def _wrap(dialect: Any, url: Any) -> None:
    """Give ``dialect`` the recording methods (idempotent; the lock keeps two threads that meet a new engine at once
    from wrapping it twice). They go on a subclass of its class made for it, assigned to ``dialect.__class__``:
    SQLAlchemy's ``self.dialect.do_execute(...)`` then stays a specialised method call, where a function in the
    object's own __dict__ sent every call through the interpreter's generic attribute lookup (under callgrind,
    ~960 instructions a statement fewer, averaged over eight memory layouts)."""
    with _wrapping:
        if _STATE in dialect.__dict__:
            return
        state = _State(url)
        base = type(dialect)
        namespace: dict[str, Any] = {"__slots__": (), "__module__": base.__module__, "__qualname__": base.__qualname__,
                                     _BASE: base}
        if "supports_statement_cache" in base.__dict__:
            # SQLAlchemy reads it from the class's own __dict__, and would turn statement caching off without it.
            namespace["supports_statement_cache"] = base.__dict__["supports_statement_cache"]
        for name in _METHODS:
            own = dialect.__dict__.pop(name, None)
            if own is not None:
                state.own[name] = own
            original = _method(base, name, own)
            method = name[3:] if original is getattr(DefaultDialect, name) else ""
            wrapper = _without_parameters if name == "do_execute_no_params" else _recording
            namespace[name] = wrapper(original, state, method)
            namespace[name].__name__ = namespace[name].__qualname__ = name
        dialect.__dict__[_STATE] = state
        dialect.__class__ = type(base.__name__, (base,), namespace)
        _wrapped.add(dialect)


def _unwrap(dialect: Any) -> None:
    state = dialect.__dict__.pop(_STATE, None)
    if state is not None:
        dialect.__dict__.update(state.own)
        base = type(dialect).__dict__.get(_BASE)
        if base is not None:
            dialect.__class__ = base


def _listen(target: Any) -> None:
    if not event.contains(target, "connect", _silence_driver):
        event.listen(target, "first_connect", _silence_driver, insert=True)
        event.listen(target, "connect", _silence_driver)


def _unlisten(target: Any) -> None:
    for name in ("first_connect", "connect"):
        if event.contains(target, name, _silence_driver):
            event.remove(target, name, _silence_driver)


def _adopt(engine: Any) -> None:
    """``instrument()``: wrap the dialect of ``engine`` unless ``uninstrument(engine)`` excluded it. Never raises."""
    try:
        dialect = engine.dialect
        if not dialect.__dict__.get(_EXCLUDED):
            _wrap(dialect, engine.url)
    except Exception:
        next(_errors)
        log.debug("ryft_instrument: cannot instrument a SQLAlchemy engine", exc_info=True)


def _adopting_init(original: Any) -> Any:
    """``Engine.__init__`` that also wraps the new engine's dialect: how ``instrument()`` meets future engines at
    no cost per statement (a class-wide dialect-event listener would cost ~1 µs each, PRIOR_ART 8).

    It is generated with ``original``'s own parameters, not ``*args, **kwargs``: ``create_engine`` reads their
    names (``util.get_cls_kwargs``) to tell the Engine's keywords (``echo``, ``logging_name``…) from the pool's and
    the dialect's, and would refuse them all."""
    namespace: dict[str, Any] = {"_original": original, "_adopt": _adopt}
    parameters = []
    passed = []
    for index, parameter in enumerate(inspect.signature(original).parameters.values()):
        if parameter.default is not parameter.empty:
            namespace["_default%d" % index] = parameter.default
            parameter = parameter.replace(default=_Name("_default%d" % index))
        parameters.append(parameter.replace(annotation=parameter.empty))
        passed.append(_PASSED.get(parameter.kind, "{0}").format(parameter.name))
    source = "def __init__%s:\n    _original(%s)\n    _adopt(%s)\n" % (
        inspect.Signature(parameters), ", ".join(passed), passed[0])
    exec(source, namespace)
    init: Any = functools.update_wrapper(namespace["__init__"], original)
    init._ryft_original = original
    return init


# How a generated function passes each kind of parameter on.
_PASSED: dict[Any, str] = {inspect.Parameter.VAR_POSITIONAL: "*{0}", inspect.Parameter.VAR_KEYWORD: "**{0}",
           inspect.Parameter.KEYWORD_ONLY: "{0}={0}"}


class _Name:
    """A default value shown by name in a generated signature (its value is in the namespace under that name)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _engine_types() -> set[type]:
    found: set[type] = {Engine}
    pending: list[type] = [Engine]
    while pending:
        sub: type
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def _existing_engines() -> list[Any]:
    """Every ``Engine`` alive now, from the garbage collector's list of objects (``type()``, not ``isinstance``:
    the latter would run a lazy object's ``__class__`` property)."""
    kinds = _engine_types()
    return [obj for obj in gc.get_objects() if type(obj) in kinds]


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
    _excluded.discard(dialect)
    _wrap(dialect, target.url)
    _listen(target)
    _instrumented.add(target)
    return engine


def instrument_all() -> None:
    """Record every statement of every engine, present and future: wrap the dialect of each engine alive now, and
    of each engine made from now on (``Engine.__init__``)."""
    with _wrapping:
        if not hasattr(Engine.__init__, "_ryft_original"):
            Engine.__init__ = _adopting_init(Engine.__init__)  # type: ignore[method-assign]
    _listen(Engine)
    for engine in _existing_engines():
        _adopt(engine)


def uninstrument_engine(engine: Any) -> Any:
    """Stop recording ``engine``'s statements, even while ``instrument()`` covers every engine."""
    target = sync_engine(engine)
    if target in _instrumented:
        _unlisten(target)
        _instrumented.discard(target)
    _unwrap(target.dialect)
    target.dialect.__dict__[_EXCLUDED] = True
    _excluded.add(target.dialect)
    return engine


def uninstrument_all() -> None:
    """Remove every hook: ``Engine.__init__`` as it was, the pool listeners, the wrappers of every dialect that
    ``instrument()`` or ``instrument(engine)`` put in place, and the exclusions of ``uninstrument(engine)``."""
    with _wrapping:
        original = getattr(Engine.__init__, "_ryft_original", None)
        if original is not None:
            Engine.__init__ = original  # type: ignore[method-assign]
    _unlisten(Engine)
    for engine in list(_instrumented):
        _unlisten(engine)
    _instrumented.clear()
    for dialect in list(_wrapped):
        _unwrap(dialect)
    _wrapped.clear()
    for dialect in list(_excluded):
        dialect.__dict__.pop(_EXCLUDED, None)
    _excluded.clear()
