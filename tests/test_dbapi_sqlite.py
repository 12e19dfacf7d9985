"""sqlite3 through ``instrument_connection`` (a wrapt proxy) and ``instrument_dbapi`` (real subclasses): every
statement path recorded, and the driver's behaviour unchanged (issue 4, PRIOR_ART 9–12)."""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, Iterator

import pytest

import ryft_instrument
from ryft_instrument.testing import IngestServer


def _proxied() -> Any:
    return ryft_instrument.instrument_connection(sqlite3.connect(":memory:"))


def _patched() -> Any:
    ryft_instrument.instrument_dbapi(sqlite3)
    try:
        return sqlite3.connect(":memory:")
    finally:
        ryft_instrument.uninstrument_dbapi(sqlite3)


@pytest.fixture(params=["proxy", "subclass"])
def connect(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    yield _proxied if request.param == "proxy" else _patched


def _records(ingest: IngestServer, count: int) -> list[dict[str, Any]]:
    assert ryft_instrument.flush(5)
    records = ingest.wait_for(count)
    assert not ingest.invalid
    return records


def test_every_statement_path_is_recorded(ingest: IngestServer, connect: Callable[[], Any]) -> None:
    conn = connect()
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t (name) VALUES (?)", [("secret-one",), ("secret-two",)])
    conn.executescript("UPDATE t SET name = 'x' WHERE id = 1; DELETE FROM t WHERE id = 2;")
    cur = conn.cursor()
    cur.execute("SELECT name FROM t WHERE name = ?", ("secret-three",))
    cur.executemany("INSERT INTO t (name) VALUES (?)", [("secret-four",)])
    cur.executescript("PRAGMA user_version = 3;")
    records = _records(ingest, 6)
    assert [(r["query"].split()[0], r["context"]["queryType"], r["queryState"]) for r in records] == [
        ("CREATE", "DATA_DEFINITION", "FINISHED"),
        ("INSERT", "INSERT", "FINISHED"),
        ("UPDATE", "UPDATE", "FINISHED"),
        ("SELECT", "SELECT", "FINISHED"),
        ("INSERT", "INSERT", "FINISHED"),
        ("PRAGMA", "DATA_DEFINITION", "FINISHED"),
    ]
    assert "secret" not in repr(records)
    context = records[0]["context"]
    assert context["catalog"] == "main"
    assert context["serverVersion"] == sqlite3.sqlite_version
    assert context["userAgent"].startswith("ryft-instrument/") and " sqlite3/%s " % sqlite3.sqlite_version in \
        context["userAgent"]
    assert all(r["duration_ms"] >= 0 for r in records)


def test_the_driver_object_and_behaviour_are_preserved(ingest: IngestServer, connect: Callable[[], Any]) -> None:
    conn = connect()
    assert isinstance(conn, sqlite3.Connection)
    conn.execute("CREATE TABLE t (x INTEGER)")
    cur = conn.cursor()
    assert isinstance(cur, sqlite3.Cursor)
    assert cur.execute("INSERT INTO t VALUES (1), (2), (3)") is cur
    assert cur.rowcount == 3 and cur.lastrowid == 3
    cur.arraysize = 2
    assert cur.arraysize == 2
    chained = cur.execute("SELECT x FROM t ORDER BY x")
    assert chained is cur and cur.description[0][0] == "x"
    assert next(cur) == (1,)
    assert [row for row in cur] == [(2,), (3,)]
    shortcut = conn.execute("SELECT x FROM t ORDER BY x")
    assert isinstance(shortcut, sqlite3.Cursor) and shortcut.fetchmany(2) == [(1,), (2,)]
    shortcut.execute("SELECT count(*) FROM t")  # the shortcut's cursor records too
    assert shortcut.fetchone() == (3,)
    conn.row_factory = sqlite3.Row
    assert conn.row_factory is sqlite3.Row
    assert conn.execute("SELECT x FROM t").fetchone()["x"] == 1
    with conn as entered:
        assert entered is conn
        entered.execute("INSERT INTO t VALUES (4)")
    assert conn.in_transaction is False
    assert cur.connection is conn
    records = _records(ingest, 7)
    assert [r["query"] for r in records][-2:] == ["SELECT x FROM t", "INSERT INTO t VALUES (4)"]


def test_exit_result_passes_through(connect: Callable[[], Any]) -> None:
    conn = connect()
    conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    with pytest.raises(sqlite3.IntegrityError):
        with conn:
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (1)")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)  # rolled back by __exit__


def test_failure_reaches_the_caller_unchanged_and_is_recorded(ingest: IngestServer,
                                                              connect: Callable[[], Any]) -> None:
    plain = sqlite3.connect(":memory:")
    seen = []
    for conn in (plain, connect()):
        with pytest.raises(sqlite3.OperationalError) as info:
            conn.cursor().execute("SELECT missing_column FROM sqlite_master WHERE name = ?", ("secret",))
        seen.append((type(info.value), str(info.value), getattr(info.value, "sqlite_errorcode", None)))
    assert seen[0] == seen[1]
    (record,) = _records(ingest, 1)
    assert record["queryState"] == "FAILED"
    failure = record["failureInfo"]
    first = failure[0] if isinstance(failure, list) else failure
    assert first["failureType"] == "sqlite3.OperationalError"
    assert "missing_column" in first["failureMessage"]
    assert "secret" not in repr(record)


def test_backup_accepts_instrumented_connections(connect: Callable[[], Any]) -> None:
    source, target = connect(), connect()
    source.execute("CREATE TABLE t (x INTEGER)")
    source.execute("INSERT INTO t VALUES (7)")
    source.commit()
    source.backup(target)
    assert target.execute("SELECT x FROM t").fetchall() == [(7,)]
    plain = sqlite3.connect(":memory:")
    source.backup(plain)
    assert plain.execute("SELECT x FROM t").fetchall() == [(7,)]


def test_a_users_factories_are_kept(ingest: IngestServer, connect: Callable[[], Any]) -> None:
    class MyCursor(sqlite3.Cursor):
        mine = True

    conn = connect()
    cur = conn.cursor(MyCursor)
    assert isinstance(cur, MyCursor) and cur.mine
    cur.execute("SELECT 1")

    class MyConnection(sqlite3.Connection):
        mine = True

    ryft_instrument.instrument_dbapi(sqlite3)
    try:
        own = sqlite3.connect(":memory:", factory=MyConnection)
        positional = sqlite3.connect(":memory:", 5.0, 0, "DEFERRED", True, MyConnection, 16)
    finally:
        ryft_instrument.uninstrument_dbapi(sqlite3)
    assert isinstance(own, MyConnection) and own.mine and isinstance(positional, MyConnection)
    own.execute("SELECT 2")
    assert [r["query"] for r in _records(ingest, 2)] == ["SELECT 1", "SELECT 2"]


class _Cursor(sqlite3.Cursor):
    pass


class _DefaultCursor(sqlite3.Connection):
    """Cursors are ``_Cursor`` unless asked otherwise."""

    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


class _NoArgumentCursor(sqlite3.Connection):
    def cursor(self) -> Any:  # type: ignore[override]
        return super().cursor(_Cursor)


class _LoggingExecute(sqlite3.Connection):
    logged: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        self.logged.append(sql)
        return super().execute(sql, *args)


@pytest.mark.parametrize("how", ["instrument_dbapi", "instrument_connection"])
def test_a_users_connection_class_keeps_its_own_methods(ingest: IngestServer, how: str) -> None:
    """A ``factory=`` class with its own ``cursor()`` (another default cursor type, another signature) or
    ``execute()``: they run as without us, and what they run is recorded."""

    def connect(factory: type) -> Any:
        if how == "instrument_connection":
            return ryft_instrument.instrument_connection(sqlite3.connect(":memory:", factory=factory))
        ryft_instrument.instrument_dbapi(sqlite3)
        try:
            return sqlite3.connect(":memory:", factory=factory)
        finally:
            ryft_instrument.uninstrument_dbapi(sqlite3)

    default = connect(_DefaultCursor)
    assert isinstance(default, _DefaultCursor)
    cursor = default.cursor()
    assert isinstance(cursor, _Cursor) and cursor.execute("SELECT 'default cursor'").fetchone() == ("default cursor",)
    no_argument = connect(_NoArgumentCursor)
    assert isinstance(no_argument.cursor(), _Cursor)
    assert no_argument.execute("SELECT 'no argument'").fetchone() == ("no argument",)
    _LoggingExecute.logged.clear()
    logging_execute = connect(_LoggingExecute)
    assert logging_execute.execute("SELECT 'logged'").fetchone() == ("logged",)
    assert _LoggingExecute.logged == ["SELECT 'logged'"]
    assert [r["query"] for r in _records(ingest, 3)] == [
        "SELECT 'default cursor'", "SELECT 'no argument'", "SELECT 'logged'"]


def test_instrument_dbapi_is_idempotent_and_reversible(ingest: IngestServer) -> None:
    original = sqlite3.connect
    ryft_instrument.instrument_dbapi(sqlite3)
    patched = sqlite3.connect
    ryft_instrument.instrument_dbapi(sqlite3)
    ryft_instrument.instrument_dbapi(sqlite3.dbapi2)
    assert sqlite3.connect is patched and sqlite3.dbapi2.connect is not original
    conn = sqlite3.dbapi2.connect(":memory:")
    assert ryft_instrument.instrument_connection(conn) is conn
    conn.execute("SELECT 1")
    ryft_instrument.uninstrument_dbapi(sqlite3)
    assert sqlite3.connect is original and sqlite3.dbapi2.connect is original
    sqlite3.connect(":memory:").execute("SELECT 2")
    conn.execute("SELECT 3")  # made while instrumented: stays instrumented
    assert ryft_instrument.flush(5)
    assert ingest.queries() == ["SELECT 1", "SELECT 3"]


def test_connection_tags(ingest: IngestServer) -> None:
    conn = ryft_instrument.instrument_connection(sqlite3.connect(":memory:"), tags=["job:nightly"])
    with ryft_instrument.tags("step:load"):
        conn.execute("SELECT 1")
    (record,) = _records(ingest, 1)
    assert set(record["tags"]) >= {"job:nightly", "step:load"}


def test_sqlalchemy_on_an_instrumented_driver_records_once(ingest: IngestServer) -> None:
    sa = pytest.importorskip("sqlalchemy")
    ryft_instrument.instrument_dbapi(sqlite3)
    try:
        engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.execute(sa.text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])
            assert conn.execute(sa.text("SELECT x FROM t WHERE x = :x"), {"x": 2}).scalar() == 2
        engine.dispose()
    finally:
        ryft_instrument.uninstrument_dbapi(sqlite3)
    assert ryft_instrument.flush(5)
    # SQLAlchemy's own ``PRAGMA read_uncommitted`` on connect goes straight to the cursor: recorded once, by us.
    assert ingest.queries() == ["PRAGMA read_uncommitted", "CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (?)",
                                "SELECT x FROM t WHERE x = ?"]
    assert " sqlalchemy/" not in ingest.records[0]["context"]["userAgent"]
    assert all(" sqlalchemy/" in r["context"]["userAgent"] for r in ingest.records[1:])
