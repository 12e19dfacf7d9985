"""SQLAlchemy hooks, end to end: statements → records accepted by the loopback Ingest API."""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import threading
import warnings
import weakref
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import with_driver
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.default import CACHE_HIT

import ryft_instrument
from ryft_instrument.testing import IngestServer


def _table(conn: Any) -> None:
    conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")


def test_statements_become_records(ingest: IngestServer) -> None:
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with engine.begin() as conn:
        _table(conn)
        conn.execute(sa.text("INSERT INTO t (id, name) VALUES (:id, :name)"), {"id": 1, "name": "secret-value"})
        conn.execute(sa.text("UPDATE t SET name = :name WHERE id = :id"), {"id": 1, "name": "other-secret"})
        conn.execute(sa.text("/* leading comment */ SELECT name FROM t WHERE id = :id"), {"id": 1}).fetchall()
        conn.execute(sa.text("DELETE FROM t WHERE id = :id"), {"id": 1})
    assert ryft_instrument.flush(5)
    records = ingest.wait_for(5)
    assert [(r["query"].split()[0], r["context"]["queryType"], r["queryState"]) for r in records] == [
        ("CREATE", "DATA_DEFINITION", "FINISHED"),
        ("INSERT", "INSERT", "FINISHED"),
        ("UPDATE", "UPDATE", "FINISHED"),
        ("/*", "SELECT", "FINISHED"),
        ("DELETE", "DELETE", "FINISHED"),
    ]
    assert records[1]["query"] == "INSERT INTO t (id, name) VALUES (?, ?)"
    assert "secret" not in repr(records)
    context = records[0]["context"]
    assert context["catalog"] == "main"
    assert context["serverVersion"].count(".") >= 1
    assert context["userAgent"].startswith("ryft-instrument/") and " sqlalchemy/" in context["userAgent"]
    assert all(r["duration_ms"] >= 0 for r in records)
    assert len({r["queryId"] for r in records}) == 5
    assert not ingest.invalid


def test_failed_statement_is_recorded_and_the_app_sees_its_own_exception(ingest: IngestServer) -> None:
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    plain = sa.create_engine("sqlite://")
    seen = []
    for e in (plain, engine):
        with e.connect() as conn, pytest.raises(sa.exc.OperationalError) as info:
            conn.exec_driver_sql("SELECT missing_column FROM sqlite_master")
        seen.append((type(info.value), type(info.value.orig), str(info.value.orig)))
    assert seen[0] == seen[1]
    ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert record["queryState"] == "FAILED"
    assert record["context"]["queryType"] == "SELECT"
    failure = record["failureInfo"]
    first = failure[0] if isinstance(failure, list) else failure
    assert "missing_column" in first["failureMessage"]
    assert first["failureType"] == "sqlite3.OperationalError"


def test_executemany_is_one_record_per_driver_call(ingest: IngestServer) -> None:
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with engine.begin() as conn:
        _table(conn)
        conn.execute(sa.text("INSERT INTO t (id, name) VALUES (:id, :name)"),
                     [{"id": i, "name": "n%d" % i} for i in range(50)])
    ryft_instrument.flush(5)
    records = ingest.wait_for(2)
    assert [r["context"]["queryType"] for r in records] == ["DATA_DEFINITION", "INSERT"]


def test_insertmanyvalues_batches_are_each_a_record(ingest: IngestServer) -> None:
    if sa.__version__.startswith("1."):
        pytest.skip("insertmanyvalues is SQLAlchemy 2")
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://", insertmanyvalues_page_size=1000))
    meta = sa.MetaData()
    table = sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        rows = conn.execute(table.insert().returning(table.c.id), [{"name": "n%d" % i} for i in range(2500)])
        assert len(rows.all()) == 2500
    ryft_instrument.flush(5)
    inserts = [r for r in ingest.wait_for(4) if r["context"].get("queryType") == "INSERT"]
    assert len(inserts) == 3


