"""ryft-instrument: every SQL statement a Python program runs, as records in Ryft's Query Explorer.

The public API (SPEC §7). Importing this package is cheap: it loads nothing heavy (no SQLAlchemy, wrapt or
requests) until a function below needs it, so the zero-code bootstrap can import it at interpreter start.

PYTEST_DONT_REWRITE: under ``RYFT_INSTRUMENT=1`` this package is imported before pytest starts, and pytest would
warn, at every run, that it cannot rewrite the asserts of a plugin's package already imported (the plugin has none).
"""

from __future__ import annotations

from ._version import __version__

# ``typing`` costs ~10 ms at interpreter start, and the zero-code bootstrap imports this package at start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ContextManager, Optional, Union

    from .config import Config

__all__ = [
    "ConfigError",
    "__version__",
    "configure",
    "fingerprint",
    "flush",
    "instrument",
    "instrument_connection",
    "instrument_dbapi",
    "query_type",
    "shutdown",
    "stats",
    "tags",
    "uninstrument",
    "uninstrument_dbapi",
]


def __getattr__(name: str) -> Any:
    if name == "ConfigError":
        from .config import ConfigError

        return ConfigError
    raise AttributeError("module 'ryft_instrument' has no attribute %r" % name)


def _active() -> bool:
    """Load (and check) the configuration; False when ``RYFT_DISABLED`` is set."""
    from . import runtime

    return not runtime.get_config().disabled


def instrument(engine: Any = None) -> Any:
    """Record every statement of ``engine`` (an ``Engine`` or ``AsyncEngine``), or of every engine, present and
    future, when called with no argument. Idempotent; returns ``engine``."""
    if not _active():
        return engine
    if engine is None:
        try:
            from .integrations import sqlalchemy as hooks
        except ImportError:
            return None
        hooks.instrument_all()
        return None
    from .integrations import sqlalchemy as hooks

    return hooks.instrument_engine(engine)


def uninstrument(engine: Any = None) -> Any:
    """Stop recording ``engine``'s statements, or remove every SQLAlchemy hook when called with no argument."""
    try:
        from .integrations import sqlalchemy as hooks
    except ImportError:
        return engine
    if engine is None:
        hooks.uninstrument_all()
        return None
    return hooks.uninstrument_engine(engine)


def instrument_connection(connection: Any, *, tags: Optional[list[str]] = None) -> Any:
    """Wrap a DB-API connection so that its statements are recorded; the proxy behaves like the original."""
    if not _active():
        return connection
    from .integrations import dbapi

    return dbapi.instrument_connection(connection, tags=tags)


def instrument_dbapi(module: Any) -> Any:
    """Wrap ``module.connect`` (sqlite3, psycopg, psycopg2, pymysql, duckdb, trino.dbapi, …). Idempotent."""
    if not _active():
        return module
    from .integrations import dbapi

    return dbapi.instrument_dbapi(module)


def uninstrument_dbapi(module: Any) -> Any:
    """Undo ``instrument_dbapi(module)``."""
    from .integrations import dbapi

    return dbapi.uninstrument_dbapi(module)


def configure(**options: Any) -> Config:
    """Set options by their SPEC §5 names in lower case (``token``/``url`` for short); raises ``ConfigError``."""
    from . import runtime

    return runtime.configure(**options)


def tags(*names: str) -> ContextManager[tuple[str, ...]]:
    """``with ryft_instrument.tags("job:nightly"): ...`` tags the statements recorded inside the block."""
    from .tagging import tags as scoped

    return scoped(*names)


def flush(timeout: float = 5.0) -> bool:
    """Wait up to ``timeout`` seconds for queued records to be delivered; True if everything was."""
    from . import runtime

    return runtime.flush(timeout)


def shutdown(timeout: Optional[float] = None) -> bool:
    """Deliver what is queued (at most ``timeout`` seconds, default ``RYFT_SHUTDOWN_TIMEOUT``) and stop."""
    from . import runtime

    return runtime.shutdown(timeout)


def stats() -> dict[str, int]:
    """Counters: recorded, sent, retried, queued, and every drop by reason (``dropped_*``)."""
    from . import counters, recorder

    snapshot = counters.snapshot()
    queued = len(recorder.buffer)
    snapshot["queued"] = queued
    snapshot["recorded"] += queued
    return snapshot


def query_type(sql: Union[str, bytes, None]) -> Optional[str]:
    """The statement's Trino ``QueryType`` (SPEC §2), or None when the text holds no statement. Never raises."""
    from .classify import query_type as classify

    return classify(sql)


def fingerprint(sql: Union[str, bytes]) -> str:
    """``sql`` with literals replaced and ``IN (…)`` lists collapsed, for grouping repeated statements."""
    from .fingerprinting import fingerprint as fp

    return fp(sql)
