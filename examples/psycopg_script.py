"""A plain psycopg (3) script, no SQLAlchemy: wrap the connection and use it as before.

    RYFT_OUTPUT=queries.jsonl python examples/psycopg_script.py "host=127.0.0.1 user=postgres dbname=test"

``ryft_instrument.instrument_dbapi(psycopg)`` would instead wrap every connection the module makes, and
``RYFT_INSTRUMENT=1`` (or ``ryft-instrument python …``) does that with no code change at all.
"""

from __future__ import annotations

import sys

import psycopg

import ryft_instrument


def main(dsn: str) -> None:
    conn = ryft_instrument.instrument_connection(psycopg.connect(dsn))
    with conn:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE ryft_example_city (name text PRIMARY KEY, population integer)")
            cur.executemany("INSERT INTO ryft_example_city VALUES (%s, %s)",
                            [("Lisbon", 545_000), ("Porto", 232_000), ("Braga", 193_000)])
            cur.execute("SELECT name FROM ryft_example_city WHERE population > %s ORDER BY population DESC",
                        (200_000,))
            print("big cities: %s" % [row[0] for row in cur.fetchall()])
            cur.execute("INSERT INTO ryft_example_city VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                        "SET population = excluded.population", ("Porto", 240_000))
        try:
            conn.execute("SELECT population / 0 FROM ryft_example_city")
        except psycopg.errors.DivisionByZero:
            conn.rollback()
            print("the failing statement is recorded with failureInfo (DIVISION_BY_ZERO)")
    print("delivered: %s" % ryft_instrument.flush(timeout=5.0))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "host=127.0.0.1 user=postgres dbname=test")