def test_async_engine(ingest: IngestServer) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main() -> None:
        engine = ryft_instrument.instrument(create_async_engine("sqlite+aiosqlite://"))
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE a (x INTEGER)")
            await conn.execute(sa.text("INSERT INTO a VALUES (:x)"), {"x": 1})
            assert (await conn.execute(sa.text("SELECT x FROM a"))).scalar() == 1
        await engine.dispose()

    asyncio.run(main())
    ryft_instrument.flush(5)
    records = ingest.wait_for(3)
    assert [r["context"]["queryType"] for r in records] == ["DATA_DEFINITION", "INSERT", "SELECT"]
    import aiosqlite

    assert "aiosqlite/%s " % aiosqlite.__version__ in records[0]["context"]["userAgent"]


def test_global_instrumentation_covers_engines_created_before_and_after(ingest: IngestServer) -> None:
    before = sa.create_engine("sqlite://")
    kept = before.connect()
    kept.exec_driver_sql("SELECT 'before instrument()'")
    ryft_instrument.instrument()
    after = sa.create_engine("sqlite://")
    kept.exec_driver_sql("SELECT 'on a connection opened before'")
    for engine in (before, after):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    kept.close()
    ryft_instrument.flush(5)
    ingest.wait_for(3)
    assert sorted(ingest.queries()) == ["SELECT 'on a connection opened before'", "SELECT 1", "SELECT 1"]


