"""DuckDB, embedded: connections, cursors, module-level ``duckdb.execute/sql/query``, lazy relations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ryft_instrument
from ryft_instrument.testing import IngestServer

duckdb = pytest.importorskip("duckdb")


def _records(ingest: IngestServer, count: int) -> list[dict[str, Any]]:
    assert ryft_instrument.flush(5)
    records = ingest.wait_for(count)
    assert not ingest.invalid
    return records


def test_duckdb_connection_cursor_and_module_functions(ingest: IngestServer, tmp_path: Path) -> None:
    ryft_instrument.instrument_dbapi(duckdb)
    try:
        conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
        assert isinstance(conn, duckdb.DuckDBPyConnection)
        with conn:
            assert conn.execute("CREATE TABLE t (id INTEGER, name VARCHAR)") is conn
            conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, "secret-one"), (2, "secret-two")])
            cur = conn.cursor()
            assert cur.execute("SELECT id FROM t WHERE name <> ? ORDER BY id", ["secret-x"]).fetchall() == [(1,),
                                                                                                            (2,)]
            with pytest.raises(duckdb.CatalogException):
                cur.execute("SELECT * FROM missing_table")
        assert duckdb.execute("SELECT 42").fetchall() == [(42,)]
        assert duckdb.sql("SELECT 43").fetchall() == [(43,)]
    finally:
        ryft_instrument.uninstrument_dbapi(duckdb)
    records = _records(ingest, 6)
    assert [(r["query"], r["queryState"]) for r in records] == [
        ("CREATE TABLE t (id INTEGER, name VARCHAR)", "FINISHED"),
        ("INSERT INTO t VALUES (?, ?)", "FINISHED"),
        ("SELECT id FROM t WHERE name <> ? ORDER BY id", "FINISHED"),
        ("SELECT * FROM missing_table", "FAILED"),
        ("SELECT 42", "FINISHED"),
        ("SELECT 43", "FINISHED"),
    ]
    assert "secret" not in repr(records)
    assert records[0]["context"]["catalog"] == "warehouse" and records[4]["context"]["catalog"] == "memory"
    assert records[0]["context"]["serverVersion"] == duckdb.__version__
    failure = records[3]["failureInfo"]
    first = failure[0] if isinstance(failure, list) else failure
    assert first["failureType"].endswith("CatalogException")


def test_lazy_relation_duration_is_the_sql_call(ingest: IngestServer) -> None:
    """``conn.sql()`` of a query returns a relation before running it: its record (made at the call, FINISHED)
    covers planning, not the fetch. A statement that is not a query runs inside the call."""
    conn = ryft_instrument.instrument_connection(duckdb.connect())
    conn.sql("CREATE TABLE big AS SELECT range AS x FROM range(10)")
    relation = conn.sql("SELECT sum(x) FROM big")
    (created, planned) = _records(ingest, 2)
    assert planned["query"] == "SELECT sum(x) FROM big" and planned["queryState"] == "FINISHED"
    assert relation.fetchall() == [(45,)]  # runs now; no further record
    with pytest.raises(duckdb.ParserException):
        conn.sql("SELEC nonsense")
    records = _records(ingest, 3)
    assert len(records) == 3 and records[2]["queryState"] == "FAILED"
    assert created["context"]["queryType"] == "INSERT"  # CREATE TABLE … AS query


def test_duckdb_engine_over_an_instrumented_driver_records_once(ingest: IngestServer) -> None:
    """duckdb_engine wraps the driver's connection in its own ``ConnectionWrapper``, out of ``UNWRAP``'s reach: the
    SQLAlchemy hook silences our connection inside it, so each statement is recorded once, by the hook, with the
    engine's context (zero-code and ``pytest --ryft`` instrument both layers)."""
    import sqlalchemy as sa

    ryft_instrument.instrument_dbapi(duckdb)
    try:
        engine = ryft_instrument.instrument(sa.create_engine("duckdb:///:memory:"))
        with engine.connect() as conn:
            for _ in range(3):  # the second and third on the hot path
                assert conn.execute(sa.text("SELECT 42 /* dde */")).scalar() == 42
            conn.execute(sa.text("CREATE TABLE t (a INTEGER) /* dde */"))
            conn.execute(sa.text("INSERT INTO t VALUES (:a) /* dde */"), [{"a": 1}, {"a": 2}])
            with pytest.raises(sa.exc.ProgrammingError):
                conn.execute(sa.text("SELECT nope /* dde */"))
        engine.dispose()
        direct = duckdb.connect()
        direct.execute("SELECT 'direct' /* dde */")
        direct.close()
    finally:
        ryft_instrument.uninstrument_dbapi(duckdb)
    assert ryft_instrument.flush(5)
    records = [r for r in ingest.wait_for(7) if "dde" in r["query"]]
    # SQLAlchemy 2 renders duckdb_engine's placeholders as $1, 1.4 as ?
    assert sorted((r["query"].replace("$1", "?"), r["queryState"]) for r in records) == sorted(
        [("SELECT 42 /* dde */", "FINISHED")] * 3 + [
            ("CREATE TABLE t (a INTEGER) /* dde */", "FINISHED"),
            ("INSERT INTO t VALUES (?) /* dde */", "FINISHED"),
            ("SELECT nope /* dde */", "FAILED"),
            ("SELECT 'direct' /* dde */", "FINISHED")])
    engine_contexts = {json.dumps(r["context"], sort_keys=True) for r in records
                       if "direct" not in r["query"] and r["context"]["queryType"] == "SELECT"}
    assert len(engine_contexts) == 1
    context = json.loads(engine_contexts.pop())
    # DuckDB is the driver and the server (duckdb_engine's dialect reports the PostgreSQL version it mimics).
    assert context["catalog"] == "memory" and context["serverVersion"] == duckdb.__version__
    assert " duckdb/%s sqlalchemy/" % duckdb.__version__ in context["userAgent"]
    # The dialect's own first statement (on first_connect, before any connect listener) is recorded once too.
    assert [q for q in ingest.queries() if q == "select current_schema()"] == ["select current_schema()"]


