"""Zero-code activation (SPEC §5 ``RYFT_INSTRUMENT``): what the ``.pth`` line and the PEP 829 ``.start`` entry call.

Interpreter start must stay cheap (PRIOR_ART 30–32), so this module imports nothing that is not already loaded
(``os``, ``sys``; not even ``typing``). ``start()`` only puts a small finder at the head of ``sys.meta_path``; the
finder lets every import through untouched except the target modules below, whose loader it wraps so that we hear
when the module has finished executing. Only then is the real work loaded: the configuration, the SQLAlchemy hooks,
wrapt for the DB-API proxies. A program that imports no database module pays for the finder and nothing else.

The configuration is read and checked when the first target is imported, not at start (``config`` pulls in
``dataclasses`` and ``inspect``, several milliseconds): a bad ``RYFT_*`` value is then one line on stderr (or the
``ryft_instrument`` logger when the application has configured logging), the hooks are removed, and the program
runs uninstrumented. ``RYFT_DISABLED`` removes them the same way.

``.pth`` files can run twice per start inside a venv (CPython #75723): ``start()`` is idempotent.

``watch(callback)`` puts in the same finder for ``pytest --ryft`` and its fixtures, whatever ``RYFT_INSTRUMENT``
says: ``callback(name, module)`` hears each target as it finishes importing, so a connection a test module, a
fixture or a conftest opens right after importing its driver is instrumented.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Callable, Optional

# The module whose import we wait for → the integration's name in RYFT_INSTRUMENT_DISABLED. SQLAlchemy is hooked
# once the top-level package has finished importing (it imports ``sqlalchemy.engine`` on the way), so that the
# integration sees a fully initialised package; listening on the Engine class then covers every Engine and
# AsyncEngine, ``create_engine`` bound by name earlier included.
TARGETS = {
    "sqlalchemy": "sqlalchemy",
    "sqlite3": "sqlite3",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "pymysql": "pymysql",
    "duckdb": "duckdb",
    "trino.dbapi": "trino",
}

# Module name → driver name of every module ``instrument_dbapi`` knows: the targets less SQLAlchemy.
DRIVERS = {module: name for module, name in TARGETS.items() if name != "sqlalchemy"}

# A target inside a package (trino.dbapi) can finish importing while its package is still initialising (trino's
# __init__ imports dbapi): its integration, which reads the package, then waits for the package to finish.
_WATCHED = frozenset(TARGETS) | {name.rpartition(".")[0] for name in TARGETS if "." in name}

# The same spellings of "off" as config._bool; the .pth line repeats them so it can decide without importing us.
_OFF = ("", "0", "false", "no", "off")

_finder: Optional[_Finder] = None
_zero_code = False
_watchers: list[Callable[[str, ModuleType], None]] = []


def _switched_on() -> bool:
    """True unless ``RYFT_INSTRUMENT`` is unset or off; a value that is neither on nor off is reported later."""
    return os.environ.get("RYFT_INSTRUMENT", "").strip().lower() not in _OFF


def start() -> None:
    """Install the post-import hooks and instrument the target modules already imported. Cheap and idempotent."""
    global _zero_code
    if _zero_code or not _switched_on():
        return
    _zero_code = True
    _install()
    for name in TARGETS:
        module = sys.modules.get(name)
        if module is not None and not _initializing(name.rpartition(".")[0]):
            _instrument(name, module)


def watch(callback: Callable[[str, ModuleType], None]) -> None:
    """Call ``callback(name, module)`` whenever a target module finishes importing, from now on."""
    if callback not in _watchers:
        _watchers.append(callback)
    _install()


def unwatch(callback: Callable[[str, ModuleType], None]) -> None:
    if callback in _watchers:
        _watchers.remove(callback)
    if not _watchers and not _zero_code:
        _uninstall()


def _install() -> None:
    global _finder
    if _finder is None:
        _finder = _Finder()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _uninstall() -> None:
    finder = _finder
    if finder is not None and finder in sys.meta_path:
        sys.meta_path.remove(finder)


def _initializing(package: str) -> bool:
    """Whether ``package`` is being imported right now (importlib marks its spec while it executes)."""
    spec = getattr(sys.modules.get(package), "__spec__", None) if package else None
    return bool(getattr(spec, "_initializing", False))


def _loaded(name: str, module: ModuleType) -> None:
    """``name`` has finished executing: instrument it if it is a target whose package is ready, and the targets
    inside it that were waiting for it."""
    if name in TARGETS and not _initializing(name.rpartition(".")[0]):
        _ready(name, module)
    prefix = name + "."
    for target in TARGETS:
        inner = sys.modules.get(target) if target.startswith(prefix) else None
        if inner is not None:
            _ready(target, inner)


def _ready(name: str, module: ModuleType) -> None:
    if _zero_code:
        _instrument(name, module)
    for callback in list(_watchers):
        try:
            callback(name, module)
        except Exception:
            pass  # a watcher's problem must not fail the application's import


def _stop() -> None:
    """Zero-code off: the configuration says no (``RYFT_DISABLED``, a bad value). The finder stays while
    ``watch`` callbacks need it."""
    global _zero_code
    _zero_code = False
    if not _watchers:
        _uninstall()


def _instrument(name: str, module: ModuleType) -> None:
    """``name`` has just been imported: switch its integration on unless configured off. Never raises into the
    application's import; a problem is one line on stderr (or the ``ryft_instrument`` logger) and the program
    runs uninstrumented."""
    try:
        import logging

        from . import logs, runtime
        from .config import ConfigError
    except Exception:
        return
    try:
        config = runtime.get_config()
    except ConfigError as exc:
        _stop()
        logs.notice(logging.WARNING, "bootstrap", "ryft-instrument: %s; instrumentation is off", exc)
        return
    except Exception as exc:
        _stop()
        logs.notice(logging.WARNING, "bootstrap", "ryft-instrument: cannot read the configuration (%s: %s); "
                    "instrumentation is off", type(exc).__name__, exc)
        return
    if config.disabled or not config.instrument:
        _stop()
        return
    integration = TARGETS[name]
    if integration in config.instrument_disabled or name in config.instrument_disabled:
        return
    try:
        import ryft_instrument

        if integration == "sqlalchemy":
            ryft_instrument.instrument()
        else:
            ryft_instrument.instrument_dbapi(module)
    except Exception as exc:
        logs.notice(logging.WARNING, "bootstrap:" + name, "ryft-instrument: could not instrument %s (%s: %s)",
                    name, type(exc).__name__, exc)


class _Finder:
    """A ``sys.meta_path`` finder that finds nothing itself: for a watched module it asks the finders behind it and
    hands back their spec with the loader wrapped."""

    def __init__(self) -> None:
        # Names being looked up right now: a finder behind us that calls importlib.util.find_spec() would
        # otherwise come back here for the same name, forever.
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _WATCHED or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = self._real_spec(fullname, path, target)
        except Exception:
            # Let the normal machinery look again and report the problem as it would without us.
            return None
        finally:
            self._busy.discard(fullname)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)
        return spec

    def _real_spec(self, fullname: str, path: Any, target: Any) -> Any:
        """What the finders behind us say, as the import system would have asked them."""
        finders = sys.meta_path
        for finder in finders[finders.index(self) + 1:]:
            find = getattr(finder, "find_spec", None)
            if find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    return spec
        return None


class _Loader:
    """The real loader, which tells us when the module has executed. It puts the real loader back on the module
    and its spec before executing it, so nothing after the import ever sees this wrapper."""

    def __init__(self, loader: Any, name: str) -> None:
        self.loader = loader
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        # runpy (``python -m``) and importlib.resources ask the spec's loader for more than exec_module.
        return getattr(self.loader, attribute)

    def create_module(self, spec: Any) -> Any:
        create = getattr(self.loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: ModuleType) -> None:
        loader = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = loader
        loader.exec_module(module)
        _loaded(self.name, module)
