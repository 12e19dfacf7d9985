"""``ryft-instrument report FILE.jsonl [--html PATH]``: what a file of records says about a program's SQL.

One pass over the file, in bounded memory: totals by queryType and state, statement groups (by fingerprint) ranked
by total time and by count, the slowest statements, failures grouped by error, and a histogram of durations. The
text form goes to a terminal; ``--html`` writes one self-contained page (inline CSS and SVG, no network resources).
"""

from __future__ import annotations

import heapq
import html
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from .fingerprinting import fingerprint
from .schema import validate_record

TOP = 10
# A file with more distinct statement shapes than this lumps the rest together, so memory stays bounded.
MAX_GROUPS = 50_000
OTHER_GROUP = "(other statements: too many distinct shapes to list)"
# Upper bounds of the duration histogram's buckets, in milliseconds (the last bucket is open).
BUCKETS_MS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
_SPACE = re.compile(r"\s+")


@dataclass
class Group:
    """Statements that share a fingerprint."""

    query_type: str
    example: str
    count: int = 0
    failed: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.count if self.count else 0.0


@dataclass
class FailureGroup:
    """Failures that share an error type and name."""

    error_type: str
    error_name: str
    failure_type: str
    message: str
    query: str
    count: int = 0


@dataclass
class Statement:
    """One statement, as listed among the slowest."""

    duration_ms: float
    query_type: str
    state: str
    timestamp: str
    query: str


@dataclass
class Summary:
    """Everything the report shows, gathered in one pass."""

    source: str
    records: int = 0
    failed: int = 0
    total_ms: float = 0.0
    off_schema: int = 0
    skipped: int = 0
    skipped_examples: list[tuple[int, str]] = field(default_factory=list)
    first: Optional[str] = None
    last: Optional[str] = None
    by_type: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    failures: dict[tuple[str, str], FailureGroup] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))
    _slowest: list[tuple[float, int, Statement]] = field(default_factory=list)

    @property
    def slowest(self) -> list[Statement]:
        return [item[2] for item in sorted(self._slowest, key=lambda item: (-item[0], item[1]))]

    def top_groups(self, by: str) -> list[Group]:
        key = (lambda g: (g.total_ms, g.count)) if by == "time" else (lambda g: (g.count, g.total_ms))
        return heapq.nlargest(TOP, self.groups.values(), key=key)

    def type_rows(self) -> list[tuple[str, str, int, float]]:
        rows = [(qt, state, int(v[0]), v[1]) for (qt, state), v in self.by_type.items()]
        return sorted(rows, key=lambda r: (-r[3], -r[2], r[0], r[1]))

    def time_by_type(self) -> list[tuple[str, float]]:
        totals: dict[str, float] = {}
        for (query_type, _state), values in self.by_type.items():
            totals[query_type] = totals.get(query_type, 0.0) + values[1]
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    def failure_rows(self) -> list[FailureGroup]:
        return sorted(self.failures.values(), key=lambda f: (-f.count, f.error_type, f.error_name))


# -- reading ---------------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not JSON" % name)


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def parse_line(line: str) -> tuple[Any, Optional[str]]:
    """``(value, None)`` for a line of strict JSON (no NaN or Infinity), else ``(None, why not)``."""
    try:
        return _decode(line), None
    except ValueError as exc:
        return None, "not JSON: %s" % exc


def read_records(lines: Iterable[str]) -> Iterator[tuple[int, Any, Optional[str]]]:
    """``(line number, parsed value or None, reason it could not be parsed)`` for each non-blank line."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield (number, *parse_line(line))


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return 0.0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _first_and_last(info: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outermost item (its errorCode decides the group) and the innermost (the driver's own message)."""
    items = [item for item in info if isinstance(item, dict)] if isinstance(info, list) else [info]
    items = [item for item in items if isinstance(item, dict)] or [{}]
    return items[0], items[-1]


def summarise(lines: Iterable[str], source: str) -> Summary:
    """Aggregate the records in ``lines`` (JSON objects, one a line); unreadable lines are counted and skipped."""
    summary = Summary(source)
    fingerprints: dict[str, str] = {}
    for number, record, reason in read_records(lines):
        if not isinstance(record, dict):
            summary.skipped += 1
            if len(summary.skipped_examples) < 5:
                summary.skipped_examples.append((number, reason or "not a JSON object"))
            continue
        _add(summary, number, record, fingerprints)
    return summary


