"""psycopg 3 (sync and async) and psycopg2 against the real PostgreSQL server (fixture ``postgres_dsn``)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from conftest import with_driver

import ryft_instrument
from ryft_instrument.testing import IngestServer

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("psycopg2")
import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402
import psycopg2.extras  # noqa: E402


def _records(ingest: IngestServer, count: int) -> list[dict[str, Any]]:
    assert ryft_instrument.flush(5)
    records = ingest.wait_for(count)
    assert not ingest.invalid
    return records


def _first_failure(record: dict[str, Any]) -> dict[str, Any]:
    failure = record["failureInfo"]
    return failure[0] if isinstance(failure, list) else failure


def _check_context(context: dict[str, str], driver: str) -> None:
    assert context["catalog"] == "test" and context["user"] == "postgres"
    assert context["serverVersion"][0].isdigit() and "." in context["serverVersion"]
    assert " %s/" % driver in context["userAgent"]


# -- psycopg 3 -------------------------------------------------------------------------------------------------------


def test_psycopg_statements_copy_and_stream(ingest: IngestServer, postgres_dsn: str) -> None:
    ryft_instrument.instrument_dbapi(psycopg)
    try:
        conn = psycopg.connect(postgres_dsn + " options='-csearch_path=public'")
    finally:
        ryft_instrument.uninstrument_dbapi(psycopg)
    assert isinstance(conn, psycopg.Connection)
    with conn:
        conn.execute("CREATE TEMP TABLE t (id int, name text)")
        with conn.cursor() as cur:
            assert cur.execute("INSERT INTO t VALUES (%s, %s)", (1, "secret-one")) is cur
            cur.executemany("INSERT INTO t VALUES (%s, %s)", [(2, "secret-two"), (3, "secret-three")])
            with cur.copy("COPY t (id, name) FROM STDIN") as copy:
                copy.write_row((4, "secret-four"))
            assert [row for row in cur.stream("SELECT id FROM t WHERE name <> %s ORDER BY id", ("x",))] == [
                (1,), (2,), (3,), (4,)]
            cur.execute("SELECT id FROM t ORDER BY id")
            if hasattr(psycopg.Cursor, "__next__"):  # psycopg >= 3.3 cursors are iterators; before, next() fails
                assert next(cur) == (1,)
            else:
                assert cur.fetchone() == (1,)
            assert cur.fetchone() == (2,) and list(cur) == [(3,), (4,)]
        assert isinstance(conn.execute("SELECT 1"), psycopg.Cursor)
        with pytest.raises(psycopg.errors.UndefinedTable) as info:
            conn.execute("SELECT * FROM missing_table")
        assert info.value.sqlstate == "42P01"
    records = _records(ingest, 8)
    assert [(r["query"].split()[0], r["queryState"]) for r in records] == [
        ("CREATE", "FINISHED"), ("INSERT", "FINISHED"), ("INSERT", "FINISHED"), ("COPY", "FINISHED"),
        ("SELECT", "FINISHED"), ("SELECT", "FINISHED"), ("SELECT", "FINISHED"), ("SELECT", "FAILED")]
    assert records[3]["context"]["queryType"] == "INSERT"
    assert "secret" not in repr(records)
    _check_context(records[0]["context"], "psycopg")
    assert records[0]["context"]["schema"] == "public"
    assert _first_failure(records[-1])["failureType"] == "psycopg.errors.UndefinedTable"


def test_psycopg_async_times_the_await(ingest: IngestServer, postgres_dsn: str) -> None:
    async def main() -> None:
        ryft_instrument.instrument_dbapi(psycopg)
        try:
            conn = await psycopg.AsyncConnection.connect(postgres_dsn)
        finally:
            ryft_instrument.uninstrument_dbapi(psycopg)
        assert isinstance(conn, psycopg.AsyncConnection)
        async with conn:
            async with conn.cursor() as cur:
                assert await cur.execute("SELECT pg_sleep(%s)", (0.05,)) is cur
                await cur.fetchall()
                await cur.execute("SELECT generate_series(1, 3)")
                assert [row async for row in cur] == [(1,), (2,), (3,)]
                assert [row async for row in cur.stream("SELECT 1")] == [(1,)]
                await cur.executemany("SELECT %s", [(1,), (2,)])
            cur2 = await conn.execute("SELECT 2")
            assert await cur2.fetchone() == (2,)

    asyncio.run(main())
    records = _records(ingest, 5)
    assert records[0]["duration_ms"] >= 50  # the await, not the coroutine's creation
    assert [r["query"] for r in records] == ["SELECT pg_sleep(%s)", "SELECT generate_series(1, 3)", "SELECT 1",
                                             "SELECT %s", "SELECT 2"]


def test_psycopg_sqlalchemy_on_an_instrumented_driver_records_once(ingest: IngestServer,
                                                                    postgres_url: str) -> None:
    sa = pytest.importorskip("sqlalchemy")
    ryft_instrument.instrument_dbapi(psycopg)
    try:
        engine = ryft_instrument.instrument(sa.create_engine(with_driver(postgres_url, "psycopg")))
        with engine.connect() as conn:
            for _ in range(3):  # the second and third on the hot path, through the driver's cursor in our proxy
                assert conn.execute(sa.text("SELECT :x + 1"), {"x": 41}).scalar() == 42
            with pytest.raises(sa.exc.DataError):
                conn.execute(sa.text("SELECT 1 / :zero"), {"zero": 0})
        engine.dispose()
    finally:
        ryft_instrument.uninstrument_dbapi(psycopg)
    assert ryft_instrument.flush(5)
    queries = ingest.queries()
    repeated = [q for q in queries if q in ("SELECT %(x)s::INTEGER + 1", "SELECT %(x)s + 1")]
    assert len(repeated) == 3 and len(set(repeated)) == 1
    failed = [r["query"] for r in ingest.records if r["queryState"] == "FAILED"]
    assert len(failed) == 1 and failed[0].startswith("SELECT 1 / ")
    others = [q for q in queries if q not in repeated]
    assert len(others) == len(set(others))  # SQLAlchemy's own first statements, once each


# -- psycopg2 --------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["proxy", "subclass"])
def pg2(request: pytest.FixtureRequest, postgres_dsn: str) -> Any:
    if request.param == "proxy":
        conn = ryft_instrument.instrument_connection(psycopg2.connect(postgres_dsn))
    else:
        ryft_instrument.instrument_dbapi(psycopg2)
        try:
            conn = psycopg2.connect(postgres_dsn)
        finally:
            ryft_instrument.uninstrument_dbapi(psycopg2)
    yield conn
    conn.close()


def test_psycopg2_statements(ingest: IngestServer, pg2: Any) -> None:
    assert isinstance(pg2, psycopg2.extensions.connection)
    with pg2.cursor() as cur:
        assert isinstance(cur, psycopg2.extensions.cursor)
        cur.execute("CREATE TEMP TABLE t (id int, name text)")
        cur.execute("INSERT INTO t VALUES (%s, %s)", (1, "secret-one"))
        cur.execute("INSERT INTO t VALUES (%(id)s, %(name)s)", vars={"id": 2, "name": "secret-two"})
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(3, "secret-three")])
        psycopg2.extras.execute_values(cur, "INSERT INTO t VALUES %s", [(4, "secret-four"), (5, "secret-five")])
        cur.copy_from(io.StringIO("6\tsecret-six\n"), "t")
        out = io.StringIO()
        cur.copy_expert("COPY t TO STDOUT", out)
        assert "secret-six" in out.getvalue()
        cur.callproc("lower", ("SECRET-SEVEN",))
        assert cur.fetchone() == ("secret-seven",)
        cur.execute("SELECT id FROM t ORDER BY id")
        assert cur.rowcount == 6 and next(iter(cur)) == (1,)
        with pytest.raises(psycopg2.errors.UndefinedTable) as info:
            cur.execute("SELECT * FROM missing_table")
        assert info.value.pgcode == "42P01"
    pg2.rollback()
    with pg2.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as dict_cur:
        assert isinstance(dict_cur, psycopg2.extras.RealDictCursor)
        dict_cur.execute("SELECT 1 AS one")
        assert dict_cur.fetchone() == {"one": 1}
    records = _records(ingest, 11)
    assert [r["query"] for r in records] == [
        "CREATE TEMP TABLE t (id int, name text)", "INSERT INTO t VALUES (%s, %s)",
        "INSERT INTO t VALUES (%(id)s, %(name)s)", "INSERT INTO t VALUES (%s, %s)", "INSERT INTO t VALUES %s",
        "COPY t FROM stdin", "COPY t TO STDOUT", "SELECT * FROM lower(%s)", "SELECT id FROM t ORDER BY id",
        "SELECT * FROM missing_table", "SELECT 1 AS one"]
    assert "secret" not in repr(records) and "SECRET" not in repr(records)
    assert records[9]["queryState"] == "FAILED"
    assert _first_failure(records[9])["failureType"] == "psycopg2.errors.UndefinedTable"
    _check_context(records[0]["context"], "psycopg2")


@pytest.mark.parametrize("how", ["proxy", "subclass"])
def test_psycopg2_connection_factories_keep_their_cursors(ingest: IngestServer, postgres_dsn: str, how: str) -> None:
    """``extras.RealDictConnection``, ``DictConnection`` and ``LoggingConnection`` pick their cursor type in a
    ``cursor()`` of their own: it is still theirs (rows, logging), and recorded."""
    log = io.StringIO()

    def connect(factory: Any) -> Any:
        if how == "proxy":
            return ryft_instrument.instrument_connection(psycopg2.connect(postgres_dsn, connection_factory=factory))
        ryft_instrument.instrument_dbapi(psycopg2)
        try:
            return psycopg2.connect(postgres_dsn, connection_factory=factory)
        finally:
            ryft_instrument.uninstrument_dbapi(psycopg2)

    rows = []
    for factory in (psycopg2.extras.RealDictConnection, psycopg2.extras.DictConnection,
                    psycopg2.extras.LoggingConnection):
        conn = connect(factory)
        if factory is psycopg2.extras.LoggingConnection:
            conn.initialize(log)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT 1 AS one /* %s */" % factory.__name__)
            rows.append(cur.fetchone())
        conn.close()
    assert type(rows[0]) is psycopg2.extras.RealDictRow and rows[0] == {"one": 1}
    assert type(rows[1]) is psycopg2.extras.DictRow and rows[1]["one"] == 1
    assert rows[2] == (1,) and "SELECT 1 AS one /* LoggingConnection */" in log.getvalue()
    assert [r["query"] for r in _records(ingest, 3)] == [
        "SELECT 1 AS one /* %s */" % name for name in ("RealDictConnection", "DictConnection", "LoggingConnection")]

    class Counting(psycopg2.extensions.connection):
        """An application's own connection class: a ``cursor()`` that counts and picks no cursor type."""

        opened = 0

        def cursor(self, *args: Any, **kwargs: Any) -> Any:
            Counting.opened += 1
            return super().cursor(*args, **kwargs)

    with connect(Counting) as conn, conn.cursor() as cur:
        assert isinstance(cur, psycopg2.extensions.cursor)
        cur.execute("SELECT 2 /* Counting */")
        assert cur.fetchone() == (2,)
    assert Counting.opened == 1
    assert [r["query"] for r in _records(ingest, 4)][3:] == ["SELECT 2 /* Counting */"]


