"""Counters for ``stats()``: every record is accounted for, and nothing is dropped silently.

Counters bumped on application threads use ``itertools.count`` (``next()`` is one C call, atomic under the GIL, so
no lock on the hot path); counters bumped by the exporter add under a lock.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

COUNTER_NAMES = (
    "recorded", "sent", "retried", "spooled", "replayed", "invalid",
    "dropped_queue_full", "dropped_sampled", "dropped_min_duration", "dropped_no_destination",
    "dropped_rejected", "dropped_oversize", "dropped_token_refused", "dropped_shutdown", "dropped_fork",
    "dropped_send_failed", "dropped_before_send", "dropped_invalid", "dropped_redirect", "dropped_spool_full",
    "dropped_spool_error", "dropped_spool_expired", "dropped_output_failed", "spool_corrupt", "before_send_errors",
    "internal_errors",
)

_hot: dict[str, Any] = {}
# ``reset()`` cannot rewind a count that hot paths hold a reference to; it records where zero now is.
_zero: dict[str, int] = {}
_added: dict[str, int] = {}
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def hot(name: str) -> Any:
    """An atomic counter for application threads: ``next(hot(name))`` adds one."""
    found = _hot.get(name)
    if found is None:
        with _lock:
            found = _hot.setdefault(name, itertools.count(1))
    return found


def add(name: str, amount: int = 1) -> None:
    with _lock:
        _added[name] = _added.get(name, 0) + amount


def _hot_value(name: str) -> int:
    found = _hot.get(name)
    # ``repr`` is ``count(N)``: the one way to read a count without advancing it (``__reduce__`` is going away).
    return int(repr(found)[6:-1]) - 1 if found is not None else 0


def value(name: str) -> int:
    return _hot_value(name) - _zero.get(name, 0) + _added.get(name, 0)


def snapshot() -> dict[str, int]:
    extra = sorted((set(_hot) | set(_added)) - set(COUNTER_NAMES))
    return {name: value(name) for name in list(COUNTER_NAMES) + extra}


def reset() -> None:
    with _lock:
        _zero.update((name, _hot_value(name)) for name in _hot)
        _added.clear()
