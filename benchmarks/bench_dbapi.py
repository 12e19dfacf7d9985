"""sqlite3 through the DB-API integration: plain vs ours (SPEC §8: ``execute`` ≤ 1.0 µs added; issue 4: the fetch
path, ``fetchone`` + ``rowcount``, ≤ 0.3 µs added).

Variants, each on its own in-memory connection (sharing one would make SQLite re-prepare statements in use):
``plain`` and ``control`` (a second plain connection: its ``added_us`` is this run's noise floor), ``connection``
(``instrument_connection``: a wrapt proxy whose cursors are real ``sqlite3.Cursor`` subclasses), ``dbapi``
(``instrument_dbapi(sqlite3)``: real subclasses of connection and cursor), and ``wrapt_cursor`` (the generic
``CursorProxy`` the Python-level drivers get, for scale). Recording is on with the exporter idle during a round and
delivering to a loopback endpoint between rounds; thread CPU time, interleaved rounds, medians (``_common``).
Run: ``python -m benchmarks.bench_dbapi [--quick]``.
"""

from __future__ import annotations

import sqlite3
from time import thread_time
from typing import Any

import ryft_instrument
from ryft_instrument import counters, recorder
from ryft_instrument.integrations import dbapi_sqlite3
from ryft_instrument.integrations.dbapi import CursorProxy

from ._common import IDLE_EXPORTER, Timed, compare, delivering_to, endpoint

ROWS = 2000


def _cursors() -> dict[str, Any]:
    ryft_instrument.instrument_dbapi(sqlite3)
    try:
        dbapi_conn = sqlite3.connect(":memory:")
    finally:
        ryft_instrument.uninstrument_dbapi(sqlite3)
    proxied = ryft_instrument.instrument_connection(sqlite3.connect(":memory:"))
    return {
        "plain": sqlite3.connect(":memory:").cursor(),
        "control": sqlite3.connect(":memory:").cursor(),
        "connection": proxied.cursor(),
        "dbapi": dbapi_conn.cursor(),
        "wrapt_cursor": CursorProxy(sqlite3.connect(":memory:").cursor(),
                                    (dbapi_sqlite3.CONTEXT, recorder.record, 0, None)),
    }


def _execute(cursor: Any) -> Timed:
    def timed(n: int) -> float:
        execute = cursor.execute
        start = thread_time()
        for _ in range(n):
            execute("SELECT 1").fetchall()
        return thread_time() - start

    return timed


def _fetch(cursor: Any) -> Timed:
    cursor.execute("CREATE TABLE IF NOT EXISTS big (x INTEGER)")
    cursor.execute("DELETE FROM big")
    cursor.executemany("INSERT INTO big VALUES (?)", [(i,) for i in range(ROWS)])

    def timed(n: int) -> float:
        cursor.execute("SELECT x FROM big")
        fetchone = cursor.fetchone
        start = thread_time()
        for _ in range(n):
            fetchone()
            cursor.rowcount  # noqa: B018 - the attribute read is what is measured
        return thread_time() - start

    return timed


def run(quick: bool) -> dict[str, Any]:
    n, rounds = (300, 3) if quick else (ROWS, 41)
    with endpoint() as server, delivering_to(server, **IDLE_EXPORTER):
        cursors = _cursors()

        def between() -> None:
            ryft_instrument.flush(30)

        result: dict[str, Any] = {
            "execute_fetchall": compare({k: _execute(c) for k, c in cursors.items()}, n, rounds, "plain", between),
            "fetch_path": compare({k: _fetch(c) for k, c in cursors.items()}, n, rounds, "plain", between),
        }
        result["statements_per_round"] = n
        result["rounds"] = rounds
        result["ryft_delivered"] = ryft_instrument.flush(30) and counters.value("sent") > 0
        result["targets"] = {
            "execute_added_us": result["execute_fetchall"]["dbapi"]["added_us"],
            "fetch_added_us": result["fetch_path"]["dbapi"]["added_us"],
        }
        return result


def table(result: dict[str, Any]) -> str:
    lines = ["%-18s %-13s %9s %9s" % ("path", "variant", "µs", "added µs")]
    for path in ("execute_fetchall", "fetch_path"):
        for name, row in result[path].items():
            lines.append("%-18s %-13s %9.3f %9s" % (path, name, row["us"], row.get("added_us", "-")))
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    outcome = run("--quick" in sys.argv)
    print(table(outcome))
    print(json.dumps(outcome, indent=2))
