"""``ryft-instrument send FILE.jsonl [--dry-run]``: ship records captured offline (``RYFT_OUTPUT``) to Ryft.

The file is streamed: each line is parsed and checked with the same strict validator the library runs on its own
records, a bad line is reported (``FILE:LINE: reasons``) and never sent, and good lines are delivered in batches by
the library's exporter (its batching into ≤ 1 MiB bodies, retries with backoff, ``Retry-After``, 400/413 splitting,
token refusal). Memory stays flat whatever the file's size: at most one batch is held at a time.

When sending stops (the endpoint kept failing, the token was refused, Ctrl-C), the records not delivered and the
lines not yet read are written to ``FILE.unsent-<time>.jsonl`` beside the file: sending that file later delivers
exactly what is missing, where sending the whole file again would deliver the rest twice.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import IO, Optional

from . import counters, logs
from .config import Config, from_env
from .exporter import Exporter
from .report import parse_line
from .schema import validate_record

PROG = "ryft-instrument send"
# Bad lines listed one by one before the rest are only counted.
MAX_LISTED = 50
PROGRESS_INTERVAL = 0.25
# Batches validated ahead of the one being sent.
_AHEAD = 2
# Why the exporter could not deliver lines now; sending more batches would meet the same fate.
_STOPS = {
    "token_refused": "the Ingest API refused the token: check RYFT_INGEST_TOKEN",
    "send_failed": "the endpoint could not be reached or kept failing; nothing more was sent",
    "shutdown": "interrupted",
}
# Records the API refused one by one (the exporter isolates them and delivers the rest).
_REFUSED = {
    "dropped_rejected": "rejected by the API",
    "dropped_oversize": "larger than the API accepts",
    "dropped_redirect": "answered with a redirect (not followed): check RYFT_INGEST_URL",
}


@dataclass
class Kept:
    """The file that holds what was not delivered: records not sent, lines not read, or why it is missing."""

    path: str
    not_sent: int = 0
    not_read: int = 0
    error: str = ""


@dataclass
class Tally:
    """What happened to the file's lines."""

    lines: int = 0
    valid: int = 0
    invalid: int = 0
    stopped_at: Optional[int] = None
    stopped_why: str = ""
    unsent: Optional[Kept] = None


