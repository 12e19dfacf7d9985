"""trino: the real ``trino`` client, unmodified, against a loopback Trino server (tests/trino_server.py)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import ryft_instrument
from ryft_instrument.integrations import dbapi_trino
from ryft_instrument.testing import IngestServer

trino_dbapi = pytest.importorskip("trino.dbapi")

import trino.exceptions  # noqa: E402
from trino_server import Answer, TrinoServer, user_error  # noqa: E402 - after the importorskip


@pytest.fixture
def server() -> Iterator[TrinoServer]:
    with TrinoServer(version="476") as running:
        yield running


def _connect(server: TrinoServer, **kwargs: Any) -> Any:
    return trino_dbapi.connect(host="127.0.0.1", port=server.port, user="alice", catalog="hive", schema="web",
                               http_scheme="http", legacy_prepared_statements=False, **kwargs)


def test_queries_carry_trinos_id_and_context(ingest: IngestServer, server: TrinoServer) -> None:
    server.answers["SELECT name"] = Answer(columns=[("name", "varchar")], rows=[["a"], ["b"], ["c"]], page=2)
    conn = ryft_instrument.instrument_connection(_connect(server))
    cur = conn.cursor()
    assert cur.execute("SELECT name FROM users WHERE id = ?", ["secret-id"]) is cur
    assert cur.fetchall() == [["a"], ["b"], ["c"]]  # three rows over two pages
    cur.execute("SELECT 1")
    assert next(iter(cur)) == [1]
    assert ryft_instrument.flush(5)
    records = ingest.wait_for(2)
    first, second = records
    assert first["queryId"] == "20260310_120000_00001_ryft0" and second["queryId"] == "20260310_120000_00002_ryft0"
    assert first["query"] == "SELECT name FROM users WHERE id = ?"
    assert "secret-id" not in repr(records)
    assert first["context"] == {"catalog": "hive", "schema": "web", "user": "alice", "serverVersion": "476",
                                "queryType": "SELECT", "userAgent": first["context"]["userAgent"]}
    assert " trino/" in first["context"]["userAgent"]
    assert [r["queryState"] for r in records] == ["FINISHED", "FINISHED"]
    assert not ingest.invalid


def test_a_failed_query_keeps_its_id_and_trinos_error(ingest: IngestServer, server: TrinoServer) -> None:
    server.answers["SELECT * FROM missing"] = Answer(error=user_error("TABLE_NOT_FOUND", 46,
                                                                      "line 1:15: Table 'hive.web.missing' does "
                                                                      "not exist"))
    cur = ryft_instrument.instrument_connection(_connect(server)).cursor()
    with pytest.raises(trino.exceptions.TrinoUserError) as info:
        cur.execute("SELECT * FROM missing")
    assert info.value.error_name == "TABLE_NOT_FOUND"
    assert ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert record["queryState"] == "FAILED"
    assert record["queryId"] == info.value.query_id == "20260310_120000_00001_ryft0"
    failure = record["failureInfo"]
    first = failure[0] if isinstance(failure, list) else failure
    assert first["failureType"] == "trino.exceptions.TrinoUserError"
    assert first["errorCode"]["type"] == "USER_ERROR"
    assert "TABLE_NOT_FOUND" in first["failureMessage"]


def test_version_is_asked_once_per_coordinator(server: TrinoServer) -> None:
    dbapi_trino._versions.clear()
    ryft_instrument.instrument_dbapi(trino_dbapi)
    try:
        conns = [_connect(server) for _ in range(3)]
    finally:
        ryft_instrument.uninstrument_dbapi(trino_dbapi)
    assert all(c._self_site[0]["serverVersion"] == "476" for c in conns)
    assert server.info_requests == 1
    assert not server.statements  # no query was run to learn it


def test_executemany_and_with_blocks(ingest: IngestServer, server: TrinoServer) -> None:
    server.answers["INSERT"] = Answer(columns=[("rows", "bigint")], rows=[[1]], update_type="INSERT")
    with ryft_instrument.instrument_connection(_connect(server)) as conn:
        cur = conn.cursor()
        assert cur.executemany("INSERT INTO t VALUES (?)", [[1], [2]]) is cur
    assert ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert record["query"] == "INSERT INTO t VALUES (?)" and record["context"]["queryType"] == "INSERT"
    assert record["queryId"] == "20260310_120000_00002_ryft0"  # the last of the two statements sent


def test_sqlalchemy_trino_dialect(ingest: IngestServer, server: TrinoServer) -> None:
    sa = pytest.importorskip("sqlalchemy")
    pytest.importorskip("trino.sqlalchemy")
    dbapi_trino._versions.clear()
    engine = ryft_instrument.instrument(sa.create_engine("trino://alice@127.0.0.1:%d/hive/web" % server.port))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    engine.dispose()
    assert ryft_instrument.flush(5)
    record = [r for r in ingest.wait_for(1) if r["query"] == "SELECT 1"][-1]
    context = record["context"]
    assert (context["catalog"], context["schema"], context["user"]) == ("hive", "web", "alice")
    assert context["serverVersion"] == "476"
    assert server.info_requests == 1
    assert "SELECT version()" not in [sql for sql, _ in server.statements]
    assert record["queryId"].startswith("20260310_120000_") and record["queryId"].endswith("_ryft0")
