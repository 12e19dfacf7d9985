"""Export: CPU per record, records/s delivered to a loopback endpoint (plain and gzip), and the total CPU a recorded
statement costs the process, application thread and exporter together (SPEC §8: ≤ 5 µs; ≥ 100,000 records/s).

The endpoint runs in a child process, so the CPU counted here (``time.process_time``: every thread of this
process) is ours alone: building records, JSON, gzip, HTTP. A second run against the validating
``IngestServer`` checks that every record arrives and passes the schema.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import sqlalchemy as sa

import ryft_instrument
from ryft_instrument import recorder, runtime

from ._common import compare, delivering_to, endpoint

# A realistic mix: ORM-style statements of a few hundred characters, parameters bound, one failure in fifty.
_SETUP = "CREATE TABLE account (id INTEGER PRIMARY KEY, email TEXT, name TEXT, created TEXT, balance REAL)"
_MIX = [
    ("SELECT account.id AS account_id, account.email AS account_email, account.name AS account_name, "
     "account.created AS account_created, account.balance AS account_balance FROM account "
     "WHERE account.id = :id", {"id": 1}),
    ("INSERT INTO account (email, name, created, balance) VALUES (:email, :name, :created, :balance)",
     {"email": "a@example.com", "name": "A", "created": "2026-01-01", "balance": 1.5}),
    ("UPDATE account SET balance=:balance WHERE account.id = :id", {"balance": 2.5, "id": 1}),
    ("SELECT count(*) AS count_1 FROM account WHERE account.balance > :balance_1", {"balance_1": 0}),
]
_FAILING = "SELECT missing_column FROM account"


def capture_events(count: int) -> list[tuple]:
    """``count`` queue events made by an instrumented engine running the mix (recording with no destination)."""
    runtime.reset_for_tests()
    events: list[tuple] = []
    recorder.add_observer(events.append)
    try:
        engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
        recorder.no_destination = False  # no "records go nowhere" warning: the observer is the destination here
        with engine.connect() as conn:
            conn.exec_driver_sql(_SETUP)
            statements = [(sa.text(sql), params) for sql, params in _MIX]
            while len(events) < count:
                for index, (statement, params) in enumerate(statements):
                    conn.execute(statement, params)
                    if index == 0 and len(events) % 50 == 0:
                        try:
                            conn.exec_driver_sql(_FAILING)
                        except sa.exc.DBAPIError:
                            conn.rollback()
        engine.dispose()
    finally:
        ryft_instrument.uninstrument()
        runtime.reset_for_tests()
    return events[:count]


def _deliver(events: list[tuple]) -> tuple[float, float, bool]:
    """Queue ``events`` with the exporter idle, then time their delivery: (wall s, CPU s, all delivered)."""
    recorder.buffer.extend(events[:-1])
    context, query, start, duration, _failure, query_id, session, _tags = events[-1]
    cpu, wall = time.process_time(), time.perf_counter()
    # A real record() of the last event starts the worker, which drains the whole queue.
    recorder.record(context, query, start, duration, None, query_id, session)
    delivered = ryft_instrument.flush(120)
    return time.perf_counter() - wall, time.process_time() - cpu, delivered


def throughput(events: list[tuple], rounds: int) -> dict[str, Any]:
    """Records/s and exporter CPU µs per record, uncompressed and gzip, rounds interleaved."""
    samples: dict[str, list[tuple[float, float, bool]]] = {"plain": [], "gzip": []}
    with endpoint() as server:
        with delivering_to(server):  # warm-up: imports, the first connection
            _deliver(events[:100])
        for _ in range(rounds):
            for name in samples:
                compression = "gzip" if name == "gzip" else None
                with delivering_to(server, batch_size=500, queue_size=10_000_000, compression=compression):
                    samples[name].append(_deliver(events))
    result: dict[str, Any] = {"records": len(events), "rounds": rounds}
    for name, runs in samples.items():
        result[name] = {
            "records_per_s": round(statistics.median(len(events) / wall for wall, _, _ in runs)),
            "cpu_us_per_record": round(statistics.median(cpu / len(events) * 1e6 for _, cpu, _ in runs), 3),
            "delivered": all(ok for _, _, ok in runs),
        }
    return result


def validated(events: list[tuple]) -> dict[str, Any]:
    """Deliver once to the validating IngestServer: every record must arrive and pass the schema."""
    with endpoint(validating=True) as server, delivering_to(server, queue_size=10_000_000):
        _, _, delivered = _deliver(events)
        accepted, invalid = server.received()
    return {"sent": len(events), "accepted": accepted, "invalid": invalid,
            "ok": delivered and accepted == len(events) and invalid == 0}


def total_cpu(n: int, rounds: int) -> dict[str, Any]:
    """CPU of the whole process for ``n`` SQLAlchemy ``SELECT 1`` with live export (default batching, to the
    loopback endpoint, flushed at the end of the round) minus the same without instrumentation, per statement."""
    statement = sa.text("SELECT 1")
    with endpoint() as server, delivering_to(server, queue_size=10_000_000):
        plain = sa.create_engine("sqlite://").connect()
        ours = ryft_instrument.instrument(sa.create_engine("sqlite://")).connect()

        def body(conn: Any, flush: bool) -> Any:
            execute = conn.execute

            def timed(count: int) -> float:
                cpu = time.process_time()
                for _ in range(count):
                    execute(statement).scalar()
                if flush:
                    ryft_instrument.flush(60)
                return time.process_time() - cpu

            return timed

        ryft_instrument.flush(10)
        result: dict[str, Any] = compare({"plain": body(plain, False), "ryft": body(ours, True)}, n, rounds,
                                         baseline="plain")
        plain.close()
        ours.close()
    return {"statements_per_round": n, "rounds": rounds, "plain_cpu_us": result["plain"]["us"],
            "ryft_cpu_us": result["ryft"]["us"], "added_cpu_us": result["ryft"]["added_us"]}


def run(quick: bool) -> dict[str, Any]:
    count, rounds, n, cpu_rounds = (2000, 1, 500, 3) if quick else (50000, 5, 5000, 15)
    events = capture_events(count)
    result: dict[str, Any] = {
        "throughput": throughput(events, rounds),
        "validated": validated(events[: min(count, 5000)]),
        "total_cpu": total_cpu(n, cpu_rounds),
    }
    result["targets"] = {
        "total_cpu_us_per_statement": result["total_cpu"]["added_cpu_us"],
        "exporter_records_per_s": result["throughput"]["plain"]["records_per_s"],
    }
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