class _Sender:
    """Hands batches of serialised records to the library's exporter on a thread of its own, so that reading and
    validating the next batch overlaps the network round trip of the last one. At most ``_AHEAD`` batches wait."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.exporter = Exporter(replace(config, output=None, spool_dir=None, before_send=None))
        self.batch: list[str] = []
        self.stopped: Optional[str] = None
        self.cancelled = False
        self.unsent: list[str] = []  # what could not be delivered now: bounded by the batches in flight
        self.current: Optional[list[str]] = None  # the batch being delivered
        self.maybe_twice = 0  # records kept in ``unsent`` while a request carrying them had not ended
        self._queue: queue.Queue[Optional[list[str]]] = queue.Queue(maxsize=_AHEAD)
        self._thread = threading.Thread(target=self._run, name="ryft-instrument-send", daemon=True)
        self._thread.start()

    def add(self, line: str) -> Optional[str]:
        """Queue one record; returns why sending must stop, if it must."""
        self.batch.append(line)
        if len(self.batch) >= self.config.batch_size:
            self._queue.put(self.batch)
            self.batch = []
        return self.why()

    def why(self) -> Optional[str]:
        return None if self.stopped is None else _STOPS.get(self.stopped, self.stopped.replace("_", " "))

    def finish(self, timeout: Optional[float] = None) -> Optional[str]:
        """Send what is left and wait for the thread (at most ``timeout`` seconds after an interruption)."""
        if self.batch:
            self._queue.put(self.batch)
            self.batch = []
        self._queue.put(None)
        self._thread.join(timeout)
        return self.why()

    def cancel(self, timeout: float) -> None:
        """Ctrl-C: retries and backoffs end now, and what was not delivered is collected. A request still running
        after ``timeout`` seconds (a hanging endpoint) is left to die with the process; its records are kept too,
        though they may have arrived (``maybe_twice``)."""
        self.cancelled = True
        self.exporter.cancel()
        self._keep(self.batch, "")
        self.batch = []
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                break
            if batch is not None:
                self._keep(batch, "")
        current = self.current
        if self._thread.is_alive() and current is not None:
            self._keep(current, "")
            self.maybe_twice = len(current)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self.stopped is None and not self.cancelled:
                # The exporter's own delivery of serialised records: chunking, retries, Retry-After, splitting.
                self.current = batch
                self.exporter.deliver_serialised(batch, self._keep)
                self.current = None
            else:
                self._keep(batch, "")
            if self.cancelled and self._queue.empty():
                return  # cancel() may have found the queue full and put no end marker

    def _keep(self, lines: list[str], reason: str) -> None:
        """Lines not delivered (``reason``: why the exporter gave them up, which stops the sending)."""
        self.unsent.extend(lines)
        if reason:
            self.stopped = self.stopped or reason

    @staticmethod
    def delivered() -> int:
        return counters.value("sent")


class _Progress:
    """One self-rewriting line on stderr: records read and sent, and the rate."""

    def __init__(self, mode: str, total_bytes: Optional[int]) -> None:
        self.enabled = mode == "always" or (mode == "auto" and sys.stderr.isatty())
        self.total = total_bytes
        self.started = time.monotonic()
        self._next = self.started + PROGRESS_INTERVAL
        self._shown = False

    def update(self, tally: Tally, position: int, sent: Optional[int], done: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now < self._next and not done):
            return
        self._next = now + PROGRESS_INTERVAL
        done_count = tally.valid if sent is None else sent
        rate = done_count / max(now - self.started, 1e-6)
        share = " %3d%%" % (100 * position // self.total) if self.total else ""
        verb = "valid" if sent is None else "sent"
        text = "%s %s lines read, %s %s, %s bad, %s records/s" % (
            share, _n(tally.lines), _n(done_count), verb, _n(tally.invalid), _n(int(rate)))
        sys.stderr.write("\r\033[K" + text.strip() + ("\n" if done else ""))
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        """Wipe the progress line so that a message can be printed on a clean line."""
        if self.enabled and self._shown:
            sys.stderr.write("\r\033[K")
            self._shown = False


def _n(number: int) -> str:
    return format(number, ",")


def _open(path: str) -> tuple[IO[bytes], Optional[int]]:
    if path == "-":
        return sys.stdin.buffer, None
    handle = open(path, "rb")
    size = os.fstat(handle.fileno()).st_size
    return handle, size or None


def send_file(path: str, *, dry_run: bool = False, progress: str = "auto") -> int:
    """Validate ``path`` line by line and deliver the valid records; the command's exit status."""
    config = from_env()
    if not dry_run and not config.ingest_token:
        print("%s: error: RYFT_INGEST_TOKEN is not set (the ingest token); use --dry-run to only validate the file"
              % PROG, file=sys.stderr)
        return 2
    if not dry_run and config.disabled:
        print("%s: error: RYFT_DISABLED is set; nothing is sent" % PROG, file=sys.stderr)
        return 2
    stream, size = _open(path)
    name = "<stdin>" if path == "-" else path
    meter = _Progress(progress, size)
    handler = _log_to_stderr(meter)
    sender = None if dry_run else _Sender(config)
    tally = Tally()
    position = 0
    try:
        try:
            for number, raw in enumerate(stream, 1):
                tally.lines = number
                position += len(raw)
                problems = _problems(raw)
                if problems is None:
                    continue
                if problems:
                    tally.invalid += 1
                    if tally.invalid <= MAX_LISTED:
                        meter.clear()
                        print("%s:%d: %s" % (name, number, "; ".join(problems[:6])), file=sys.stderr)
                    continue
                tally.valid += 1
                if sender is not None:
                    why = sender.add(raw.decode("utf-8").strip())
                    if why:
                        sender.finish()
                        tally.stopped_at, tally.stopped_why = number, why
                        break
                meter.update(tally, position, None if sender is None else sender.delivered())
            else:
                if sender is not None:
                    why = sender.finish()
                    if why:
                        tally.stopped_at, tally.stopped_why = tally.lines, why
        except KeyboardInterrupt:
            tally.stopped_at, tally.stopped_why = tally.lines, "interrupted"
            if sender is not None:
                sender.cancel(timeout=2.0)
        if sender is not None and (sender.unsent or tally.stopped_at is not None):
            # Standard input is not read on: it may be a pipe that never ends.
            tally.unsent = _keep_unsent(path, sender.unsent, None if stream is sys.stdin.buffer else stream)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        logs.log.removeHandler(handler)
    meter.update(tally, position, None if sender is None else sender.delivered(), done=True)
    return _summary(name, tally, sender, config, meter)


