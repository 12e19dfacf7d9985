"""Statements per test, for the pytest plugin (issue 7): capture on the application thread, analysis afterwards.

Capture: ``observe`` is a ``recorder.observers`` callback. It appends ``(query, duration, failure, origin)`` to the
list of the running test phase, which ``route`` switches from the pytest hooks. The list is a module global, not a
ContextVar, so statements from threads and asyncio tasks the test started land in the test's list too; it is also
appended to every open ``tap`` (``ryft_assert_queries`` blocks). The origin is the first frame outside
ryft_instrument, SQLAlchemy, the standard library and site-packages, found by walking ``f_back`` with a verdict
cached per file (PRIOR_ART 29: ~10 µs for ``traceback.extract_stack()``'s work is too much per statement).

Analysis runs once per test phase, off the statement path: ``statements`` describes each statement (queryType,
fingerprint, transaction control or not; cached per text), ``QueryLog`` serves the ``ryft_queries`` fixture,
``summarize`` makes the JSON-ready dict that travels on the test report (xdist included), ``breaches`` and
``breach_message`` check budgets and explain a breach statement group by statement group.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, NamedTuple, Optional, Union

from .classify import query_type
from .fingerprinting import fingerprint
from .sqllex import next_token, sql_text
from .tagging import current_tags

# ``(query, duration in seconds, failureInfo or None, (filename, lineno) or None)``
Captured = tuple

_sink: Optional[list[Captured]] = None
_taps: list[list[Captured]] = []
_tags: tuple[str, ...] = ()
_verdicts: dict[str, bool] = {}


def observe(event: tuple) -> None:
    """The ``recorder.observers`` callback: keep the statement for the running test phase and open taps."""
    sink = _sink
    if sink is None and not _taps:
        return
    item = (event[1], event[3], event[4], _first_user_frame(sys._getframe(1)) or _greenlet_origin())
    if sink is not None:
        sink.append(item)
    for tap in _taps:
        tap.append(item)


def route(sink: Optional[list[Captured]], tags: tuple[str, ...] = ()) -> None:
    """Send statements to ``sink`` from now on (None: drop them) and tag records with ``tags`` (see ``test_tags``)."""
    global _sink, _tags
    _sink = sink
    _tags = tags


def test_tags() -> tuple[str, ...]:
    """Stands in for ``recorder``'s tag reader in ``--ryft`` mode: the block-scoped tags plus the running test's.

    A module global reaches every thread, where a ContextVar set by a pytest hook would miss thread pools."""
    return current_tags.get() + _tags


@contextmanager
def tap() -> Iterator[list[Captured]]:
    """Collect the statements run inside the block, on any thread, whatever the test phase."""
    items: list[Captured] = []
    _taps.append(items)
    try:
        yield items
    finally:
        _taps.remove(items)


# -- origin ----------------------------------------------------------------------------------------------------------


def _first_user_frame(frame: Any) -> Optional[tuple[str, int]]:
    verdicts = _verdicts
    while frame is not None:
        filename = frame.f_code.co_filename
        library = verdicts.get(filename)
        if library is None:
            library = verdicts[filename] = _is_library(filename)
        if not library:
            return (filename, frame.f_lineno)
        frame = frame.f_back
    return None


def _greenlet_origin() -> Optional[tuple[str, int]]:
    """SQLAlchemy's asyncio runs the driver call in a greenlet whose stack ends in SQLAlchemy: the ``await`` that
    started it is in the parent greenlet's suspended frames."""
    greenlet = sys.modules.get("greenlet")
    if greenlet is None:
        return None
    try:
        parent = greenlet.getcurrent().parent
        return None if parent is None else _first_user_frame(parent.gr_frame)
    except Exception:
        return None


def _is_library(filename: str) -> bool:
    if filename.startswith("<") or "site-packages" in filename or "dist-packages" in filename:
        return True
    return filename.startswith(_library_dirs())


def _library_dirs() -> tuple[str, ...]:
    dirs = [os.path.dirname(os.path.abspath(__file__))]
    sqlalchemy_file = getattr(sys.modules.get("sqlalchemy"), "__file__", None)
    if sqlalchemy_file:
        dirs.append(os.path.dirname(os.path.abspath(sqlalchemy_file)))
    paths = sysconfig.get_paths()
    dirs.extend(paths[name] for name in ("stdlib", "platstdlib") if paths.get(name))
    return tuple(os.path.join(d, "") for d in dirs)


