"""Process-wide state: the active configuration, the exporter, and their lifecycle (start, fork, exit)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any, Optional

from . import config as config_module
from . import counters, logs, recorder
from .config import Config
from .exporter import Exporter

_config: Optional[Config] = None
_exporter: Optional[Exporter] = None
_pid = os.getpid()
_lock = threading.RLock()
_atexit_registered = False
_finalize_pid = 0
_exiting = False


def get_config() -> Config:
    """The active configuration, read from the environment the first time (``ConfigError`` if it is bad)."""
    global _config
    if _config is None:
        with _lock:
            if _config is None:
                apply(config_module.from_env())
    assert _config is not None
    return _config


def configure(**options: Any) -> Config:
    """Change the configuration (SPEC §5 names in lower case); unnamed options keep their current value."""
    with _lock:
        new = config_module.updated(_config or config_module.from_env(), **options)
        apply(new)
        return new


def apply(new: Config) -> None:
    """Make ``new`` the active configuration: rebinds the recorder's switches and replaces the exporter."""
    global _config, _exporter
    with _lock:
        old_exporter = _exporter
        _config = new
        _exporter = None
        if old_exporter is not None:
            _worker_running(False)
            old_exporter.stop(0.5)
        has_destination = bool(new.ingest_token or new.output)
        recorder.queue_size = new.queue_size
        recorder.batch_size = new.batch_size
        recorder.sample_rate = new.sample_rate
        recorder.min_duration = new.min_duration_ms / 1000.0
        recorder.max_query_length = new.max_query_length
        recorder.big_query = min(recorder.SHORT, new.max_query_length)
        recorder.no_destination = not new.disabled and not has_destination
        recorder.enabled = not new.disabled and has_destination
        recorder.direct = recorder.enabled and new.min_duration_ms == 0 and new.sample_rate >= 1.0
        recorder.wake = _wake
        _worker_running(False)


def _worker_running(running: bool) -> None:
    recorder.worker_running = running
    recorder.refresh()


def _wake() -> None:
    """Called by the recorder when a batch is full or no worker runs yet: start or nudge the exporter.

    The pid check lives here, on this rare path, not on every record (``os.getpid()`` costs ~0.2 µs): where fork
    hooks do not run (uWSGI without ``--py-call-uwsgi-fork-hooks``), a child notices at its first full batch."""
    global _exporter
    if os.getpid() != _pid:
        _after_fork_in_child()
    if _exiting:
        return  # after the exit flush: no new worker (Python 3.12 refuses threads at shutdown)
    exporter = _exporter
    if exporter is None:
        with _lock:
            if _exporter is None and _config is not None and recorder.enabled:
                _exporter = Exporter(_config)
                _install_exit_hooks()
            exporter = _exporter
        if exporter is None:
            return
    if not exporter.running:
        exporter.start()
        _worker_running(exporter.running)
    exporter.wake()


def _install_exit_hooks() -> None:
    """Flush at every way out of a process: ``atexit``; ``multiprocessing`` children (fork/forkserver), which leave
    through ``os._exit`` after running their finalizers; Celery prefork children, which leave after the
    ``worker_process_shutdown`` signal."""
    global _atexit_registered, _finalize_pid
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
    if "multiprocessing" in sys.modules and _finalize_pid != _pid:
        from multiprocessing import util

        util.Finalize(None, _at_exit, exitpriority=100)
        _finalize_pid = _pid
    if "celery" in sys.modules:
        try:
            from celery.signals import worker_process_shutdown

            worker_process_shutdown.connect(_on_celery_child_exit, weak=False, dispatch_uid="ryft_instrument.flush")
        except Exception:
            logs.log.debug("ryft_instrument: cannot connect to celery's worker_process_shutdown", exc_info=True)


def _on_celery_child_exit(*args: Any, **kwargs: Any) -> None:
    _at_exit()


def flush(timeout: float = 5.0) -> bool:
    """Wait until everything queued so far is delivered, at most ``timeout`` seconds; True if it all was."""
    exporter = _exporter
    if exporter is None:
        return not recorder.buffer
    return exporter.flush(timeout)


def shutdown(timeout: Optional[float] = None) -> bool:
    """Deliver what is queued (bounded by ``timeout``, default ``RYFT_SHUTDOWN_TIMEOUT``) and stop the worker.

    Recording continues afterwards if statements keep coming: a new worker starts lazily."""
    global _exporter
    with _lock:
        exporter = _exporter
        _exporter = None
        _worker_running(False)
    if exporter is None:
        return not recorder.buffer
    if timeout is None:
        timeout = exporter.config.shutdown_timeout
    return exporter.stop(timeout)


def _at_exit() -> None:
    """The bounded exit flush, on the exiting thread (``RYFT_SHUTDOWN_TIMEOUT``)."""
    global _exiting
    _exiting = True
    try:
        shutdown()
    except Exception:
        logs.log.debug("ryft_instrument: exit flush failed", exc_info=True)


def _after_fork_in_child() -> None:
    """A forked child owns no worker thread and must not re-send its parent's queued records (the parent sends
    them): they are discarded and counted. Locks another thread held at the fork would stay locked forever in the
    child: make new ones. The child's exporter (and spool identity) is made lazily by its first record."""
    global _exporter, _pid, _lock, _exiting
    _lock = threading.RLock()
    _pid = os.getpid()
    _exporter = None
    _exiting = False
    _worker_running(False)
    inherited = recorder.clear()
    if inherited:
        counters.add("dropped_fork", inherited)


os.register_at_fork(after_in_child=_after_fork_in_child)


def reset_for_tests() -> None:
    """Stop the exporter, empty the queue, zero the counters and forget the configuration."""
    global _config, _exiting
    shutdown(0.5)
    _exiting = False
    recorder.clear()
    logs.reset()
    recorder.observers.clear()
    counters.reset()
    with _lock:
        _config = None
        recorder.enabled = recorder.direct = False
        recorder.no_destination = False
        recorder.refresh()
