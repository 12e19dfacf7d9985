"""PyMySQL against the real MariaDB server (fixture ``mariadb_kwargs``)."""

from __future__ import annotations

from typing import Any

import pytest

import ryft_instrument
from ryft_instrument.testing import IngestServer

pymysql = pytest.importorskip("pymysql")


def test_pymysql_statements_and_context(ingest: IngestServer, mariadb_kwargs: dict[str, Any]) -> None:
    ryft_instrument.instrument_dbapi(pymysql)
    try:
        conn = pymysql.connect(**mariadb_kwargs)
        assert pymysql.Connection is pymysql.connections.Connection
    finally:
        ryft_instrument.uninstrument_dbapi(pymysql)
    assert isinstance(conn, pymysql.connections.Connection)
    with conn:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE ryft_t (id INT, name VARCHAR(50))")
            assert cur.execute("INSERT INTO ryft_t VALUES (%s, %s)", (1, "secret-one")) == 1
            assert cur.executemany("INSERT INTO ryft_t VALUES (%s, %s)", [(2, "secret-two"), (3, "secret-3")]) == 2
            cur.execute("SELECT id FROM ryft_t ORDER BY id")
            assert cur.rowcount == 3 and cur.fetchone() == (1,) and list(cur) == [(2,), (3,)]
            with pytest.raises(pymysql.err.OperationalError) as info:
                cur.execute("SELECT missing_column FROM ryft_t")
            assert info.value.args[0] == 1054
            cur.execute("CREATE PROCEDURE IF NOT EXISTS ryft_double(IN x INT) SELECT x * 2")
            cur.callproc("ryft_double", (21,))
            assert cur.fetchone() == (42,)
            while cur.nextset():
                pass
            cur.execute("DROP PROCEDURE ryft_double")
    assert ryft_instrument.flush(5)
    records = ingest.wait_for(8)
    assert not ingest.invalid
    assert [(r["query"], r["queryState"]) for r in records] == [
        ("CREATE TEMPORARY TABLE ryft_t (id INT, name VARCHAR(50))", "FINISHED"),
        ("INSERT INTO ryft_t VALUES (%s, %s)", "FINISHED"),
        ("INSERT INTO ryft_t VALUES (%s, %s)", "FINISHED"),
        ("SELECT id FROM ryft_t ORDER BY id", "FINISHED"),
        ("SELECT missing_column FROM ryft_t", "FAILED"),
        ("CREATE PROCEDURE IF NOT EXISTS ryft_double(IN x INT) SELECT x * 2", "FINISHED"),
        ("CALL ryft_double(@_ryft_double_0)", "FINISHED"),
        ("DROP PROCEDURE ryft_double", "FINISHED"),
    ]
    assert "secret" not in repr(records)
    failure = records[4]["failureInfo"]
    first = failure[0] if isinstance(failure, list) else failure
    assert first["failureType"] == "pymysql.err.OperationalError" and "1054" in first["failureMessage"]
    context = records[0]["context"]
    assert (context["catalog"], context["schema"], context["user"]) == ("test", "test", "root")
    assert context["serverVersion"][0].isdigit() and not context["serverVersion"].startswith("5.5.5-")
    assert " pymysql/%s " % pymysql.VERSION_STRING in context["userAgent"]  # not __version__, mysqlclient's


def test_pymysql_sqlalchemy_on_an_instrumented_driver_records_once(ingest: IngestServer,
                                                                    mariadb_kwargs: dict[str, Any]) -> None:
    sa = pytest.importorskip("sqlalchemy")
    ryft_instrument.instrument_dbapi(pymysql)
    try:
        engine = ryft_instrument.instrument(sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/test"))
        with engine.connect() as conn:
            for _ in range(3):  # the second and third on the hot path, through the driver's cursor in our proxy
                assert conn.execute(sa.text("SELECT :x + 1"), {"x": 41}).scalar() == 42
        engine.dispose()
    finally:
        ryft_instrument.uninstrument_dbapi(pymysql)
    assert ryft_instrument.flush(5)
    queries = ingest.queries()
    assert queries.count("SELECT %(x)s + 1") == 3
    others = [q for q in queries if q != "SELECT %(x)s + 1"]
    assert len(others) == len(set(others))  # SQLAlchemy's own first statements, once each


@pytest.mark.parametrize("how", ["instrument_connection", "instrument_dbapi"])
def test_cursor_connection_is_the_instrumented_one(ingest: IngestServer, mariadb_kwargs: dict[str, Any],
                                                   how: str) -> None:
    if how == "instrument_connection":
        conn = ryft_instrument.instrument_connection(pymysql.connect(**mariadb_kwargs))
    else:
        ryft_instrument.instrument_dbapi(pymysql)
        try:
            conn = pymysql.connect(**mariadb_kwargs)
        finally:
            ryft_instrument.uninstrument_dbapi(pymysql)
    with conn:
        cursor = conn.cursor()
        assert cursor.connection is conn
        with cursor.connection.cursor() as other:
            other.execute("SELECT 'through cursor.connection'")
    assert ryft_instrument.flush(5)
    assert [r["query"] for r in ingest.wait_for(1)] == ["SELECT 'through cursor.connection'"]
