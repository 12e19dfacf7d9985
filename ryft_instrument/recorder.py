"""The application-thread side: turn one timed driver call into an event on the bounded queue.

This is the only code of ours that runs inside the user's query, so it does as little as possible: no I/O, no
locks, no JSON, no classification. It reads a few module globals, builds one tuple and appends it to a
``collections.deque`` (an atomic, lock-free append under the GIL). The exporter thread does everything else.

An event is a plain tuple, in this order (see ``EVENT_FIELDS``):
``(context, query, start, duration, failure, query_id, session, tags)`` where ``start`` is a
``time.perf_counter()`` reading (the exporter turns it into wall-clock time), ``duration`` is in seconds,
``failure`` is a ready ``failureInfo`` or None, ``query_id`` is the engine's own id or None, ``session`` is a
connection key for prepared statements or None, and ``tags`` are the block-scoped tags. The SQLAlchemy hook's hot
path queues a finished statement with none of those as the short form ``(context, query, start, end)``: a smaller
tuple and no subtraction on the application thread (``expand`` gives the full form).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from random import random
from typing import Any, Callable, Hashable, Optional, Union

from . import counters, logs, tagging
from .failure import describe_failure
from .tagging import current_tags

EVENT_FIELDS = ("context", "query", "start", "duration", "failure", "query_id", "session", "tags")
Event = tuple
Observer = Callable[[Event], None]

log = logs.log

buffer: deque[Event] = deque()

# Runtime switches, rebound by ``runtime.apply()``; read as module globals on the hot path.
enabled = False
# Enabled with nothing to decide per statement (no sampling, no minimum duration).
direct = False
queue_size = 10000
batch_size = 500
sample_rate = 1.0
min_duration = 0.0
max_query_length = 65536
observers: list[Observer] = []
# The queue is bounded in records (``queue_size``) and, approximately, in bytes: statements longer than
# ``big_query`` characters are counted against ``queue_bytes`` off the common path (under a lock, which only they
# take), so a burst of huge statements during an outage cannot blow memory.
SHORT = 1024
big_query = SHORT
queue_bytes = 16 * 1024 * 1024
big_bytes = 0
_big_lock = threading.Lock()


def _no_exporter_yet() -> None:
    """Stands in for ``wake`` until ``runtime.apply()`` binds the real one."""


# Called when the queue holds a full batch or the exporter has not started; bound by ``runtime.apply()``.
wake: Callable[[], None] = _no_exporter_yet
worker_running = False


# The short path: while fewer than ``room`` statements are queued, a finished statement of at most ``big_query``
# characters is appended as it is, and nothing more (the SQLAlchemy hook inlines this). ``room`` is 0 unless
# recording is ``direct`` with no observer and a worker runs to drain the queue; otherwise it is a batch, so that
# from a full batch on each statement goes the long way, which wakes the exporter (or drops, at a full queue).
room = 0


def refresh() -> None:
    """Recompute ``room``: call after changing ``direct``, ``worker_running``, ``observers`` or the sizes."""
    global room
    fast = direct and worker_running and not observers and big_query == SHORT
    room = min(batch_size, queue_size) if fast else 0


def add_observer(observer: Observer) -> None:
    """Have ``observer`` see every statement's event, recorded or not (the pytest profile)."""
    if observer not in observers:
        observers.append(observer)
    refresh()


def remove_observer(observer: Observer) -> None:
    if observer in observers:
        observers.remove(observer)
    refresh()


# True when recording is on but neither a token nor RYFT_OUTPUT says where records go.
no_destination = False

# Where a statement's block-scoped tags come from: the ``tags()`` ContextVar. The pytest plugin rebinds it (a test's
# tags must reach statements run on threads the test started, which a ContextVar does not follow) and sets
# ``tagging.scoped``, without which the short paths take no tags.
get_tags: Callable[[], tuple[str, ...]] = current_tags.get
_full = counters.hot("dropped_queue_full")
_sampled = counters.hot("dropped_sampled")
_too_fast = counters.hot("dropped_min_duration")
_errors = counters.hot("internal_errors")
_no_destination = counters.hot("dropped_no_destination")


def record(
    context: dict[str, Any],
    query: Union[str, bytes],
    start: float,
    duration: float,
    exc: Optional[BaseException] = None,
    query_id: Optional[str] = None,
    session: Optional[Hashable] = None,
) -> None:
    """Queue one statement. Never raises: a bug here must not reach the user's query."""
    try:
        if exc is None:
            if len(buffer) < room and len(query) <= big_query:
                buffer.append((context, query, start, duration, None, query_id, session,
                               get_tags() if tagging.scoped else ()))
                return
            failure = None
        else:
            failure = describe_failure(exc)
        size = len(query)
        if size > max_query_length:
            query = _truncate(query)
            size = len(query)
        event = (context, query, start, duration, failure, query_id, session, get_tags())
        if observers:
            for observer in observers:
                observer(event)
        if not enabled:
            if no_destination:
                next(_no_destination)
                if not _warned and not observers:
                    _warn_no_destination()
            return
        if failure is None:
            if duration < min_duration:
                next(_too_fast)
                return
            if sample_rate < 1.0 and random() >= sample_rate:
                next(_sampled)
                return
        if len(buffer) >= queue_size or (size > big_query and not _admit(size)):
            # The worker is draining already: nudging it on every drop would cost each statement a lock.
            if next(_full) % 1024 == 0 or not worker_running:
                wake()
            return
        buffer.append(event)
        if not worker_running or len(buffer) >= batch_size:
            wake()
    except Exception:
        next(_errors)
        log.debug("ryft_instrument: failed to record a statement", exc_info=True)


_warned = False


def expand(event: Event) -> Event:
    """The full form of an event, short or not."""
    if len(event) == 4:
        context, query, start, end = event
        return (context, query, start, end - start, None, None, None, ())
    return event


def _admit(size: int) -> bool:
    """Count a big statement against ``queue_bytes``; False when the queue holds too much text already."""
    global big_bytes
    with _big_lock:
        if big_bytes + size > queue_bytes:
            return False
        big_bytes += size
    return True


def released(events: list[Event]) -> None:
    """The exporter took ``events`` off the queue: give back what the big ones held of ``queue_bytes``."""
    global big_bytes
    if not big_bytes:
        return
    size = sum(len(event[1]) for event in events if len(event[1]) > big_query)
    if size:
        with _big_lock:
            big_bytes = max(0, big_bytes - size)


def clear() -> int:
    """Empty the queue (a forked child's inheritance, tests); returns how many statements it held."""
    global big_bytes, _big_lock
    held = sum(1 for event in buffer if type(event) is tuple)
    buffer.clear()
    _big_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    big_bytes = 0
    return held


def _warn_no_destination() -> None:
    global _warned
    _warned = True
    logs.notice(
        logging.WARNING,
        "no_destination",
        "ryft_instrument: statements are recorded but go nowhere: set RYFT_INGEST_TOKEN to send them to Ryft, "
        "or RYFT_OUTPUT=path.jsonl (or '-' for stderr) to keep them locally; they are counted in stats() as "
        "dropped_no_destination"
    )


def _truncate(query: Union[str, bytes]) -> Union[str, bytes]:
    marker = "/* ryft-instrument: truncated, %d characters in all */" % len(query)
    keep = max(0, max_query_length - len(marker) - 1)
    if isinstance(query, bytes):
        return query[:keep] + b" " + marker.encode()
    return query[:keep] + " " + marker