def _keep_unsent(path: str, lines: list[str], rest: Optional[IO[bytes]]) -> Kept:
    """Write ``lines`` and what ``rest`` still holds (the file's unread lines) to a new private file beside
    ``path`` (in the working directory for standard input)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stem = "stdin" if path == "-" else path[:-len(".jsonl")] if path.endswith(".jsonl") else path
    kept = Kept("%s.unsent-%s.jsonl" % (stem, stamp))
    try:
        fd = os.open(kept.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as out:
            for line in lines:
                out.write(line.encode("utf-8") + b"\n")
                kept.not_sent += 1
            for raw in rest or ():
                if raw.strip():
                    out.write(raw if raw.endswith(b"\n") else raw + b"\n")
                    kept.not_read += 1
        if not kept.not_sent + kept.not_read:
            os.unlink(kept.path)
    except OSError as exc:
        kept.error = exc.strerror or str(exc)
    return kept


def _problems(raw: bytes) -> Optional[list[str]]:
    """None for a blank line, else the reasons the line is not a valid record (empty when it is one)."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ["not UTF-8 text (byte %d: %s)" % (exc.start, exc.reason)]
    record, reason = parse_line(text)
    return [reason] if reason else validate_record(record)


def _summary(name: str, tally: Tally, sender: Optional[_Sender], config: Config, meter: _Progress) -> int:
    elapsed = time.monotonic() - meter.started
    if tally.invalid > MAX_LISTED:
        print("%s: … and %s more bad lines" % (name, _n(tally.invalid - MAX_LISTED)), file=sys.stderr)
    print("%s: %s records read: %s valid, %s invalid%s" % (
        name, _n(tally.valid + tally.invalid), _n(tally.valid), _n(tally.invalid),
        " (listed above, not sent)" if tally.invalid else ""))
    if sender is None:
        print("dry run: nothing was sent")
        return 1 if tally.invalid else 0
    delivered = sender.delivered()
    rate = delivered / elapsed if elapsed > 0 else 0.0
    retried = counters.value("retried")
    print("delivered %s records to %s in %.1f s (%s records/s)%s" % (
        _n(delivered), config.ingest_url, elapsed, _n(int(rate)),
        "; %s retried" % _n(retried) if retried else ""))
    missing = tally.valid - delivered
    if tally.stopped_at is not None:
        print("%s: error: stopped at line %d (later lines were not read): %s"
              % (PROG, tally.stopped_at, tally.stopped_why), file=sys.stderr)
    if missing > 0:
        reasons = ["%s %s" % (_n(counters.value(key)), text) for key, text in _REFUSED.items() if counters.value(key)]
        if sender.unsent:
            reasons.append("%s not sent when sending stopped" % _n(len(sender.unsent)))
        print("NOT delivered: %s valid records%s" % (_n(missing), " (%s)" % ", ".join(reasons) if reasons else ""))
    kept = tally.unsent
    if kept is not None and kept.error:
        print("%s: error: could not keep what was not sent in %s: %s" % (PROG, kept.path, kept.error),
              file=sys.stderr)
    elif kept is not None and kept.not_sent + kept.not_read:
        what = "%s records not sent" % _n(kept.not_sent)
        if kept.not_read:
            what += " and %s lines not read" % _n(kept.not_read)
        print("kept %s in %s: `%s %s` sends them, and only them" % (what, kept.path, PROG, kept.path))
        if sender.maybe_twice:
            print("(%s of them were in a request that had not ended: if it was accepted, they arrive twice)"
                  % _n(sender.maybe_twice))
    return 1 if missing > 0 or tally.invalid else 0


def _log_to_stderr(meter: _Progress) -> logging.Handler:
    """The exporter's warnings (retries, refusals) as plain lines on stderr, without garbling the progress line."""

    class Handler(logging.StreamHandler):
        def emit(self, record: logging.LogRecord) -> None:
            meter.clear()
            super().emit(record)

    handler = Handler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logs.log.addHandler(handler)
    return handler
