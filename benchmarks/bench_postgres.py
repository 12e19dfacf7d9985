"""A PostgreSQL round trip with psycopg (``SELECT 1``): plain vs instrumented, through SQLAlchemy and through the
DB-API proxy, to show the overhead against a real network database. PostgreSQL at 127.0.0.1:5432 (user postgres,
db test; ``RYFT_TEST_POSTGRES_DSN`` overrides)."""

from __future__ import annotations

import os
from time import perf_counter
from typing import Any

import ryft_instrument

from ._common import IDLE_EXPORTER, Timed, compare, delivering_to, endpoint, installed

DSN = os.environ.get("RYFT_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


def _sqlalchemy(conn: Any, statement: Any) -> Timed:
    def timed(n: int) -> float:
        start = perf_counter()
        for _ in range(n):
            conn.execute(statement).scalar()
        return perf_counter() - start

    return timed


def _dbapi(conn: Any) -> Timed:
    def timed(n: int) -> float:
        cursor = conn.cursor()
        start = perf_counter()
        for _ in range(n):
            cursor.execute("SELECT 1")
            cursor.fetchall()
        return perf_counter() - start

    return timed


def run(quick: bool) -> dict[str, Any]:
    if not installed("psycopg", "sqlalchemy"):
        return {"status": "not available", "error": "psycopg or sqlalchemy is not installed"}
    import psycopg
    import sqlalchemy as sa

    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except Exception as exc:
        return {"status": "not available", "error": "PostgreSQL at %s: %s" % (DSN, exc)}
    n, rounds = (100, 3) if quick else (1000, 21)
    url = sa.engine.URL.create("postgresql+psycopg", query={"conninfo": DSN})
    statement = sa.text("SELECT 1")
    with endpoint() as server, delivering_to(server, **IDLE_EXPORTER):
        plain_engine = sa.create_engine(url)
        ryft_engine = ryft_instrument.instrument(sa.create_engine(url))
        closing: list[Any] = [plain_engine.connect(), ryft_engine.connect()]
        variants = {"plain": _sqlalchemy(closing[0], statement), "ryft": _sqlalchemy(closing[1], statement)}
        result: dict[str, Any] = {"round_trips_per_round": n, "rounds": rounds}

        def between() -> None:
            ryft_instrument.flush(30)

        try:
            result["sqlalchemy"] = compare(variants, n, rounds, baseline="plain", between=between)
            raw = psycopg.connect(DSN, autocommit=True)
            closing.append(raw)
            try:
                proxied = ryft_instrument.instrument_connection(psycopg.connect(DSN, autocommit=True))
                closing.append(proxied)
            except Exception as exc:  # the DB-API integration may not be there yet
                result["dbapi"] = "not available: %s: %s" % (type(exc).__name__, exc)
            else:
                result["dbapi"] = compare({"plain": _dbapi(raw), "ryft": _dbapi(proxied)}, n, rounds,
                                          baseline="plain", between=between)
        finally:
            for conn in closing:
                conn.close()
            plain_engine.dispose()
            ryft_engine.dispose()
        result["ryft_delivered"] = ryft_instrument.flush(30)
        return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
