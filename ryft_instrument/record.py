"""From a queued event to a SPEC §1.1 record (a dict ready for JSON). Runs on the exporter thread."""

from __future__ import annotations

import json
import os
import time
from itertools import count
from json.encoder import encode_basestring
from typing import Any, Callable, Optional

from .classify import classify_statement
from .fingerprinting import redact_literals, redact_message
from .recorder import expand
from .sqllex import sql_text


class QueryIds:
    """``queryId`` values unique across processes and hosts: a random per-process prefix plus a counter."""

    def __init__(self) -> None:
        self.prefix = "ryft-%s-" % os.urandom(8).hex()
        self.next = count(1).__next__

    def __call__(self) -> str:
        return "%s%x" % (self.prefix, self.next())


class Timestamps:
    """ISO 8601 UTC with milliseconds and ``Z``, from ``perf_counter`` readings; the second's text is cached."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.second = -1
        self.prefix = ""
        self.resync()

    def resync(self) -> None:
        """Re-anchor ``perf_counter`` to the wall clock (called once per batch, so clock steps are followed)."""
        self.offset = time.time() - time.perf_counter()

    def __call__(self, start: float) -> str:
        wall = start + self.offset
        second = int(wall)
        if second != self.second:
            self.turn(second)
        return "%s.%03dZ" % (self.prefix, min(int((wall - second) * 1000), 999))

    def turn(self, second: int) -> None:
        """The text of a new second."""
        self.second = second
        self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


class RecordBuilder:
    """Builds records; holds the per-process id generator, the clock anchor and the context cache."""

    def __init__(self, tags: tuple[str, ...] = (), redact: bool = False) -> None:
        self.ids = QueryIds()
        self.timestamps = Timestamps()
        self.tags = tags
        self.redact = redact
        self._contexts: dict[tuple[int, Optional[str]], tuple[dict[str, Any], dict[str, Any]]] = {}
        # JSON text of each merged context (and of tag lists): shared by many records, encoded once.
        self._fragments: dict[int, tuple[Any, str]] = {}
        # (statement, id(context)) → (context, the record's JSON text up to its queryId): see ``lines``.
        self._heads: dict[tuple[str, int], tuple[dict[str, Any], str]] = {}

    def _context(self, base: dict[str, Any], query_type: Optional[str]) -> dict[str, Any]:
        key = (id(base), query_type)
        found = self._contexts.get(key)
        if found is not None and found[0] is base:
            return found[1]
        merged = dict(base)
        if query_type is not None:
            merged["queryType"] = query_type
        if len(self._contexts) > 4096:
            self._contexts.clear()
        self._contexts[key] = (base, merged)
        return merged

    def build(self, event: tuple) -> dict[str, Any]:
        base, query, start, duration, failure, query_id, session, scoped_tags = expand(event)
        query = sql_text(query)
        record: dict[str, Any] = {
            "context": self._context(base, classify_statement(query, session)),
            "query": redact_literals(query) if self.redact else query,
            "queryId": query_id if query_id else self.ids(),
            "queryState": "FINISHED" if failure is None else "FAILED",
            "timestamp": self.timestamps(start),
            "duration_ms": round(duration * 1000.0, 3) if duration > 0 else 0.0,
        }
        tags = self.tags + scoped_tags if scoped_tags else self.tags
        if tags:
            record["tags"] = list(tags)
        if failure is not None:
            record["failureInfo"] = redact_failure(failure) if self.redact else failure
        return record

    def _fragment(self, value: Any) -> str:
        """``value``'s JSON text, cached by identity (contexts and tag tuples are shared by many records)."""
        found = self._fragments.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        text = _dumps(value)
        if len(self._fragments) > 4096:
            self._fragments.clear()
        self._fragments[id(value)] = (value, text)
        return text

    def line(self, event: tuple) -> str:
        """``build(event)`` as JSON text, the same text ``json`` gives for it, without building the dict: the
        shared context and tags are encoded once, so the exporter's per-record cost is mostly the query text."""
        base, query, start, duration, failure, query_id, session, scoped_tags = expand(event)
        query = sql_text(query)
        if scoped_tags:
            tail = ',"tags":' + _dumps(list(self.tags + scoped_tags))
        else:
            tail = ',"tags":' + self._fragment(self.tags) if self.tags else ""
        if failure is not None:
            tail += ',"failureInfo":' + _dumps(redact_failure(failure) if self.redact else failure)
        return _LINE % (
            self._fragment(self._context(base, classify_statement(query, session))),
            encode_basestring(redact_literals(query) if self.redact else query),
            encode_basestring(query_id if query_id else self.ids()),
            "FINISHED" if failure is None else "FAILED",
            self.timestamps(start),
            duration * 1000.0 if duration > 0 else 0.0,
            tail,
        )


    def lines(self, events: list[tuple], failed: Callable[[], None]) -> list[str]:
        """``line(event)`` for each event (``failed()`` for one that cannot be built), faster for the common
        event: a finished statement with no id, connection or tags of its own. Its text up to the ``queryId`` is
        cached per (statement, context), since applications run the same statements over and over: what is left
        per record is the id, the timestamp and the duration."""
        heads = self._heads
        line = self.line
        prefix = self.ids.prefix
        next_id = self.ids.next
        clock = self.timestamps
        offset = clock.offset
        tail = ',"tags":' + self._fragment(self.tags) + "}" if self.tags else "}"
        lines: list[str] = []
        append = lines.append
        for event in events:
            try:
                if len(event) == 4:  # the short form: a finished statement, nothing of its own
                    base, query, start, end = event
                    duration = end - start
                else:
                    base, query, start, duration, failure, query_id, session, scoped_tags = event
                    if failure is not None or query_id or session is not None or scoped_tags:
                        append(line(event))
                        continue
                if type(query) is not str:
                    append(line(event))
                    continue
                found = heads.get((query, id(base)))
                if found is None or found[0] is not base:
                    found = self._head(base, query)
                wall = start + offset  # ``Timestamps.__call__``, inline
                second = int(wall)
                if second != clock.second:
                    clock.turn(second)
                append('%s%s%x","queryState":"FINISHED","timestamp":"%s.%03dZ","duration_ms":%.3f%s' % (
                    found[1], prefix, next_id(), clock.prefix, min(int((wall - second) * 1000), 999),
                    duration * 1000.0 if duration > 0 else 0.0, tail))
            except Exception:
                failed()
        return lines

    def _head(self, base: dict[str, Any], query: str) -> tuple[dict[str, Any], str]:
        text = sql_text(query)
        head = '{"context":%s,"query":%s,"queryId":"' % (
            self._fragment(self._context(base, classify_statement(text, None))),
            encode_basestring(redact_literals(text) if self.redact else text))
        if len(self._heads) > 4096:
            self._heads.clear()
        found = self._heads[(query, id(base))] = (base, head)
        return found


def redact_failure(failure: Any) -> Any:
    """``failureInfo`` (an object or an array of them) with each ``failureMessage`` through ``redact_message``."""
    if isinstance(failure, list):
        return [redact_failure(item) for item in failure]
    message = failure.get("failureMessage") if isinstance(failure, dict) else None
    if not isinstance(message, str):
        return failure
    return dict(failure, failureMessage=redact_message(message))


_LINE = '{"context":%s,"query":%s,"queryId":%s,"queryState":"%s","timestamp":"%s","duration_ms":%.3f%s}'
# The exporter's encoder settings: compact separators, non-ASCII text kept as is.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
