"""Trino, two ways: the ``trino.dbapi`` client and SQLAlchemy's ``trino://`` dialect.

Each record's ``queryId`` is Trino's own query id, so a statement can be followed from Query Explorer to the
coordinator's UI; ``serverVersion`` comes from the coordinator's ``/v1/info`` (no extra query).

    RYFT_OUTPUT=q.jsonl python examples/trino_example.py [HOST [PORT]]
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
import trino.dbapi
import trino.exceptions

import ryft_instrument


def main(host: str, port: int) -> None:
    ryft_instrument.instrument_dbapi(trino.dbapi)
    conn = trino.dbapi.connect(host=host, port=port, user="analyst", catalog="hive", schema="web",
                               http_scheme="http")
    cursor = conn.cursor()
    cursor.execute("SELECT name FROM customers ORDER BY name")
    print("customers:", [row[0] for row in cursor.fetchall()])
    try:
        cursor.execute("SELECT * FROM missing_table")
    except trino.exceptions.TrinoUserError as exc:
        print("failed as expected:", exc.error_name)

    engine = ryft_instrument.instrument(sa.create_engine("trino://analyst@%s:%d/hive/web" % (host, port)))
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT count(*) FROM orders")).fetchall()
    engine.dispose()
    print("delivered:", ryft_instrument.flush(10))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "localhost", int(sys.argv[2]) if len(sys.argv) > 2 else 8080)
