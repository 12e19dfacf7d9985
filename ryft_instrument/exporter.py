"""The exporter: one background thread drains the queue into JSON-array batches and delivers them (SPEC §6).

Flow: ``recorder.buffer`` → ``RecordBuilder`` (classification, timestamps, ids) → JSON lines → the local sink
and/or the HTTP transport, and the disk spool (``spool.py``) for what cannot be delivered now. Retrying, splitting
and pausing live here, in one layer (PRIOR_ART 21):

- connection errors, timeouts, 408, 429 and 5xx: full-jitter exponential backoff, shared by every batch (one
  failing endpoint is one backoff, not one per batch); ``Retry-After`` pauses all sending, replays included;
- a batch waits at most ``BATCH_TIME_BUDGET`` seconds; with a spool it goes to disk as soon as the endpoint has
  failed ``SPOOL_AFTER_FAILURES`` times in a row or the queue behind it fills up, so an outage costs disk, not
  memory and not records, and the replay of the oldest spooled file is the probe that notices recovery;
- 413 and 400 split the batch in halves, recursively: the records the API refuses are isolated and the rest is
  delivered; 401/403 pause sending for ``AUTH_PAUSE`` seconds after one error that names RYFT_INGEST_TOKEN;
- at exit everything is bounded by the shutdown deadline: socket timeouts never exceed the time left, and the last
  part of the time is kept to write what is left to the spool.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from random import random
from typing import Any, Callable, Optional

from . import counters, logs, recorder
from .config import Config
from .record import RecordBuilder
from .schema import validate_record
from .sinks import JsonlSink
from .spool import Claim, Spool
from .transport import Answer, HttpTransport

log = logs.log

MAX_BODY_BYTES = 1024 * 1024
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
BATCH_TIME_BUDGET = 60.0
RETRY_AFTER_CAP = 600.0
AUTH_PAUSE = 300.0
# With a spool, after this many failed attempts in a row live batches go straight to disk (memory stays flat and
# a killed process loses little); replaying the oldest file is then the probe that notices recovery.
SPOOL_AFTER_FAILURES = 3
# A healthy worker looks for spool files (its own after an outage, or left by a process that died) this often.
REPLAY_INTERVAL = 5.0
# Replaying yields to the live queue after this long.
REPLAY_SLICE = 0.5
_RETRY_STATUSES = frozenset((408, 429, 500, 502, 503, 504)) | frozenset(range(505, 600))
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

# What happens to lines that cannot be delivered now: (lines, reason) with reason one of the _GIVE_UP keys.
GiveUp = Callable[[list[str], str], None]
_GIVE_UP = {"send_failed": "dropped_send_failed", "token_refused": "dropped_token_refused",
            "shutdown": "dropped_shutdown"}


# The worker imports ``requests`` (and what it needs) on its first delivery. A fork from another thread in the
# middle of that import would hand the child half-initialised modules in ``sys.modules``, and the child could never
# send (seen with multiprocessing and pre-fork servers). Forks wait for the worker's warm-up, which holds this lock.
_warming = threading.Lock()


def _before_fork() -> None:
    _warming.acquire()


def _after_fork_in_parent() -> None:
    _warming.release()


def _after_fork_in_child() -> None:
    global _warming
    _warming = threading.Lock()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


class FlushMarker:
    """Placed in the queue by ``flush()``; the worker signals it once everything queued before it is handled."""

    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class Exporter:
    """Owns the worker thread, the destinations and the delivery state for one configuration in one process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.builder = RecordBuilder(config.all_tags(), config.redact_literals)
        self.sink = JsonlSink(config.output) if config.output else None
        self.spool = Spool(config.spool_dir) if config.spool_dir and config.ingest_token else None
        self._transports: dict[int, HttpTransport] = {}
        self._wake = threading.Event()
        # Set by ``flush``: the worker's next drain takes everything, a partial batch and the flush marker included.
        self._flushing = False
        self._stopping = False
        self._deadline: Optional[float] = None
        self._reserve = 0.0
        self._paused_until = 0.0
        self._auth_until = 0.0
        self._failures = 0
        self._next_replay = 0.0
        self._losses = 0
        self._losses_flushed = 0
        self._in_flight = 0
        self._abandoned = False
        self._thread: Optional[threading.Thread] = None
        self._drain_lock = threading.Lock()

    def __repr__(self) -> str:
        return "Exporter(url=%r, spool=%r)" % (self.config.ingest_url, self.config.spool_dir)

    @property
    def sends_to_api(self) -> bool:
        return self.config.ingest_token is not None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (lazily, from the first record). Never at shutdown: records then wait for the
        exit drain, which runs on the exiting thread."""
        if self._thread is not None or self._stopping:
            return
        thread = threading.Thread(target=self._run, name="ryft-instrument-exporter", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown" (3.12)
            return
        self._thread = thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        if not self._wake.is_set():  # a plain read: with a full queue, every record calls this
            self._wake.set()

    def _run(self) -> None:
        if self.sends_to_api:
            with _warming:
                try:
                    self._transport()
                except Exception:
                    counters.add("internal_errors")
                    log.debug("ryft_instrument: cannot set up the HTTP transport", exc_info=True)
        interval = self.config.flush_interval
        due = time.monotonic() + interval
        while not (self._stopping and (not recorder.buffer or self._past_deadline())):
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            # Woken for a full batch, send full batches only: the rest waits for the next one or the interval,
            # rather than going out in requests of a few records each while the application keeps adding.
            whole = self._flushing or self._stopping or time.monotonic() >= due
            self._flushing = False
            if whole:
                due = time.monotonic() + interval
            try:
                self.drain(whole)
                self._replay()
            except Exception:
                counters.add("internal_errors")
                log.debug("ryft_instrument: exporter error", exc_info=True)

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for everything queued so far to be handled; True if all was delivered."""
        marker = FlushMarker()
        recorder.buffer.append(marker)  # type: ignore[arg-type]  # the worker tells markers apart
        if self.running:
            self._flushing = True
            self._wake.set()
            return marker.done.wait(max(0.0, timeout)) and marker.ok
        if self._deadline is None:
            self._deadline = time.monotonic() + max(0.0, timeout)
            try:
                self.drain()
            finally:
                self._deadline = None
        else:
            self.drain()
        return marker.done.is_set() and marker.ok

    def stop(self, timeout: float) -> bool:
        """Deliver what is queued within ``timeout`` seconds and stop; True if everything was delivered.

        Safe at interpreter exit: never starts a thread, and never waits past the deadline. The last quarter of
        the time (at most 0.5 s) is kept to write whatever is still queued to the spool."""
        timeout = max(0.0, timeout)
        losses = self._losses
        dropped = counters.value("dropped_shutdown")
        self._reserve = min(0.5, timeout / 4) if self.spool is not None else 0.0
        self._deadline = time.monotonic() + timeout
        self._stopping = True
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            self._wake.set()
            thread.join(max(0.0, self._deadline - self._reserve - time.monotonic()))
        if thread is None or not thread.is_alive():
            self.drain()
            self._replay(closing=True)
        self._give_up()
        lost = counters.value("dropped_shutdown") - dropped
        if lost:  # in the last requests (cut short by the deadline) or still queued
            logs.limited(logging.WARNING, "shutdown", "ryft_instrument: %d records not delivered before exit "
                         "(dropped_shutdown in stats())", lost)
        for transport in list(self._transports.values()):
            transport.close()
        return not recorder.buffer and self._losses == losses

    def cancel(self) -> None:
        """Stop trying now (``ryft-instrument send`` on Ctrl-C): backoffs and retries end, and the lines being
        delivered go to their ``give_up`` as "shutdown". A request already running ends by its own timeouts."""
        self._deadline = time.monotonic()
        self._wake.set()

    def _give_up(self) -> None:
        """At the end of a shutdown, whatever is still queued goes to the spool, or is dropped and counted."""
        events: list[tuple] = []
        while True:
            try:
                item = recorder.buffer.popleft()
            except IndexError:
                break
            if isinstance(item, FlushMarker):
                item.done.set()
            else:
                events.append(item)
        recorder.released(events)
        if self.running and self._in_flight:
            # The worker is stuck in a request the deadline cut short: its batch dies with the process.
            self._abandoned = True
            self._lose("dropped_shutdown", self._in_flight, "")
        if events:
            counters.add("recorded", len(events))
            self._undeliverable(self._serialise(events), "shutdown")

    # -- draining --------------------------------------------------------------------------------------------

    def drain(self, whole: bool = True) -> None:
        """Send everything queued, batch by batch (``whole=False``: full batches only). The worker calls it; so do
        flush/stop when no worker runs."""
        with self._drain_lock:
            buffer = recorder.buffer
            size = self.config.batch_size
            while buffer and (whole or len(buffer) >= size):
                if self._past_deadline():
                    return
                batch: list[tuple] = []
                while buffer and len(batch) < size:
                    item = buffer.popleft()
                    if isinstance(item, FlushMarker):
                        self._export(batch)
                        batch = []
                        # True when nothing was lost since the previous flush (spooled counts as not delivered)
                        item.ok = self._losses == self._losses_flushed
                        self._losses_flushed = self._losses
                        item.done.set()
                        continue
                    batch.append(item)
                self._export(batch)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline - self._reserve

    def _export(self, events: list[tuple]) -> None:
        if not events:
            return
        recorder.released(events)
        counters.add("recorded", len(events))
        self.builder.timestamps.resync()
        lines = self._serialise(events)
        if not lines:
            return
        written = self.sink is not None
        if self.sink is not None:
            try:
                self.sink.write(lines)
            except Exception as exc:
                written = False
                logs.notice(logging.WARNING, "sink", "ryft_instrument: cannot write %s (RYFT_OUTPUT): %s",
                            self.sink.target, exc)
        if self.sends_to_api:
            self.deliver_serialised(lines, self._undeliverable)
        elif written:
            counters.add("sent", len(lines))
        else:
            self._lose("dropped_output_failed", len(lines), "")

    def deliver_serialised(self, lines: list[str], give_up: GiveUp) -> None:
        """Deliver records already serialised as JSON text, on the calling thread: bodies of at most 1 MiB, retried,
        split on 400/413; what cannot go now is handed to ``give_up(lines, reason)``. ``ryft-instrument send``
        ships files through this, so a file gets the same delivery as live records."""
        left = len(lines)
        for chunk in _chunks(lines, MAX_BODY_BYTES):
            # This chunk and the ones after it: what a stop that gives up on a stuck request must count.
            self._in_flight = left
            try:
                self._deliver(chunk, give_up, replay=False)
            finally:
                self._in_flight = 0
            left -= len(chunk)

    def _serialise(self, events: list[tuple]) -> list[str]:
        before_send = self.config.before_send
        if before_send is None:
            return self._lines(events)
        build = self.builder.build
        lines = []
        for event in events:
            try:
                edited = self._before_send(before_send, build(event))
                if edited is None:
                    continue
                problems = validate_record(edited)
                if problems:
                    self._invalid(problems)
                    continue
                lines.append(_dumps(edited))
            except Exception:
                self._build_failed()
        return lines

    def _lines(self, events: list[tuple]) -> list[str]:
        """The common case, no ``before_send``: JSON text straight from the events (``RecordBuilder.lines``)."""
        return self.builder.lines(events, self._build_failed)

    @staticmethod
    def _build_failed() -> None:
        counters.add("internal_errors")
        log.debug("ryft_instrument: cannot build a record", exc_info=True)

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

    def _transport(self) -> HttpTransport:
        """One transport per sending thread (the worker, or the thread that flushes or exits)."""
        key = threading.get_ident()
        transport = self._transports.get(key)
        if transport is None:
            transport = HttpTransport(self.config.ingest_url, self.config.ingest_token or "", self.config.compression)
            self._transports[key] = transport
        return transport

    def _deliver(self, lines: list[str], give_up: GiveUp, replay: bool) -> None:
        """Deliver one body's worth of lines: send, retry, split, or hand what cannot go now to ``give_up``.

        A replay (lines read back from the spool) does not wait out a backoff: it hands the lines back at once."""
        body: Optional[bytes] = None
        started = time.monotonic()
        attempts = 0
        while True:
            reason = self._blocked(started, patient=not replay)
            if self._cut_off():
                return
            if reason is not None:
                log.debug("ryft_instrument: %d records not sent now (%s)", len(lines), reason)
                give_up(lines, reason)
                return
            if body is None:
                body = ("[" + ",".join(lines) + "]").encode("utf-8", "surrogatepass")
            if attempts:
                counters.add("retried", len(lines))
            attempts += 1
            answer = self._transport().post(body, timeout=self._time_left())
            if self._cut_off():
                return
            if answer.ok:
                self._delivered(len(lines), replay)
                return
            if answer.status is not None and answer.status not in _RETRY_STATUSES:
                self._refused(answer, lines, give_up, replay)
                return
            self._failed(answer, len(lines))

    def _cut_off(self) -> bool:
        """True on the worker once ``stop()`` gave up on it and counted its batch: it must not count it again."""
        return self._abandoned and threading.current_thread() is self._thread

    def _delivered(self, count: int, replay: bool) -> None:
        counters.add("sent", count)
        if replay:
            counters.add("replayed", count)
        if self._failures:
            log.info("ryft_instrument: the Ingest API answers again after %d failed attempts", self._failures)
            self._failures = 0
            self._next_replay = 0.0  # recovery: what the outage spooled goes now
        log.debug("ryft_instrument: delivered %d records%s", count, " from the spool" if replay else "")

    def _failed(self, answer: Answer, count: int) -> None:
        """A retryable failure: back off (full jitter, capped), or as long as ``Retry-After`` says, for all sending."""
        self._failures += 1
        now = time.monotonic()
        delay = random() * min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(self._failures - 1, 30))
        if answer.retry_after is not None:
            delay = max(delay, min(answer.retry_after, RETRY_AFTER_CAP))
        self._paused_until = max(self._paused_until, now + delay)
        logs.limited(logging.WARNING, "retry", "ryft_instrument: delivery failed (%s); retrying with backoff",
                     _describe(answer))
        log.debug("ryft_instrument: %d records failed (%s); next attempt in %.2f s", count, _describe(answer), delay)

    def _blocked(self, started: float, patient: bool) -> Optional[str]:
        """None when a request may go now; else why these lines must wait elsewhere. Sleeps through short
        pauses when ``patient``; every wait ends early at the deadline."""
        while True:
            now = time.monotonic()
            if self._auth_until > now:
                return "token_refused"
            if self._past_deadline():
                return "shutdown"
            wait = self._paused_until - now
            if wait <= 0:
                return None
            if not patient:
                return "send_failed"
            if self._deadline is not None and now + wait >= self._deadline - self._reserve:
                return "shutdown"
            if now - started + wait > BATCH_TIME_BUDGET:
                return "send_failed"
            if self.spool is not None and (self._failures >= SPOOL_AFTER_FAILURES
                                           or len(recorder.buffer) >= recorder.queue_size // 2):
                return "send_failed"  # an outage: the spool holds this batch and replays probe for recovery
            self._sleep(wait)

    def _refused(self, answer: Answer, lines: list[str], give_up: GiveUp, replay: bool) -> None:
        """An answer that retrying would not change."""
        status = answer.status
        if status in (401, 403):
            self._auth_until = time.monotonic() + AUTH_PAUSE
            logs.notice(
                logging.ERROR, "token",
                "ryft_instrument: the Ingest API refused the token (HTTP %s): check RYFT_INGEST_TOKEN; sending "
                "paused for %d s", status, AUTH_PAUSE,
            )
            give_up(lines, "token_refused")
        elif status in (400, 413) and len(lines) > 1:
            half = len(lines) // 2
            log.debug("ryft_instrument: HTTP %d for %d records; splitting", status, len(lines))
            self._deliver(lines[:half], give_up, replay)
            self._deliver(lines[half:], give_up, replay)
        elif status == 413:
            self._lose("dropped_oversize", 1, "a single record is larger than the API accepts (HTTP 413)", replay)
        elif status is not None and 300 <= status < 400:
            self._lose("dropped_redirect", len(lines), "HTTP %d redirect (not followed)" % status, replay)
        else:
            self._lose("dropped_rejected", len(lines), "HTTP %s: %s" % (status, answer.body[:300]), replay)

    def _undeliverable(self, lines: list[str], reason: str) -> None:
        """Lines the live queue cannot deliver now: to the spool when there is one, else dropped and counted."""
        if not lines:
            return
        if self.spool is not None:
            lost_to = self.spool.write(lines)
            if lost_to is None:
                counters.add("spooled", len(lines))
                self._losses += len(lines)
                log.debug("ryft_instrument: %d records spooled (%s)", len(lines), reason)
            else:
                self._lose(lost_to, len(lines), "")
            return
        self._lose(_GIVE_UP[reason], len(lines), "" if reason != "send_failed" else "the Ingest API did not accept "
                   "them in %d s" % BATCH_TIME_BUDGET)

    def _lose(self, counter: str, count: int, why: str, replay: bool = False) -> None:
        counters.add(counter, count)
        if not replay:
            self._losses += count
        log.debug("ryft_instrument: %d records dropped (%s)", count, counter)
        if why:
            logs.limited(logging.WARNING, counter, "ryft_instrument: %d records dropped (%s): %s", count, counter, why)

    def _time_left(self) -> Optional[float]:
        """Seconds a request may take: up to the deadline's sending part; None (the transport's own bound) else."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - self._reserve - time.monotonic())

    def _sleep(self, seconds: float) -> None:
        """Back off; a flush, a full batch or shutdown wakes the worker early (callers re-check and sleep again)."""
        if threading.current_thread() is self._thread:
            self._wake.wait(min(seconds, 0.5))
            self._wake.clear()
        else:
            time.sleep(min(seconds, 0.05))

    # -- the spool -------------------------------------------------------------------------------------------

    def _replay(self, closing: bool = False) -> None:
        """Send spooled files while the endpoint answers, oldest first; the live queue gets its turn every
        ``REPLAY_SLICE`` seconds or whenever a batch is waiting. ``closing``: from ``stop()``, once the live queue
        went out without a failure, for the time left before the deadline, so that a process too short-lived for
        the worker's first round (a cron job, a CLI) still replays what earlier ones spooled."""
        spool = self.spool
        if spool is None or (self._stopping and not closing):
            return
        if closing and (recorder.buffer or self._failures or self._deadline is None or self._past_deadline()):
            return
        now = time.monotonic()
        if now < max(self._next_replay, self._paused_until, self._auth_until):
            return
        until = self._deadline - self._reserve if closing and self._deadline is not None else now + REPLAY_SLICE
        while (time.monotonic() < until and len(recorder.buffer) < self.config.batch_size
               and (closing or not self._stopping)):
            claim = spool.claim()
            if claim is None:
                self._next_replay = time.monotonic() + REPLAY_INTERVAL
                return
            if not self._replay_file(spool, claim):
                return
        self._wake.set()  # more to replay: come back after the live queue

    def _replay_file(self, spool: Spool, claim: Claim) -> bool:
        """Deliver one spooled file; False when the endpoint stopped answering (the rest waits on disk)."""
        left: list[str] = []

        def keep(lines: list[str], reason: str) -> None:
            left.extend(lines)

        for chunk in _chunks(claim.lines, MAX_BODY_BYTES):
            if left:
                left.extend(chunk)
            else:
                self._deliver(chunk, keep, replay=True)
        if len(left) == len(claim.lines):
            claim.release()
            return False
        lost_to = spool.write(left, created=claim.created) if left else None
        if lost_to is not None:
            counters.add(lost_to, len(left))
        claim.done()
        return not left


def _chunks(lines: list[str], limit: int) -> list[list[str]]:
    """Split serialised records into bodies of at most ``limit`` bytes (a single larger record stands alone)."""
    if (sum(map(len, lines)) + len(lines)) * 4 + 2 <= limit:
        return [lines] if lines else []  # fits even if every character took UTF-8's 4 bytes: no need to count
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
