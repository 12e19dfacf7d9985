"""sqlite3 ``execute``+``fetchall`` and the fetch path alone: plain vs OpenTelemetry's dbapi proxy (for scale:
SPEC §8 says it adds ~30 µs). ryft-instrument's own proxy is measured by ``bench_dbapi``; both report the same
``plain`` baseline shape so the table sets them side by side.
"""

from __future__ import annotations

import sqlite3
from time import thread_time
from typing import Any

from ._common import Timed, compare, installed, otel_provider


def _execute_fetchall(conn: Any) -> Timed:
    cursor = conn.cursor()

    def timed(n: int) -> float:
        start = thread_time()
        for _ in range(n):
            cursor.execute("SELECT 1")
            cursor.fetchall()
        return thread_time() - start

    return timed


def _fetchone(conn: Any) -> Timed:
    """µs per ``fetchone`` on a long result (what every attribute forwarded by a proxy costs)."""
    cursor = conn.cursor()

    def timed(n: int) -> float:
        cursor.execute("SELECT value FROM generate WHERE value < ?", (n,))
        start = thread_time()
        for _ in range(n):
            cursor.fetchone()
        return thread_time() - start

    return timed


def _connection(rows: int) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE generate (value INTEGER PRIMARY KEY)")
    conn.executemany("INSERT INTO generate VALUES (?)", ((i,) for i in range(rows)))
    return conn


def run(quick: bool) -> dict[str, Any]:
    if not installed("opentelemetry.sdk", "opentelemetry.instrumentation.dbapi"):
        return {"status": "not available", "error": "opentelemetry-sdk / opentelemetry-instrumentation-dbapi "
                                                    "are not installed"}
    from opentelemetry.instrumentation.dbapi import instrument_connection

    n, rounds = (300, 3) if quick else (2000, 31)
    provider = otel_provider()
    plain = _connection(n)
    traced = instrument_connection("sqlite3", _connection(n), "sqlite", tracer_provider=provider)

    def between() -> None:
        provider.force_flush()

    execute = compare({"plain": _execute_fetchall(plain), "opentelemetry": _execute_fetchall(traced)},
                      n, rounds, baseline="plain", between=between)
    fetch = compare({"plain": _fetchone(plain), "opentelemetry": _fetchone(traced)},
                    n, rounds, baseline="plain", between=between)
    provider.shutdown()
    return {"execute_fetchall": execute, "fetchone": fetch, "statements_per_round": n, "rounds": rounds}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