def test_engine_keywords_still_work_under_global_instrumentation(ingest: IngestServer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """``create_engine`` tells the Engine's keywords from the pool's and the dialect's by the parameter names of
    ``Engine.__init__``: ``instrument()``'s replacement keeps them."""
    from sqlalchemy.ext.asyncio import create_async_engine

    ryft_instrument.instrument()
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    engine = sa.create_engine("sqlite://", echo=True, logging_name="shop", hide_parameters=True,
                              query_cache_size=10, execution_options={"isolation_level": "SERIALIZABLE"},
                              pool_pre_ping=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT :x /* echo */"), {"x": "hidden"}).scalar() == "hidden"

    async def main() -> None:
        async_engine = create_async_engine("sqlite+aiosqlite://", echo=True, logging_name="async_shop")
        async with async_engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 'async echo'")
        await async_engine.dispose()

    asyncio.run(main())
    assert "sqlalchemy.engine.Engine.shop" in {r.name for r in caplog.records}
    assert "SQL parameters hidden" in caplog.text and "async echo" in caplog.text
    ryft_instrument.flush(5)
    ingest.wait_for(2)
    assert {"SELECT ? /* echo */", "SELECT 'async echo'"} <= set(ingest.queries())


def test_uninstrument_all_also_ends_the_exclusions_of_uninstrument_engine(ingest: IngestServer) -> None:
    engine = sa.create_engine("sqlite://")
    ryft_instrument.instrument()
    ryft_instrument.uninstrument(engine)
    ryft_instrument.uninstrument()
    ryft_instrument.instrument()  # every engine, present and future: this one too
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 'recorded again'")
    ryft_instrument.flush(5)
    assert ingest.wait_for(1) and ingest.queries() == ["SELECT 'recorded again'"]


def test_instrumenting_twice_records_once(ingest: IngestServer) -> None:
    engine = sa.create_engine("sqlite://")
    ryft_instrument.instrument(engine)
    ryft_instrument.instrument(engine)
    ryft_instrument.instrument()
    ryft_instrument.instrument()
    with engine.connect() as conn:
        for _ in range(3):
            conn.exec_driver_sql("SELECT 1")
    ryft_instrument.flush(5)
    assert len(ingest.wait_for(3)) == 3
    ryft_instrument.flush(0.3)
    assert len(ingest.records) == 3


def test_uninstrument_stops_records(ingest: IngestServer) -> None:
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    other = sa.create_engine("sqlite://")
    ryft_instrument.instrument()
    ryft_instrument.uninstrument(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 'not recorded'")
    with other.connect() as conn:
        conn.exec_driver_sql("SELECT 'recorded'")
    ryft_instrument.uninstrument()
    for later in (other, sa.create_engine("sqlite://")):
        with later.connect() as conn:
            conn.exec_driver_sql("SELECT 'after uninstrument'")
    ryft_instrument.flush(5)
    assert ingest.queries() == ["SELECT 'recorded'"]
    assert not hasattr(sa.engine.Engine.__init__, "_ryft_original")


def test_the_dialect_keeps_its_class_name_statement_cache_and_patches(ingest: IngestServer) -> None:
    """The recording methods come on a subclass of the dialect's class made for that one dialect object: SQLAlchemy
    still caches compiled statements (it reads ``supports_statement_cache`` from the class's own __dict__), a method
    another library put on the object itself still runs, and ``uninstrument`` puts back both class and method."""
    engine = sa.create_engine("sqlite://")
    dialect = engine.dialect
    kind = type(dialect)
    theirs = dialect.do_execute
    seen: list[str] = []

    def patched(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        seen.append(statement)
        theirs(cursor, statement, parameters, context)

    dialect.do_execute = patched  # type: ignore[method-assign]
    ryft_instrument.instrument(engine)
    assert isinstance(dialect, kind) and type(dialect).__qualname__ == kind.__qualname__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with engine.connect() as conn:
            hits = [conn.execute(sa.text("SELECT 1")).context.cache_hit for _ in range(3)]
    assert hits[1:] == [CACHE_HIT, CACHE_HIT]
    ryft_instrument.uninstrument(engine)
    assert type(dialect) is kind and dialect.do_execute is patched
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 2"))
    assert ryft_instrument.flush(5)
    assert ingest.queries() == ["SELECT 1"] * 3
    assert seen == ["SELECT 1"] * 3 + ["SELECT 2"]


class _StaticDialect(SQLiteDialect_pysqlite):
    supports_statement_cache = True

    @staticmethod
    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        cursor.execute(statement, parameters)


class _ClassDialect(SQLiteDialect_pysqlite):
    supports_statement_cache = True

    @classmethod
    def do_execute(cls, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        cursor.execute(statement, parameters)


@pytest.mark.parametrize("kind", [_StaticDialect, _ClassDialect], ids=["staticmethod", "classmethod"])
def test_a_dialect_whose_do_execute_is_not_a_plain_method(ingest: IngestServer, kind: type) -> None:
    engine = sa.create_engine("sqlite://")
    engine.dialect.__class__ = kind
    ryft_instrument.instrument(engine)
    with engine.connect() as conn:
        assert [conn.exec_driver_sql("SELECT 7").scalar() for _ in range(3)] == [7, 7, 7]
    ryft_instrument.uninstrument(engine)
    assert type(engine.dialect) is kind
    assert ryft_instrument.flush(5)
    assert ingest.queries() == ["SELECT 7"] * 3


class _CountingCursor(sqlite3.Cursor):
    """A driver cursor subclass with an ``execute`` of its own, which recording must never bypass."""

    statements: list[str] = []

    def execute(self, *args: Any) -> Any:
        _CountingCursor.statements.append(args[0])
        return super().execute(*args)


class _MixedConnection(sqlite3.Connection):
    """Hands out cursors of two types in turn: an engine whose cursors change type."""

    turn = 0

    def cursor(self, factory: Any = None) -> Any:  # type: ignore[override]
        _MixedConnection.turn += 1
        return super().cursor(_CountingCursor if _MixedConnection.turn % 2 else sqlite3.Cursor)


@pytest.mark.parametrize("options", [{}, {"no_parameters": True}], ids=["execute", "no_parameters"])
def test_cursors_of_two_types_on_one_engine(ingest: IngestServer, options: dict[str, Any]) -> None:
    """Each statement is recorded once and runs through its own cursor's ``execute``, whichever cursor type the
    engine met first (the first one takes the hot path, the other the long way)."""
    _CountingCursor.statements = []
    engine = ryft_instrument.instrument(sa.create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(":memory:", factory=_MixedConnection)))
    with engine.connect() as conn:
        conn = conn.execution_options(**options)
        for _ in range(6):
            assert conn.exec_driver_sql("SELECT 42").scalar() == 42
    assert ryft_instrument.flush(5)
    assert ingest.queries() == ["SELECT 42"] * 6
    assert _CountingCursor.statements.count("SELECT 42") == 3
    assert not ingest.invalid


@pytest.mark.parametrize("how", ["engine", "every engine"])
def test_threads_sharing_an_engine(ingest: IngestServer, how: str) -> None:
    engine = sa.create_engine("sqlite://")
    if how == "engine":
        ryft_instrument.instrument(engine)
    else:
        ryft_instrument.instrument()  # the threads meet the engine together: it must be wrapped once

    def work(n: int) -> None:
        for i in range(25):
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT :n, :i"), {"n": n, "i": i}).fetchall()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ryft_instrument.flush(10)
    records = ingest.wait_for(200)
    assert len(records) == 200
    assert len({r["queryId"] for r in records}) == 200


@pytest.mark.parametrize("how", ["engine", "every engine"])
def test_disposed_engines_are_collected(ingest: IngestServer, how: str) -> None:
    if how == "engine":
        engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    else:
        ryft_instrument.instrument()
        engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert ryft_instrument.flush(5) and ingest.queries() == ["SELECT 1"]
    refs = [weakref.ref(engine), weakref.ref(engine.dialect)]
    engine.dispose()
    del engine, conn
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def test_tags_reach_remembered_statements_once_a_block_sets_them(ingest: IngestServer) -> None:
    from ryft_instrument import tagging

    tagging.scoped = False  # as in a process where no tags() block has run yet
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with engine.connect() as conn:
        for _ in range(2):
            conn.exec_driver_sql("SELECT 1")
        with ryft_instrument.tags("block:x"):
            conn.exec_driver_sql("SELECT 1")
        conn.exec_driver_sql("SELECT 1")
    ryft_instrument.flush(5)
    assert ["block:x" in record.get("tags", []) for record in ingest.wait_for(4)] == [False, False, True, False]


def test_tags_are_scoped_per_thread_and_task(ingest: IngestServer) -> None:
    ryft_instrument.configure(tags=["env:test"], service="svc")
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with ryft_instrument.tags("job:nightly"):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 'tagged'")
        done = threading.Thread(target=lambda: _select(engine, "SELECT 'other thread'"))
        done.start()
        done.join()
    _select(engine, "SELECT 'untagged'")
    ryft_instrument.flush(5)
    by_query = {r["query"]: r["tags"] for r in ingest.wait_for(3)}
    assert by_query == {
        "SELECT 'tagged'": ["env:test", "service:svc", "job:nightly"],
        "SELECT 'other thread'": ["env:test", "service:svc"],
        "SELECT 'untagged'": ["env:test", "service:svc"],
    }


def _select(engine: Any, sql: str) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)


def test_sqlalchemy_over_an_instrumented_driver_records_once(ingest: IngestServer) -> None:
    import sqlite3

    from sqlalchemy.ext.asyncio import create_async_engine

    ryft_instrument.instrument_dbapi(sqlite3)
    try:
        sync = ryft_instrument.instrument(sa.create_engine("sqlite://"))
        with sync.connect() as conn:
            for _ in range(3):  # the second and third on the hot path, through sqlite3's own execute
                conn.exec_driver_sql("SELECT 'sync'")
                conn.execution_options(no_parameters=True).exec_driver_sql("SELECT 'no parameters'")
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", [(1,), (2,)])
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", [(3,), (4,)])
            with pytest.raises(sa.exc.OperationalError):
                conn.exec_driver_sql("SELECT nope FROM t")
            # the connection SQLAlchemy holds is ours, and it still records what runs on it directly
            conn.connection.dbapi_connection.cursor().execute("SELECT 'direct on the pooled connection'")

        async def main() -> None:
            engine = ryft_instrument.instrument(create_async_engine("sqlite+aiosqlite://"))
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 'async'")
            await engine.dispose()

        asyncio.run(main())
        raw = sqlite3.connect(":memory:")
        raw.execute("SELECT 'raw driver'")
        raw.close()
    finally:
        ryft_instrument.uninstrument_dbapi(sqlite3)
    ryft_instrument.flush(5)
    records = [r for r in ingest.wait_for(13) if not r["query"].startswith("PRAGMA")]  # SQLAlchemy's own
    assert sorted(r["query"] for r in records) == sorted(
        ["SELECT 'sync'"] * 3 + ["SELECT 'no parameters'"] * 3 + ["CREATE TABLE t (x)"]
        + ["INSERT INTO t VALUES (?)"] * 2
        + ["SELECT nope FROM t", "SELECT 'direct on the pooled connection'", "SELECT 'async'", "SELECT 'raw driver'"])
    by_query = {r["query"]: r["context"]["userAgent"] for r in records}
    assert "sqlalchemy/" in by_query["SELECT 'sync'"] and "sqlalchemy/" in by_query["SELECT 'async'"]
    assert "sqlalchemy/" not in by_query["SELECT 'direct on the pooled connection'"]
    assert [r["queryState"] for r in records if r["query"] == "SELECT nope FROM t"] == ["FAILED"]


def test_async_psycopg_over_an_instrumented_driver_records_once(ingest: IngestServer, postgres_url: str) -> None:
    import psycopg
    from sqlalchemy.ext.asyncio import create_async_engine

    url = with_driver(postgres_url, "psycopg_async")
    ryft_instrument.instrument_dbapi(psycopg)
    try:
        async def main() -> None:
            engine = ryft_instrument.instrument(create_async_engine(url))
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 'async pg'")
            await engine.dispose()

        asyncio.run(main())
    finally:
        ryft_instrument.uninstrument_dbapi(psycopg)
    ryft_instrument.flush(5)
    ingest.wait_for(1)
    assert [q for q in ingest.queries() if "async pg" in q] == ["SELECT 'async pg'"]


def test_asyncpg_engine(ingest: IngestServer, postgres_url: str) -> None:
    import asyncpg
    from sqlalchemy.ext.asyncio import create_async_engine

    url = with_driver(postgres_url, "asyncpg")

    async def main() -> None:
        engine = ryft_instrument.instrument(create_async_engine(url))
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT 'via asyncpg'"))).scalar() == "via asyncpg"
            with pytest.raises(sa.exc.ProgrammingError):
                await conn.execute(sa.text("SELECT * FROM no_such_table_here"))
        await engine.dispose()

    asyncio.run(main())
    ryft_instrument.flush(5)
    records = {r["query"]: r for r in ingest.wait_for(2)}
    ok, failed = records["SELECT 'via asyncpg'"], records["SELECT * FROM no_such_table_here"]
    assert "asyncpg/%s sqlalchemy/" % asyncpg.__version__ in ok["context"]["userAgent"]
    assert ok["context"]["serverVersion"] and ok["context"]["catalog"] == "test"
    assert failed["queryState"] == "FAILED"


def test_execute_of_a_prepared_statement_takes_its_type(ingest: IngestServer, postgres_url: str) -> None:
    engine = ryft_instrument.instrument(sa.create_engine(postgres_url))
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE prep (x integer)")
        conn.exec_driver_sql("PREPARE ryft_ins (integer) AS INSERT INTO prep VALUES ($1)")
        conn.exec_driver_sql("EXECUTE ryft_ins (1)")
        conn.exec_driver_sql("  EXECUTE ryft_ins (2)")
        conn.exec_driver_sql("DEALLOCATE ryft_ins")
    engine.dispose()
    ryft_instrument.flush(5)
    types = {r["query"]: r["context"].get("queryType") for r in ingest.wait_for(5)}
    assert types["PREPARE ryft_ins (integer) AS INSERT INTO prep VALUES ($1)"] == "DATA_DEFINITION"
    assert types["EXECUTE ryft_ins (1)"] == types["  EXECUTE ryft_ins (2)"] == "INSERT"