def test_psycopg2_c_functions_accept_the_instrumented_objects(pg2: Any) -> None:
    cur = pg2.cursor()
    assert psycopg2.extensions.quote_ident("a b", pg2) == '"a b"'
    assert psycopg2.extensions.quote_ident("c", cur) == '"c"'
    psycopg2.extensions.register_type(psycopg2.extensions.UNICODE, pg2)
    psycopg2.extensions.register_type(psycopg2.extensions.UNICODE, cur)
    psycopg2.extras.register_uuid(None, pg2)
    psycopg2.extras.register_default_json(pg2)
    cur.execute("SELECT '{\"a\": 1}'::json")
    assert cur.fetchone() == ({"a": 1},)
    if not isinstance(pg2, ryft_instrument.integrations.dbapi.ConnectionProxy):  # type: ignore[attr-defined]
        adapted = psycopg2.extensions.adapt("x'y")
        adapted.prepare(pg2)
        assert adapted.getquoted() == b"'x''y'"


def test_psycopg2_sqlalchemy_on_an_instrumented_driver_records_once(ingest: IngestServer,
                                                                     postgres_dsn: str) -> None:
    sa = pytest.importorskip("sqlalchemy")
    ryft_instrument.instrument_dbapi(psycopg2)
    try:
        engine = ryft_instrument.instrument(sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
        meta = sa.MetaData()
        table = sa.Table("ryft_pg2_once", meta, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("name", sa.String), prefixes=["TEMPORARY"])
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), [{"name": "secret-%d" % i} for i in range(5)])
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 5
        engine.dispose()
    finally:
        ryft_instrument.uninstrument_dbapi(psycopg2)
    assert ryft_instrument.flush(5)
    queries = ingest.queries()
    inserts = [q for q in queries if q.startswith("INSERT INTO ryft_pg2_once")]
    assert len(inserts) == 1 and "secret" not in repr(ingest.records)
    assert sum(q.startswith("SELECT count(*)") for q in queries) == 1