def _add(summary: Summary, number: int, record: dict[str, Any], fingerprints: dict[str, str]) -> None:
    if validate_record(record):
        summary.off_schema += 1
    context = record.get("context")
    query_type = _text(context.get("queryType")) if isinstance(context, dict) else ""
    query_type = query_type or "(none)"
    state = _text(record.get("queryState")) or "(none)"
    duration = _number(record.get("duration_ms"))
    query = _text(record.get("query"))
    stamp = _text(record.get("timestamp"))
    summary.records += 1
    summary.total_ms += duration
    if stamp:
        summary.first = stamp if summary.first is None else min(summary.first, stamp)
        summary.last = stamp if summary.last is None else max(summary.last, stamp)
    totals = summary.by_type.setdefault((query_type, state), [0, 0.0])
    totals[0] += 1
    totals[1] += duration
    summary.histogram[_bucket(duration)] += 1

    shape = fingerprints.get(query)
    if shape is None:
        shape = _shape(query)
        if len(fingerprints) >= 10_000:
            fingerprints.clear()
        fingerprints[query] = shape
    group = summary.groups.get(shape)
    if group is None:
        if len(summary.groups) >= MAX_GROUPS:
            shape = OTHER_GROUP
        group = summary.groups.setdefault(shape, Group(query_type, query))
    group.count += 1
    group.total_ms += duration
    group.max_ms = max(group.max_ms, duration)

    statement = (duration, -number)
    if len(summary._slowest) < TOP or statement > summary._slowest[0][:2]:
        item = (duration, -number, Statement(duration, query_type, state, stamp, query))
        if len(summary._slowest) < TOP:
            heapq.heappush(summary._slowest, item)
        else:
            heapq.heapreplace(summary._slowest, item)

    if state == "FAILED" or "failureInfo" in record:
        summary.failed += 1
        group.failed += 1
        outer, inner = _first_and_last(record.get("failureInfo"))
        found = outer.get("errorCode")
        code: dict[str, Any] = found if isinstance(found, dict) else {}
        key = (_text(code.get("type")) or "(unknown)", _text(code.get("name")) or "-")
        failure = summary.failures.get(key)
        if failure is None:
            failure = summary.failures[key] = FailureGroup(
                key[0], key[1], _text(inner.get("failureType")), _text(inner.get("failureMessage")), query
            )
        failure.count += 1


def _shape(query: str) -> str:
    try:
        return fingerprint(query)
    except Exception:
        return _SPACE.sub(" ", query).strip()


def _bucket(duration: float) -> int:
    for index, bound in enumerate(BUCKETS_MS):
        if duration < bound:
            return index
    return len(BUCKETS_MS)


def bucket_labels() -> list[str]:
    labels = []
    low = 0.0
    for bound in BUCKETS_MS:
        labels.append("%s–%s" % (_ms(low), _ms(bound)) if low else "< %s" % _ms(bound))
        low = bound
    labels.append("≥ %s" % _ms(low))
    return labels


def _ms(value: float) -> str:
    if value >= 1000:
        return "%gs" % (value / 1000)
    return "%gms" % value