def test_replacement_scans_see_the_callers_variables(ingest: IngestServer) -> None:
    """DuckDB reads an unknown table name from the variables of the Python frame that called it (a DataFrame, an
    Arrow table, a relation): instrumented, that is still the application's frame, even for names our own code
    uses (``query``, ``args``), and DuckDB's error for an unsuitable variable still names the application's line."""
    ryft_instrument.instrument_dbapi(duckdb)
    try:
        conn = duckdb.connect()
        query = conn.sql("SELECT range AS x FROM range(4)")  # noqa: F841 - read by DuckDB, by name
        assert conn.execute("SELECT sum(x) FROM query").fetchall() == [(6,)]
        assert conn.sql("SELECT count(*) FROM query").fetchall() == [(4,)]
        rel = duckdb.sql("SELECT 7 AS y")  # noqa: F841
        assert duckdb.execute("SELECT y FROM rel").fetchall() == [(7,)]
        args = 5  # noqa: F841
        with pytest.raises(duckdb.InvalidInputException) as info:
            conn.execute("SELECT * FROM args")
        assert "test_dbapi_duckdb.py:" in str(info.value)
    finally:
        ryft_instrument.uninstrument_dbapi(duckdb)
    queries = [(r["query"], r["queryState"]) for r in _records(ingest, 6)]
    assert ("SELECT sum(x) FROM query", "FINISHED") in queries and ("SELECT * FROM args", "FAILED") in queries


def test_statement_objects_are_recorded_by_their_text(ingest: IngestServer) -> None:
    conn = ryft_instrument.instrument_connection(duckdb.connect())
    for statement in conn.extract_statements("CREATE TABLE s (a INT); INSERT INTO s VALUES (1); SELECT * FROM s"):
        conn.execute(statement)
    assert conn.fetchall() == [(1,)]
    records = _records(ingest, 3)
    assert [(r["query"].strip(" ;"), r["context"]["queryType"]) for r in records] == [
        ("CREATE TABLE s (a INT)", "DATA_DEFINITION"), ("INSERT INTO s VALUES (1)", "INSERT"),
        ("SELECT * FROM s", "SELECT")]