def test_composed_sql_on_a_closed_connection_never_shows_its_repr(ingest: IngestServer, pg2: Any,
                                                                  postgres_dsn: str) -> None:
    """``sql.Composed`` is rendered with the connection; closed, psycopg2 cannot render it and psycopg 3 renders it
    without one. The record never falls back on its ``repr`` (``Composed([SQL(...), Literal('value')])``)."""
    from psycopg import sql as sql3
    from psycopg2 import sql as sql2

    cursor2 = pg2.cursor()
    pg2.close()
    with pytest.raises(psycopg2.InterfaceError):
        cursor2.execute(sql2.SQL("SELECT {} WHERE {} /* pg2 */").format(sql2.Identifier("a"), sql2.Literal("secret")))
    conn3 = ryft_instrument.instrument_connection(psycopg.connect(postgres_dsn))
    cursor3 = conn3.cursor()
    conn3.close()
    with pytest.raises(psycopg.OperationalError):
        cursor3.execute(sql3.SQL("SELECT {} /* pg3 */").format(sql3.Identifier("name")))
    records = _records(ingest, 2)
    assert [(r["query"], r["queryState"]) for r in records] == [
        ("<unprintable Composed>", "FAILED"), ('SELECT "name" /* pg3 */', "FAILED")]


def test_cursor_connection_is_the_instrumented_one(ingest: IngestServer, pg2: Any, postgres_dsn: str) -> None:
    """PEP 249's ``cursor.connection`` gives the connection the application holds, so statements run through it
    are recorded too."""
    conn3 = ryft_instrument.instrument_connection(psycopg.connect(postgres_dsn))
    for conn in (pg2, conn3):
        cursor = conn.cursor()
        assert cursor.connection is conn
        with cursor.connection.cursor() as other:
            other.execute("SELECT 'through cursor.connection'")
            assert other.fetchone() == ("through cursor.connection",)
    conn3.close()
    assert [r["query"] for r in _records(ingest, 2)] == ["SELECT 'through cursor.connection'"] * 2
