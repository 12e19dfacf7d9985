"""The ``ryft_instrument`` logger, with warnings rate-limited per reason (PRIOR_ART 20: no log floods)."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

log = logging.getLogger("ryft_instrument")
log.addHandler(logging.NullHandler())

WARN_INTERVAL = 60.0
_last: dict[str, float] = {}
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def _due(reason: str) -> bool:
    now = time.monotonic()
    with _lock:
        last = _last.get(reason)
        if last is not None and now - last < WARN_INTERVAL:
            return False
        _last[reason] = now
        return True


def limited(level: int, reason: str, message: str, *args: Any) -> None:
    """Log ``message`` at most once per ``WARN_INTERVAL`` seconds for each ``reason``."""
    if _due(reason):
        log.log(level, message, *args)


def reset() -> None:
    with _lock:
        _last.clear()


def notice(level: int, reason: str, message: str, *args: Any) -> None:
    """Like ``limited``, and also one line on stderr when the application has not configured logging, so a
    problem the user must fix (no destination, a refused token) is seen even by a script with no logging setup."""
    if not _due(reason):
        return
    log.log(level, message, *args)
    if not logging.getLogger().handlers and not any(
        not isinstance(h, logging.NullHandler) for h in log.handlers
    ):
        try:
            sys.stderr.write((message % args if args else message) + "\n")
        except Exception:
            pass