def summarise_file(path: str) -> Summary:
    """Summarise a JSONL file (``OSError`` if it cannot be read)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return summarise(handle, path)


# -- text ------------------------------------------------------------------------------------------------------


def one_line(query: str, width: int) -> str:
    """A statement on one line, cut to ``width`` characters."""
    text = _SPACE.sub(" ", query).strip()
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    out = []
    for row in [headers, *rows]:
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _fmt(value: float) -> str:
    return "%.3f" % value


def _group_rows(groups: list[Group], width: int) -> list[list[str]]:
    return [[str(g.count), _fmt(g.total_ms), _fmt(g.mean_ms), _fmt(g.max_ms), str(g.failed or ""), g.query_type,
             one_line(g.example, width)] for g in groups]


_GROUP_HEADERS = ["count", "total ms", "mean ms", "max ms", "failed", "queryType", "statement (an example)"]


def render_text(summary: Summary, width: int = 70) -> str:
    """The report for a terminal."""
    lines = [_headline(summary)]
    if summary.first:
        lines.append("from %s to %s" % (summary.first, summary.last))
    if summary.skipped:
        shown = "; ".join("line %d: %s" % item for item in summary.skipped_examples)
        lines.append("%d lines skipped (not a JSON object): %s" % (summary.skipped, shown))
    if summary.off_schema:
        lines.append("%d records break the record schema; `ryft-instrument send --dry-run %s` lists them"
                     % (summary.off_schema, summary.source))
    if not summary.records:
        return "\n".join(lines) + "\n"
    share = summary.total_ms or 1.0
    lines += ["", "By queryType and state"]
    lines += _table(["queryType", "state", "count", "total ms", "time %"],
                    [[qt, st, str(n), _fmt(ms), "%.1f" % (100 * ms / share)] for qt, st, n, ms in summary.type_rows()],
                    {2, 3, 4})
    lines += ["", "Statement groups by total time"]
    lines += _table(_GROUP_HEADERS, _group_rows(summary.top_groups("time"), width), {0, 1, 2, 3, 4})
    lines += ["", "Statement groups by count"]
    lines += _table(_GROUP_HEADERS, _group_rows(summary.top_groups("count"), width), {0, 1, 2, 3, 4})
    lines += ["", "Slowest statements"]
    lines += _table(["ms", "queryType", "state", "timestamp", "statement"],
                    [[_fmt(s.duration_ms), s.query_type, s.state, s.timestamp, one_line(s.query, width)]
                     for s in summary.slowest], {0})
    if summary.failures:
        lines += ["", "Failures by error"]
        lines += _table(["count", "type", "name", "exception", "message (an example)"],
                        [[str(f.count), f.error_type, f.error_name, f.failure_type, one_line(f.message, width)]
                         for f in summary.failure_rows()], {0})
    lines += ["", "Durations"]
    peak = max(summary.histogram) or 1
    labels = bucket_labels()
    for label, count in zip(labels, summary.histogram):
        if count:
            lines.append("  %-14s %8d  %s" % (label, count, "#" * max(1, round(30 * count / peak))))
    return "\n".join(lines) + "\n"


def _headline(summary: Summary) -> str:
    return "%s: %d records, %d failed, %s ms of statement time" % (
        summary.source, summary.records, summary.failed, _fmt(summary.total_ms))


# -- HTML ------------------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#1d2330;
padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{padding:.3em .6em;border-bottom:1px solid #eef;text-align:left;vertical-align:top}
th{background:#f4f6fb;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word}
.muted{color:#667}.charts{display:flex;flex-wrap:wrap;gap:2em}.charts figure{margin:0}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_table(table_id: str, headers: list[str], rows: list[list[str]], numeric: set[int],
                code: Optional[int] = None) -> str:
    head = "".join('<th%s>%s</th>' % (' class="n"' if i in numeric else "", _e(h)) for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            content = "<code>%s</code>" % _e(_cut(cell)) if i == code else _e(cell)
            cells.append('<td%s>%s</td>' % (' class="n"' if i in numeric else "", content))
        body.append("<tr>%s</tr>" % "".join(cells))
    return '<table id="%s"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (table_id, head, "".join(body))


def _cut(text: str, limit: int = 4000) -> str:
    """Very long statements are cut in the page (the file keeps them whole)."""
    return text if len(text) <= limit else text[:limit] + " … (%d characters in all)" % len(text)


def _bar_chart(title: str, items: list[tuple[str, float]], unit: str) -> str:
    """Horizontal bars as inline SVG: one row per item, the value written after the bar."""
    row, label_w, bar_w = 22, 170, 360
    height = row * max(1, len(items)) + 10
    peak = max((value for _, value in items), default=0.0) or 1.0
    parts = ['<svg role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
             % (label_w + bar_w + 110, height, label_w + bar_w + 110, height), "<title>%s</title>" % _e(title)]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        width = bar_w * value / peak
        parts.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (label_w - 8, y + 15, _e(label)))
        parts.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="#4f6bed" rx="2"/>'
                     % (label_w, y + 3, max(width, 1.0 if value else 0.0), row - 6))
        parts.append('<text x="%.1f" y="%d">%s</text>' % (label_w + width + 6, y + 15, _e(unit % value)))
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: Summary) -> str:
    """The same report as one self-contained HTML page."""
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>ryft-instrument report: %s</title><style>%s</style></head><body>" % (_e(summary.source), _CSS),
           "<h1>ryft-instrument report</h1><p>%s</p>" % _e(_headline(summary))]
    if summary.first:
        out.append('<p class="muted">from %s to %s</p>' % (_e(summary.first), _e(summary.last)))
    if summary.skipped:
        out.append('<p class="muted">%d lines skipped (not a JSON object)</p>' % summary.skipped)
    if summary.off_schema:
        out.append('<p class="muted">%d records break the record schema</p>' % summary.off_schema)
    share = summary.total_ms or 1.0
    out.append('<div class="charts"><figure><h2>Time by queryType</h2>%s</figure>'
               % _bar_chart("Statement time by queryType", summary.time_by_type(), "%.3f ms"))
    out.append("<figure><h2>Durations</h2>%s</figure></div>"
               % _bar_chart("Statements by duration", [(label, float(n)) for label, n in
                                                       zip(bucket_labels(), summary.histogram)], "%d"))
    out.append("<h2>By queryType and state</h2>")
    out.append(_html_table("by-type", ["queryType", "state", "count", "total ms", "time %"],
                           [[qt, st, str(n), _fmt(ms), "%.1f" % (100 * ms / share)]
                            for qt, st, n, ms in summary.type_rows()], {2, 3, 4}))
    for table_id, title, by in (("groups-by-time", "Statement groups by total time", "time"),
                                ("groups-by-count", "Statement groups by count", "count")):
        out.append("<h2>%s</h2>" % title)
        rows = [[str(g.count), _fmt(g.total_ms), _fmt(g.mean_ms), _fmt(g.max_ms), str(g.failed), g.query_type,
                 g.example] for g in summary.top_groups(by)]
        out.append(_html_table(table_id, _GROUP_HEADERS, rows, {0, 1, 2, 3, 4}, code=6))
    out.append("<h2>Slowest statements</h2>")
    out.append(_html_table("slowest", ["ms", "queryType", "state", "timestamp", "statement"],
                           [[_fmt(s.duration_ms), s.query_type, s.state, s.timestamp, s.query]
                            for s in summary.slowest], {0}, code=4))
    out.append("<h2>Failures by error</h2>")
    out.append(_html_table("failures", ["count", "type", "name", "exception", "message (an example)", "statement"],
                           [[str(f.count), f.error_type, f.error_name, f.failure_type, f.message, f.query]
                            for f in summary.failure_rows()], {0}, code=5))
    out.append('<p class="muted">Made by ryft-instrument from the records in %s.</p></body></html>\n'
               % _e(summary.source))
    return "".join(out)