@lru_cache(maxsize=1024)
def origin_text(origin: Optional[tuple[str, int]]) -> Optional[str]:
    """``path:line``, the path relative to the working directory when it is under it."""
    if origin is None:
        return None
    filename, line = origin
    try:
        relative = os.path.relpath(filename)
        if not relative.startswith(".."):
            filename = relative
    except ValueError:
        pass
    return "%s:%d" % (filename, line)


# -- analysis --------------------------------------------------------------------------------------------------------

_TRANSACTION_WORDS = frozenset(("BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"))


@lru_cache(maxsize=8192)
def describe(query: Union[str, bytes]) -> tuple[str, str, bool]:
    """``(fingerprint, queryType or "OTHER", is transaction control)`` of a statement text. Never raises."""
    try:
        text = sql_text(query)
        kind, start, end = next_token(text, 0)
        transaction = kind == "w" and text[start:end].upper() in _TRANSACTION_WORDS
        return fingerprint(text), query_type(text) or "OTHER", transaction
    except Exception:
        return " ".join(str(query).split()), "OTHER", False


class Statement(NamedTuple):
    """One recorded statement as the fixtures and reports show it."""

    query: str
    query_type: str
    fingerprint: str
    duration_ms: float
    error: Optional[str]
    origin: Optional[str]
    transaction: bool

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Group:
    """Statements with the same fingerprint."""

    fingerprint: str
    count: int
    db_ms: float
    origin: Optional[str]
    statements: list[Statement]


def _error(failure: Any) -> Optional[str]:
    if failure is None:
        return None
    first = failure[0] if isinstance(failure, list) and failure else failure
    try:
        kind = first.get("failureType") or first["errorCode"]["type"]
        message = first.get("failureMessage")
        return "%s: %s" % (kind, message) if message else str(kind)
    except Exception:
        return "failed"


def statements(items: list[Captured]) -> list[Statement]:
    """Describe captured items (a copy is taken first: other threads may still append)."""
    result = []
    for query, duration, failure, origin in list(items):
        fp, kind, transaction = describe(query)
        text = sql_text(query)
        result.append(Statement(text, kind, fp, duration * 1000.0, _error(failure), origin_text(origin), transaction))
    return result


def group(found: list[Statement]) -> list[Group]:
    """Statements grouped by fingerprint, the biggest group first (then the slowest); the origin is the group's
    most frequent one."""
    by_fp: dict[str, list[Statement]] = {}
    for statement in found:
        by_fp.setdefault(statement.fingerprint, []).append(statement)
    groups = []
    for fp, members in by_fp.items():
        origins = Counter(s.origin for s in members if s.origin)
        origin = origins.most_common(1)[0][0] if origins else None
        groups.append(Group(fp, len(members), sum(s.duration_ms for s in members), origin, members))
    groups.sort(key=lambda g: (-g.count, -g.db_ms))
    return groups


def by_type(found: list[Statement]) -> dict[str, int]:
    return dict(Counter(s.query_type for s in found).most_common())


class QueryLog:
    """Statements of a test's call phase (the ``ryft_queries`` fixture) or of a ``ryft_assert_queries`` block.

    It reads the live list, so it is current whenever it is asked. Transaction control (BEGIN, COMMIT, ROLLBACK,
    SAVEPOINT, RELEASE) is kept apart in ``transactions`` unless ``count_transactions``."""

    def __init__(self, items: list[Captured], count_transactions: bool = False) -> None:
        self._items = items
        self._count_transactions = count_transactions

    def _all(self) -> list[Statement]:
        return statements(self._items)

    @property
    def records(self) -> list[Statement]:
        return [s for s in self._all() if self._count_transactions or not s.transaction]

    @property
    def transactions(self) -> list[Statement]:
        return [s for s in self._all() if s.transaction]

    @property
    def count(self) -> int:
        return len(self.records)

    @property
    def failed(self) -> list[Statement]:
        return [s for s in self._all() if s.failed]

    def by_type(self) -> dict[str, int]:
        return by_type(self.records)

    def similar(self, min_count: int = 2) -> list[Group]:
        """Groups of statements with the same fingerprint, at least ``min_count`` strong, biggest first."""
        return [g for g in group(self.records) if g.count >= min_count]

    def slowest(self, n: int = 5) -> list[Statement]:
        return sorted(self.records, key=lambda s: -s.duration_ms)[:n]

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return "<QueryLog %d statements>" % self.count


