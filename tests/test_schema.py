"""The strict SPEC §1.1 validator, and the record fields we make (ids, timestamps, durations)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest

from ryft_instrument.record import QueryIds, RecordBuilder, Timestamps
from ryft_instrument.schema import validate_record

GOOD: dict[str, Any] = {
    "context": {"catalog": "main", "queryType": "SELECT", "userAgent": "ryft-instrument/0.1.0 python/3.11"},
    "query": "SELECT 1",
    "queryId": "q1",
    "queryState": "FINISHED",
    "timestamp": "2026-03-10T12:00:00.000Z",
    "duration_ms": 0.125,
    "tags": ["service:x"],
}


def _with(**changes: Any) -> dict[str, Any]:
    record = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def test_a_good_record_passes() -> None:
    assert validate_record(GOOD) == []
    assert validate_record(_with(context={})) == []
    failed = _with(queryState="FAILED", failureInfo=[{"errorCode": {"type": "USER_ERROR", "code": 1,
                                                                     "name": "SYNTAX_ERROR"}}])
    assert validate_record(failed) == []


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_with(context=None), "context: required"),
        (_with(query=None), "query: required"),
        (_with(extra=1), "extra: unknown field"),
        (_with(context={"database": "x"}), "context.database: unknown field"),
        (_with(context={"queryType": "SELECTS"}), "context.queryType"),
        (_with(context={"user": 5}), "context.user: not a string"),
        (_with(queryState="DONE"), "queryState"),
        (_with(timestamp="2026-03-10T12:00:00Z"), "timestamp"),
        (_with(timestamp="2026-03-10 12:00:00.000Z"), "timestamp"),
        (_with(duration_ms=-1), "duration_ms"),
        (_with(duration_ms=True), "duration_ms"),
        (_with(duration_ms=float("nan")), "duration_ms"),
        (_with(tags=["a", 1]), "tags"),
        (_with(queryState="FAILED"), "failureInfo: required on a FAILED record"),
        (_with(failureInfo={"errorCode": {"type": "USER_ERROR"}}), "failureInfo: present on a FINISHED record"),
        (_with(queryState="FAILED", failureInfo={"errorCode": {"type": "OOPS"}}), "errorCode.type"),
        (_with(queryState="FAILED", failureInfo={"errorCode": {"type": "EXTERNAL"}, "stack": "x"}),
         "failureInfo.stack: unknown field"),
        (_with(queryState="FAILED", failureInfo={"errorCode": {"type": "EXTERNAL", "code": "08001"}}),
         "errorCode.code: not a number"),
        (_with(queryState="FAILED", failureInfo=[]), "empty array"),
        ("not a record", "not an object"),
    ],
)
def test_each_breach_is_named(record: Any, problem: str) -> None:
    problems = validate_record(record)
    assert any(problem in p for p in problems), problems


def test_timestamps_are_utc_with_milliseconds() -> None:
    stamps = Timestamps()
    now = time.perf_counter()
    text = stamps(now)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    assert text[:16] == time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now + stamps.offset))
    assert stamps(now + 0.9999) >= text


def test_query_ids_differ_across_processes_without_a_syscall_each() -> None:
    ids = QueryIds()
    mine = {ids() for _ in range(1000)}
    assert len(mine) == 1000
    code = "from ryft_instrument.record import QueryIds; q = QueryIds(); print(q(), q())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert len(other) == 2 and not (set(other) & mine)


def test_durations_keep_microseconds_and_never_go_negative() -> None:
    builder = RecordBuilder()
    start = time.perf_counter()
    record = builder.build(({}, "SELECT 1", start, 0.0001234, None, None, None, ()))
    assert record["duration_ms"] == 0.123
    negative = builder.build(({}, "SELECT 1", start, -0.5, None, None, None, ()))
    assert negative["duration_ms"] == 0.0
    assert validate_record(record) == [] and validate_record(negative) == []
