"""The exporter: one background thread drains the queue into JSON-array batches and delivers them (SPEC §6).

Flow: ``recorder.buffer`` → ``RecordBuilder`` (classification, timestamps, ids) → JSON lines → the local sink
and/or the HTTP transport. Retrying, splitting and pausing live here, in one layer (PRIOR_ART 21).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from random import random
from typing import Any, Callable, Optional

from . import counters, logs, recorder
from .config import Config
from .record import RecordBuilder
from .schema import validate_record
from .sinks import JsonlSink
from .transport import Answer, HttpTransport

log = logs.log

MAX_BODY_BYTES = 1024 * 1024
BACKOFF_BASE = 0.2
BACKOFF_CAP = 30.0
BATCH_TIME_BUDGET = 120.0
AUTH_PAUSE = 300.0
_RETRY_STATUSES = frozenset((408, 429, 500, 502, 503, 504)) | frozenset(range(505, 600))
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class FlushMarker:
    """Placed in the queue by ``flush()``; the worker signals it once everything queued before it is handled."""

    __slots__ = ("done", "losses_before", "ok")

    def __init__(self, losses_before: int) -> None:
        self.done = threading.Event()
        self.ok = False
        self.losses_before = losses_before


_LOSS_COUNTERS = (
    "dropped_queue_full", "dropped_rejected", "dropped_oversize", "dropped_token_refused", "dropped_shutdown",
    "dropped_send_failed", "dropped_invalid", "dropped_redirect", "spooled",
)


def losses() -> int:
    """Records that were queued and will not reach a destination (spooled ones count until replayed)."""
    return sum(counters.value(name) for name in _LOSS_COUNTERS)


class Exporter:
    """Owns the worker thread and the destinations for one configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.builder = RecordBuilder(config.all_tags(), config.redact_literals)
        self.sink = JsonlSink(config.output) if config.output else None
        self._transport: Optional[HttpTransport] = None
        self._wake = threading.Event()
        self._stopping = False
        self._deadline: Optional[float] = None
        self._paused_until = 0.0
        self._thread: Optional[threading.Thread] = None
        self._drain_lock = threading.Lock()
        self._invalid_logged = False

    @property
    def sends_to_api(self) -> bool:
        return self.config.ingest_token is not None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (lazily, from the first record)."""
        if self._thread is not None or self._stopping:
            return
        thread = threading.Thread(target=self._run, name="ryft-instrument-exporter", daemon=True)
        self._thread = thread
        thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.config.flush_interval)
            self._wake.clear()
            try:
                self.drain()
            except Exception:
                counters.add("internal_errors")
                log.debug("ryft_instrument: exporter error", exc_info=True)
            if self._stopping and not recorder.buffer:
                return

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for everything queued so far to be handled; True if all was delivered."""
        marker = FlushMarker(losses())
        recorder.buffer.append(marker)  # type: ignore[arg-type]  # the worker tells markers apart
        if self.running:
            self._wake.set()
            return marker.done.wait(max(0.0, timeout)) and marker.ok
        self.drain(deadline=time.monotonic() + max(0.0, timeout))
        return marker.done.is_set() and marker.ok

    def stop(self, timeout: float) -> bool:
        """Deliver what is queued within ``timeout`` seconds and stop. Never starts a thread (safe at exit)."""
        deadline = time.monotonic() + max(0.0, timeout)
        self._deadline = deadline
        self._stopping = True
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            self._wake.set()
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self._give_up()
                return False
        self.drain(deadline=deadline)
        self._give_up()
        if self._transport is not None:
            self._transport.close()
        return not recorder.buffer

    def _give_up(self) -> None:
        """At the end of a shutdown, whatever is still queued is dropped and counted."""
        dropped = 0
        while recorder.buffer:
            try:
                item = recorder.buffer.popleft()
            except IndexError:
                break
            if isinstance(item, FlushMarker):
                item.done.set()
            else:
                dropped += 1
        if dropped:
            counters.add("dropped_shutdown", dropped)
            logs.limited(logging.WARNING, "shutdown", "ryft_instrument: %d records not delivered before exit", dropped)

    # -- draining --------------------------------------------------------------------------------------------

    def drain(self, deadline: Optional[float] = None) -> None:
        """Send everything queued, batch by batch. The worker calls it; so do flush/stop when no worker runs."""
        if deadline is not None:
            self._deadline = deadline
        with self._drain_lock:
            buffer = recorder.buffer
            size = self.config.batch_size
            while buffer:
                if self._past_deadline():
                    return
                batch: list[tuple] = []
                while buffer and len(batch) < size:
                    item = buffer.popleft()
                    if isinstance(item, FlushMarker):
                        self._export(batch)
                        batch = []
                        item.ok = losses() == item.losses_before
                        item.done.set()
                        continue
                    batch.append(item)
                self._export(batch)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _export(self, events: list[tuple]) -> None:
        if not events:
            return
        counters.add("recorded", len(events))
        self.builder.timestamps.resync()
        lines = self._serialise(events)
        if not lines:
            return
        if self.sink is not None:
            try:
                self.sink.write(lines)
            except Exception as exc:
                logs.limited(logging.WARNING, "sink", "ryft_instrument: cannot write %s: %s", self.sink.target, exc)
        if self.sends_to_api:
            for chunk in _chunks(lines, MAX_BODY_BYTES):
                self._deliver(chunk)
        elif self.sink is not None:
            counters.add("sent", len(lines))

    def _serialise(self, events: list[tuple]) -> list[str]:
        build = self.builder.build
        before_send = self.config.before_send
        lines = []
        for event in events:
            try:
                record = build(event)
                if before_send is not None:
                    edited = self._before_send(before_send, record)
                    if edited is None:
                        continue
                    record = edited
                    problems = validate_record(record)
                    if problems:
                        self._invalid(problems)
                        continue
                lines.append(_dumps(record))
            except Exception:
                counters.add("internal_errors")
                log.debug("ryft_instrument: cannot build a record", exc_info=True)
        return lines

    def _before_send(self, hook: Callable[[dict], Any], record: dict[str, Any]) -> Optional[dict[str, Any]]:
        try:
            result = hook(record)
        except Exception:
            counters.add("before_send_errors")
            counters.add("dropped_before_send")
            logs.limited(logging.WARNING, "before_send", "ryft_instrument: before_send raised; the record was dropped")
            return None
        if result is None:
            counters.add("dropped_before_send")
        return result

    def _invalid(self, problems: list[str]) -> None:
        counters.add("dropped_invalid")
        logs.limited(logging.ERROR, "invalid", "ryft_instrument: a record breaks the schema and was not sent: %s",
                     "; ".join(problems[:5]))

    # -- delivery --------------------------------------------------------------------------------------------

    def _transport_for_thread(self) -> HttpTransport:
        if self._transport is None:
            token = self.config.ingest_token or ""
            self._transport = HttpTransport(self.config.ingest_url, token, self.config.compression)
        return self._transport

    def _deliver(self, lines: list[str]) -> None:
        """Deliver one chunk, retrying, splitting or dropping as the answer requires."""
        transport = self._transport_for_thread()
        body = ("[" + ",".join(lines) + "]").encode("utf-8", "surrogatepass")
        started = time.monotonic()
        attempt = 0
        while True:
            if not self._wait_for_pause():
                self._lose("dropped_shutdown", len(lines), "shutdown during a pause")
                return
            answer = transport.post(body, timeout=self._time_left())
            if answer.ok:
                counters.add("sent", len(lines))
                log.debug("ryft_instrument: delivered %d records", len(lines))
                return
            if not self._retryable(answer):
                self._refused(answer, lines)
                return
            if answer.retry_after is not None:
                self._paused_until = max(self._paused_until, time.monotonic() + answer.retry_after)
            delay = random() * min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt))
            attempt += 1
            if time.monotonic() - started + delay > BATCH_TIME_BUDGET or self._past_deadline():
                self._lose("dropped_send_failed", len(lines), _describe(answer))
                return
            counters.add("retried", len(lines))
            logs.limited(logging.WARNING, "retry", "ryft_instrument: delivery failed (%s); retrying", _describe(answer))
            self._sleep(delay)

    @staticmethod
    def _retryable(answer: Answer) -> bool:
        return answer.status is None or answer.status in _RETRY_STATUSES

    def _refused(self, answer: Answer, lines: list[str]) -> None:
        status = answer.status
        if status in (401, 403):
            self._paused_until = time.monotonic() + AUTH_PAUSE
            self._lose("dropped_token_refused", len(lines), "")
            logs.notice(
                logging.ERROR, "token",
                "ryft_instrument: the Ingest API refused the token (HTTP %s): check RYFT_INGEST_TOKEN; sending "
                "paused for %d s", status, AUTH_PAUSE,
            )
        elif status in (400, 413) and len(lines) > 1:
            half = len(lines) // 2
            self._deliver(lines[:half])
            self._deliver(lines[half:])
        elif status == 413:
            self._lose("dropped_oversize", 1, "a single record is larger than the API accepts")
        elif status is not None and 300 <= status < 400:
            self._lose("dropped_redirect", len(lines), "HTTP %d redirect (not followed)" % status)
        else:
            self._lose("dropped_rejected", len(lines), "HTTP %s: %s" % (status, answer.body[:300]))

    def _lose(self, reason: str, count: int, why: str) -> None:
        counters.add(reason, count)
        if why:
            logs.limited(logging.WARNING, reason, "ryft_instrument: %d records dropped (%s): %s", count, reason, why)

    def _time_left(self) -> Optional[float]:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _sleep(self, seconds: float) -> None:
        """Back off; a flush or shutdown cuts the wait short."""
        left = self._time_left()
        if left is not None:
            seconds = min(seconds, max(0.0, left))
        if threading.current_thread() is self._thread:
            self._wake.wait(seconds)
            self._wake.clear()
        else:
            time.sleep(seconds)

    def _wait_for_pause(self) -> bool:
        """Honour ``Retry-After`` and the token pause for all sending; False if the deadline comes first."""
        while True:
            wait = self._paused_until - time.monotonic()
            if wait <= 0:
                return True
            left = self._time_left()
            if left is not None and left <= wait:
                return False
            if threading.current_thread() is self._thread:
                time.sleep(min(wait, 0.5))
            else:
                time.sleep(min(wait, 0.05))


def _chunks(lines: list[str], limit: int) -> list[list[str]]:
    """Split serialised records into bodies of at most ``limit`` bytes (a single larger record stands alone)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 2
    for line in lines:
        cost = len(line.encode("utf-8", "surrogatepass")) + 1 if not line.isascii() else len(line) + 1
        if current and size + cost > limit:
            chunks.append(current)
            current, size = [], 2
        current.append(line)
        size += cost
    if current:
        chunks.append(current)
    return chunks


def _describe(answer: Answer) -> str:
    return "HTTP %d" % answer.status if answer.status is not None else answer.error or "no answer"