MAX_GROUPS = 200


def summarize(items: list[Captured], count_transactions: bool = False) -> dict[str, Any]:
    """A phase's statements as a JSON-ready dict: counts, time, failures, queryTypes and fingerprint groups.

    ``transactions`` counts transaction control statements, which ``queries``, ``db_ms`` and ``groups`` leave out
    unless ``count_transactions``."""
    found = statements(items)
    counted = [s for s in found if count_transactions or not s.transaction]
    groups = group(counted)
    return {
        "queries": len(counted),
        "db_ms": round(sum(s.duration_ms for s in counted), 3),
        "transactions": sum(1 for s in found if s.transaction),
        "count_transactions": count_transactions,
        "by_type": by_type(counted),
        "groups": [
            {"fingerprint": g.fingerprint, "count": g.count, "db_ms": round(g.db_ms, 3), "origin": g.origin}
            for g in groups[:MAX_GROUPS]
        ],
        "failures": [{"query": s.query, "error": s.error, "origin": s.origin} for s in found if s.failed],
    }


class Breach(NamedTuple):
    """A budget (``max_queries``, ``max_similar``, ``max_db_time_ms`` or ``baseline``) exceeded."""

    budget: str
    limit: float
    actual: float


def breaches(summary: dict[str, Any], limits: dict[str, Optional[float]]) -> list[Breach]:
    """The budgets of ``limits`` (None: no budget) that ``summary`` exceeds."""
    groups = summary["groups"]
    actual = {
        "max_queries": summary["queries"],
        "max_similar": groups[0]["count"] if groups else 0,
        "max_db_time_ms": summary["db_ms"],
        "baseline": summary["queries"],
    }
    return [Breach(name, limit, actual[name]) for name, limit in limits.items()
            if limit is not None and actual[name] > limit]


_WHAT = {
    "max_queries": "%s statements",
    "max_similar": "%s similar statements in one group",
    "max_db_time_ms": "%s ms of database time",
    "baseline": "%s statements",
}


def breach_lines(found: list[Breach], names: Optional[dict[str, str]] = None) -> list[str]:
    """One line per breach: the budget (by its name in ``names`` if there), its limit, the excess, the value."""
    lines = []
    for b in found:
        over = _number(b.actual - b.limit)
        what = _WHAT[b.budget] % _number(b.actual)
        name = (names or {}).get(b.budget, b.budget)
        lines.append("%s%s%s exceeded by %s: %s" % (name, " " if b.budget == "baseline" else "=", _number(b.limit),
                                                    over, what))
    return lines


def breach_message(title: str, found: list[Breach], summary: dict[str, Any], width: int = 120,
                   names: Optional[dict[str, str]] = None) -> str:
    """A multi-line explanation: which budget, by how much, and the statements grouped by fingerprint."""
    lines = [title]
    lines.extend("  " + line for line in breach_lines(found, names))
    lines.extend(group_lines(summary, width))
    return "\n".join(lines)


def group_lines(summary: dict[str, Any], width: int = 120, limit: int = 15) -> list[str]:
    groups = summary["groups"]
    noise = summary["transactions"]
    head = "statements by fingerprint (%d in %d group%s" % (
        summary["queries"], len(groups), "" if len(groups) == 1 else "s")
    if noise and not summary["count_transactions"]:
        head += "; %d transaction statement%s not counted" % (noise, "" if noise == 1 else "s")
    lines = ["  " + head + "):"]
    for g in groups[:limit]:
        prefix = "    %5d × %9.3f ms  %s  " % (g["count"], g["db_ms"], g["origin"] or "(origin unknown)")
        lines.append(prefix + clip(g["fingerprint"], max(20, width - len(prefix))))
    if len(groups) > limit:
        lines.append("    … %d more group%s" % (len(groups) - limit, "" if len(groups) - limit == 1 else "s"))
    for failure in summary["failures"][:limit]:
        lines.append("    failed: %s  %s  %s" % (failure["origin"] or "(origin unknown)", failure["error"],
                                                clip(failure["query"], 60)))
    return lines


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:max(1, width - 1)] + "…"


def _number(value: float) -> str:
    return ("%d" % value) if float(value).is_integer() else ("%.3f" % value).rstrip("0").rstrip(".")
