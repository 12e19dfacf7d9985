"""The strict validator of a SPEC §1.1 record: no missing field, no wrong type, no extra field, at any level.

The library runs it on every record before sending (an invalid record is our bug: counted, logged once, never sent);
the loopback ingest server and the tests run it on everything they receive.
"""

from __future__ import annotations

import re
from typing import Any

QUERY_TYPES = frozenset(
    ("SELECT", "EXPLAIN", "DESCRIBE", "INSERT", "UPDATE", "DELETE", "ANALYZE", "DATA_DEFINITION",
     "ALTER_TABLE_EXECUTE", "MERGE")
)
QUERY_STATES = frozenset(("FINISHED", "FAILED", "SUCCEEDED"))
ERROR_TYPES = frozenset(("USER_ERROR", "INTERNAL_ERROR", "INSUFFICIENT_RESOURCES", "EXTERNAL"))
_CONTEXT_STRINGS = frozenset(("catalog", "schema", "serverVersion", "user", "userAgent"))
_RECORD_KEYS = frozenset(
    ("context", "query", "queryId", "queryState", "timestamp", "duration_ms", "tags", "failureInfo")
)
_REQUIRED = ("context", "query", "queryId", "queryState", "timestamp", "duration_ms")
_FAILURE_KEYS = frozenset(("errorCode", "failureMessage", "failureType"))
_ERROR_CODE_KEYS = frozenset(("type", "code", "name"))
_TIMESTAMP = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def validate_failure_info(info: Any, where: str = "failureInfo") -> list[str]:
    """Problems with a ``failureInfo`` value (an object or a non-empty array of objects)."""
    if isinstance(info, list):
        if not info:
            return ["%s: empty array" % where]
        problems: list[str] = []
        for i, item in enumerate(info):
            problems += validate_failure_info(item, "%s[%d]" % (where, i)) if isinstance(item, dict) else [
                "%s[%d]: not an object" % (where, i)
            ]
        return problems
    if not isinstance(info, dict):
        return ["%s: not an object or array" % where]
    problems = ["%s.%s: unknown field" % (where, k) for k in info if k not in _FAILURE_KEYS]
    code = info.get("errorCode")
    if not isinstance(code, dict):
        problems.append("%s.errorCode: required object" % where)
    else:
        problems += ["%s.errorCode.%s: unknown field" % (where, k) for k in code if k not in _ERROR_CODE_KEYS]
        if code.get("type") not in ERROR_TYPES:
            problems.append("%s.errorCode.type: %r not one of %s" % (where, code.get("type"), sorted(ERROR_TYPES)))
        if "code" in code and not (_is_number(code["code"])):
            problems.append("%s.errorCode.code: not a number" % where)
        if "name" in code and not isinstance(code["name"], str):
            problems.append("%s.errorCode.name: not a string" % where)
    for key in ("failureMessage", "failureType"):
        if key in info and not isinstance(info[key], str):
            problems.append("%s.%s: not a string" % (where, key))
    return problems


def validate_record(record: Any) -> list[str]:
    """Every way ``record`` breaks SPEC §1.1; an empty list means it is valid."""
    if not isinstance(record, dict):
        return ["record: not an object"]
    problems = ["%s: unknown field" % k for k in record if k not in _RECORD_KEYS]
    problems += ["%s: required" % k for k in _REQUIRED if k not in record]
    context = record.get("context")
    if "context" in record:
        if not isinstance(context, dict):
            problems.append("context: not an object")
        else:
            for key, value in context.items():
                if key == "queryType":
                    if value not in QUERY_TYPES:
                        problems.append("context.queryType: %r not one of the QueryType values" % (value,))
                elif key not in _CONTEXT_STRINGS:
                    problems.append("context.%s: unknown field" % key)
                elif not isinstance(value, str):
                    problems.append("context.%s: not a string" % key)
    for key in ("query", "queryId"):
        if key in record and not isinstance(record[key], str):
            problems.append("%s: not a string" % key)
    if record.get("queryId") == "":
        problems.append("queryId: empty")
    state = record.get("queryState")
    if "queryState" in record and state not in QUERY_STATES:
        problems.append("queryState: %r not one of %s" % (state, sorted(QUERY_STATES)))
    stamp = record.get("timestamp")
    if "timestamp" in record and not (isinstance(stamp, str) and _TIMESTAMP.match(stamp)):
        problems.append("timestamp: %r is not ISO 8601 UTC with milliseconds and Z" % (stamp,))
    if "duration_ms" in record:
        duration = record["duration_ms"]
        if not _is_number(duration) or duration < 0 or duration == float("inf"):
            problems.append("duration_ms: %r is not a non-negative finite number" % (duration,))
    if "tags" in record:
        tags = record["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append("tags: not an array of strings")
    if "failureInfo" in record:
        if state != "FAILED":
            problems.append("failureInfo: present on a %s record" % state)
        problems += validate_failure_info(record["failureInfo"])
    elif state == "FAILED":
        problems.append("failureInfo: required on a FAILED record")
    return problems
