"""failureInfo (SPEC §3) proven against real servers and drivers, plus chains and hostile exceptions.

Every failureInfo produced here also passes the strict SPEC §1.1 validator.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import pytest

from ryft_instrument.failure import MAX_CHAIN, MAX_MESSAGE, describe_failure
from ryft_instrument.schema import validate_failure_info

Info = Union[Dict[str, Any], List[Dict[str, Any]]]


def failure_of(action: Callable[[], Any]) -> Info:
    """Run ``action``, which must raise, and describe what it raised."""
    try:
        action()
    except BaseException as exc:  # KeyboardInterrupt is described too
        info = describe_failure(exc)
        assert validate_failure_info(info) == []
        return info
    raise AssertionError("no exception raised")


def error_code(info: Info) -> Dict[str, Any]:
    """The errorCode of the whole: on a chain every item carries the same one."""
    if isinstance(info, list):
        codes = [item["errorCode"] for item in info]
        assert all(code == codes[0] for code in codes)
        return codes[0]
    return info["errorCode"]


def first(info: Info) -> Dict[str, Any]:
    return info[0] if isinstance(info, list) else info


def assert_code(info: Info, kind: str, code: Optional[int] = None, name: Optional[str] = None) -> None:
    found = error_code(info)
    assert found["type"] == kind, info
    if code is not None:
        assert found["code"] == code, info
    if name is not None:
        assert found["name"] == name, info


# --- PostgreSQL: psycopg 3 and psycopg2 ------------------------------------------------------------------------


class PG:
    """The same operations over either PostgreSQL driver."""

    def __init__(self, driver: str, dsn: str) -> None:
        self.driver = driver
        self.dsn = dsn
        self.module: Any = __import__(driver)

    def connect(self, autocommit: bool = True) -> Any:
        conn = self.module.connect(self.dsn)
        conn.autocommit = autocommit
        return conn

    def run(self, conn: Any, sql: str) -> Any:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall() if cur.description else None


@pytest.fixture(params=["psycopg", "psycopg2"])
def pg(request: pytest.FixtureRequest, postgres_dsn: str) -> PG:
    return PG(request.param, postgres_dsn)


@pytest.fixture
def pg_table(pg: PG) -> Any:
    conn = pg.connect()
    name = "ryft_failure_%s" % pg.driver
    pg.run(conn, "DROP TABLE IF EXISTS %s" % name)
    pg.run(conn, "CREATE TABLE %s (id int PRIMARY KEY, v int)" % name)
    pg.run(conn, "INSERT INTO %s VALUES (1, 0), (2, 0)" % name)
    yield name
    pg.run(conn, "DROP TABLE IF EXISTS %s" % name)
    conn.close()


@pytest.mark.parametrize("sql,code,name", [
    ("SELEC 1", 1, "SYNTAX_ERROR"),
    ("SELECT * FROM ryft_no_such_table", 46, "TABLE_NOT_FOUND"),
    ("SELECT no_such_column FROM pg_class", 47, "COLUMN_NOT_FOUND"),
    ("SELECT 1 / 0", 8, "DIVISION_BY_ZERO"),
    ("SELECT (SELECT generate_series(1, 2))", 28, "SUBQUERY_MULTIPLE_ROWS"),
    # the same SQLSTATE (21000, cardinality_violation), another meaning: the generic code
    ("INSERT INTO ryft_card VALUES (1), (1) ON CONFLICT (id) DO UPDATE SET id = 1", 0, "GENERIC_USER_ERROR"),
    ("DO $$ BEGIN RAISE EXCEPTION 'refused by a trigger'; END $$", 0, "GENERIC_USER_ERROR"),
])
def test_pg_user_errors(pg: PG, sql: str, code: int, name: str) -> None:
    conn = pg.connect()
    pg.run(conn, "CREATE TEMP TABLE ryft_card (id int PRIMARY KEY)")
    info = failure_of(lambda: pg.run(conn, sql))
    assert_code(info, "USER_ERROR", code, name)
    assert first(info)["failureType"].startswith(pg.driver + ".")
    conn.close()


def test_pg_unique_violation(pg: PG, pg_table: str) -> None:
    conn = pg.connect()
    info = failure_of(lambda: pg.run(conn, "INSERT INTO %s VALUES (1, 0)" % pg_table))
    assert_code(info, "USER_ERROR", 16, "CONSTRAINT_VIOLATION")
    assert "UniqueViolation" in first(info)["failureType"]
    conn.close()


def test_pg_statement_timeout_is_insufficient_resources(pg: PG) -> None:
    conn = pg.connect()
    pg.run(conn, "SET statement_timeout = '50ms'")
    info = failure_of(lambda: pg.run(conn, "SELECT pg_sleep(3)"))
    assert_code(info, "INSUFFICIENT_RESOURCES", 131075, "EXCEEDED_TIME_LIMIT")
    assert "statement timeout" in first(info)["failureMessage"]
    conn.close()


def test_pg_cancel_by_the_user_is_user_canceled(pg: PG) -> None:
    conn = pg.connect()
    timer = threading.Timer(0.3, conn.cancel)
    timer.start()
    try:
        info = failure_of(lambda: pg.run(conn, "SELECT pg_sleep(4)"))
    finally:
        timer.join()
    assert_code(info, "USER_ERROR", 3, "USER_CANCELED")
    assert "user request" in first(info)["failureMessage"]
    conn.close()


def test_pg_failed_transaction_is_user_error_though_internal_error_class(pg: PG) -> None:
    conn = pg.connect(autocommit=False)
    failure_of(lambda: pg.run(conn, "SELECT * FROM ryft_no_such_table"))
    info = failure_of(lambda: pg.run(conn, "SELECT 1"))
    assert_code(info, "USER_ERROR", 22, "TRANSACTION_ALREADY_ABORTED")
    assert "InFailedSqlTransaction" in first(info)["failureType"]
    assert issubclass(pg.module.errors.InFailedSqlTransaction, pg.module.InternalError)
    conn.rollback()
    conn.close()


def test_pg_serialization_failure_is_transaction_conflict(pg: PG, pg_table: str) -> None:
    a = pg.connect(autocommit=False)
    b = pg.connect()
    pg.run(a, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    pg.run(a, "SELECT * FROM %s" % pg_table)
    pg.run(b, "UPDATE %s SET v = 1 WHERE id = 1" % pg_table)
    info = failure_of(lambda: pg.run(a, "UPDATE %s SET v = 2 WHERE id = 1" % pg_table))
    assert_code(info, "USER_ERROR", 17, "TRANSACTION_CONFLICT")
    assert "SerializationFailure" in first(info)["failureType"]
    a.rollback()
    a.close()
    b.close()


def test_pg_deadlock_is_transaction_conflict(pg: PG, pg_table: str) -> None:
    a = pg.connect(autocommit=False)
    b = pg.connect(autocommit=False)
    for conn in (a, b):
        pg.run(conn, "SET deadlock_timeout = '100ms'")
    pg.run(a, "UPDATE %s SET v = v + 1 WHERE id = 1" % pg_table)
    pg.run(b, "UPDATE %s SET v = v + 1 WHERE id = 2" % pg_table)
    errors: List[BaseException] = []

    def second_lock(conn: Any, row: int) -> None:
        try:
            pg.run(conn, "UPDATE %s SET v = v + 1 WHERE id = %d" % (pg_table, row))
        except Exception as exc:
            errors.append(exc)
            conn.rollback()

    thread = threading.Thread(target=second_lock, args=(a, 2))
    thread.start()
    time.sleep(0.2)
    second_lock(b, 1)
    thread.join(10)
    assert len(errors) == 1
    info = describe_failure(errors[0])
    assert validate_failure_info(info) == []
    assert_code(info, "USER_ERROR", 17, "TRANSACTION_CONFLICT")
    assert "DeadlockDetected" in first(info)["failureType"]
    for conn in (a, b):
        conn.rollback()
        conn.close()


def test_pg_terminated_backend_is_external(pg: PG) -> None:
    victim = pg.connect()
    pid = pg.run(victim, "SELECT pg_backend_pid()")[0][0]
    killer = pg.connect()
    pg.run(killer, "SELECT pg_terminate_backend(%d)" % pid)
    time.sleep(0.1)
    info = failure_of(lambda: pg.run(victim, "SELECT 1"))
    assert_code(info, "EXTERNAL")
    if "terminating connection" in first(info)["failureMessage"]:
        assert error_code(info)["name"] == "SQLSTATE_57P01"
    killer.close()


def test_pg_connection_refused_is_external(pg: PG) -> None:
    info = failure_of(lambda: pg.module.connect("host=127.0.0.1 port=1 user=postgres dbname=test connect_timeout=3"))
    assert_code(info, "EXTERNAL")
    assert first(info)["failureType"].startswith(pg.driver + ".")


def test_asyncpg_through_sqlalchemy_by_sqlstate(postgres_url: str) -> None:
    pytest.importorskip("asyncpg")
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(postgres_url).set(drivername="postgresql+asyncpg")

    async def main() -> Info:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                try:
                    await conn.execute(text("SELECT * FROM ryft_no_such_table"))
                except Exception as exc:
                    return describe_failure(exc)
            raise AssertionError("no exception raised")
        finally:
            await engine.dispose()

    info = asyncio.run(main())
    assert validate_failure_info(info) == []
    assert isinstance(info, list) and 2 <= len(info) <= MAX_CHAIN
    assert info[0]["failureType"] == "sqlalchemy.exc.ProgrammingError"
    assert info[-1]["failureType"] == "asyncpg.exceptions.UndefinedTableError"
    assert_code(info, "USER_ERROR", 46, "TABLE_NOT_FOUND")


def test_psycopg_through_sqlalchemy_is_a_chain_decided_by_the_driver(postgres_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        info = failure_of(lambda: conn.execute(sa.text("SELECT no_such_column FROM pg_class")))
    engine.dispose()
    assert isinstance(info, list)
    assert info[0]["failureType"] == "sqlalchemy.exc.ProgrammingError"
    assert info[1]["failureType"] == "psycopg.errors.UndefinedColumn"
    assert_code(info, "USER_ERROR", 47, "COLUMN_NOT_FOUND")


# --- MariaDB through PyMySQL -------------------------------------------------------------------------------------


@pytest.fixture
def maria(mariadb_kwargs: Dict[str, Any]) -> Any:
    import pymysql

    conn = pymysql.connect(autocommit=True, **mariadb_kwargs)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS ryft_failure")
    cur.execute("CREATE TABLE ryft_failure (id int PRIMARY KEY, v int) ENGINE=InnoDB")
    cur.execute("INSERT INTO ryft_failure VALUES (1, 0)")
    yield conn
    cur.execute("DROP TABLE IF EXISTS ryft_failure")
    conn.close()


@pytest.mark.parametrize("sql,errno,kind,code,name", [
    ("SELECT no_such_column FROM ryft_failure", 1054, "USER_ERROR", 47, "COLUMN_NOT_FOUND"),
    ("SELEC 1", 1064, "USER_ERROR", 1, "SYNTAX_ERROR"),
    ("SELECT * FROM ryft_no_such_table", 1146, "USER_ERROR", 46, "TABLE_NOT_FOUND"),
    ("INSERT INTO ryft_failure VALUES (1, 1)", 1062, "USER_ERROR", 16, "CONSTRAINT_VIOLATION"),
    # codes whose SQLSTATE (HY000, 45000, 21000) says nothing more: still user errors, not the class's EXTERNAL
    ("INSERT INTO ryft_failure (v) VALUES (1)", 1364, "USER_ERROR", 16, "CONSTRAINT_VIOLATION"),
    ("SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'", 1644, "USER_ERROR", 0, "GENERIC_USER_ERROR"),
    ("SELECT (SELECT 1, 2)", 1241, "USER_ERROR", 0, "GENERIC_USER_ERROR"),
    ("SELECT (1, 2) = 1", 4078, "USER_ERROR", 0, "GENERIC_USER_ERROR"),
])
def test_mariadb_codes_beat_classes(maria: Any, sql: str, errno: int, kind: str, code: int, name: str) -> None:
    info = failure_of(lambda: maria.cursor().execute(sql))
    assert_code(info, kind, code, name)
    assert first(info)["failureMessage"].startswith("(%d," % errno)


def test_mariadb_unknown_column_is_raised_as_operational_error(maria: Any) -> None:
    import pymysql

    with pytest.raises(pymysql.err.OperationalError):
        maria.cursor().execute("SELECT no_such_column FROM ryft_failure")


def test_mariadb_lock_wait_timeout_is_insufficient_resources(maria: Any, mariadb_kwargs: Dict[str, Any]) -> None:
    import pymysql

    holder = pymysql.connect(**mariadb_kwargs)
    holder.begin()
    holder.cursor().execute("SELECT * FROM ryft_failure WHERE id = 1 FOR UPDATE")
    waiter = pymysql.connect(**mariadb_kwargs)
    waiter.cursor().execute("SET SESSION innodb_lock_wait_timeout = 1")
    waiter.begin()
    info = failure_of(lambda: waiter.cursor().execute("UPDATE ryft_failure SET v = 2 WHERE id = 1"))
    assert_code(info, "INSUFFICIENT_RESOURCES", 131072, "GENERIC_INSUFFICIENT_RESOURCES")
    assert first(info)["failureMessage"].startswith("(1205,")
    holder.rollback()
    waiter.rollback()
    holder.close()
    waiter.close()


def test_mariadb_max_statement_time_is_exceeded_time_limit(maria: Any) -> None:
    cur = maria.cursor()
    cur.execute("SET SESSION max_statement_time = 0.05")
    info = failure_of(lambda: cur.execute("SELECT SLEEP(2)"))
    cur.execute("SET SESSION max_statement_time = 0")
    assert_code(info, "INSUFFICIENT_RESOURCES", 131075, "EXCEEDED_TIME_LIMIT")
    assert first(info)["failureMessage"].startswith("(1969,")


def test_mariadb_cannot_connect_is_external(mariadb_kwargs: Dict[str, Any]) -> None:
    import pymysql

    kwargs = dict(mariadb_kwargs, port=1, connect_timeout=3)
    info = failure_of(lambda: pymysql.connect(**kwargs))
    assert_code(info, "EXTERNAL", 2003, "MYSQL_2003")
    assert "2003" in first(info)["failureMessage"]


# --- SQLite by result code ---------------------------------------------------------------------------------------


def test_sqlite_result_codes(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)")
    conn.execute("INSERT INTO t VALUES (1, 'x')")
    assert_code(failure_of(lambda: conn.execute("SELECT * FROM nope")), "USER_ERROR", 46, "TABLE_NOT_FOUND")
    assert_code(failure_of(lambda: conn.execute("SELECT nope FROM t")), "USER_ERROR", 47, "COLUMN_NOT_FOUND")
    assert_code(failure_of(lambda: conn.execute("SELEC 1")), "USER_ERROR", 1, "SYNTAX_ERROR")
    assert_code(failure_of(lambda: conn.execute("INSERT INTO t VALUES (1, 'y')")), "USER_ERROR", 16,
                "CONSTRAINT_VIOLATION")
    assert_code(failure_of(lambda: conn.execute("INSERT INTO t VALUES (2, NULL)")), "USER_ERROR", 16,
                "CONSTRAINT_VIOLATION")
    conn.set_progress_handler(lambda: 1, 1)
    assert_code(failure_of(lambda: conn.execute("SELECT * FROM t")), "USER_ERROR", 3, "USER_CANCELED")
    conn.close()

    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (a)").connection.commit()
    readonly = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    assert_code(failure_of(lambda: readonly.execute("INSERT INTO t VALUES (1)")), "USER_ERROR", 23,
                "READ_ONLY_VIOLATION")
    readonly.close()

    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    assert_code(failure_of(lambda: other.execute("BEGIN IMMEDIATE")), "INSUFFICIENT_RESOURCES")
    holder.execute("ROLLBACK")
    holder.close()
    other.close()

    info = failure_of(lambda: sqlite3.connect(tmp_path / "no" / "such" / "dir.db"))
    assert_code(info, "EXTERNAL", 14, "SQLITE_CANTOPEN")

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    assert_code(failure_of(lambda: sqlite3.connect(garbage).execute("SELECT * FROM sqlite_master")), "EXTERNAL", 26,
                "SQLITE_NOTADB")


# --- DuckDB by exception class -----------------------------------------------------------------------------------


def test_duckdb_exception_classes(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES (1)")
    assert_code(failure_of(lambda: conn.execute("SELECT * FROM nope")), "USER_ERROR", 46, "TABLE_NOT_FOUND")
    assert_code(failure_of(lambda: conn.execute("SELECT nope FROM t")), "USER_ERROR", 47, "COLUMN_NOT_FOUND")
    assert_code(failure_of(lambda: conn.execute("SELEC 1")), "USER_ERROR", 1, "SYNTAX_ERROR")
    assert_code(failure_of(lambda: conn.execute("INSERT INTO t VALUES (1)")), "USER_ERROR", 16,
                "CONSTRAINT_VIOLATION")
    assert_code(failure_of(lambda: conn.execute("SELECT 'abc'::INTEGER")), "USER_ERROR", 9, "INVALID_CAST_ARGUMENT")
    assert_code(failure_of(lambda: conn.execute("SELECT 1 // 0")), "USER_ERROR", 8, "DIVISION_BY_ZERO")
    conn.execute("BEGIN")
    assert_code(failure_of(lambda: conn.execute("BEGIN")), "USER_ERROR", 0, "GENERIC_USER_ERROR")
    conn.execute("ROLLBACK")
    first_writer, second_writer = conn.cursor(), conn.cursor()
    for writer in (first_writer, second_writer):
        writer.execute("BEGIN")
    first_writer.execute("UPDATE t SET a = 2")
    assert_code(failure_of(lambda: second_writer.execute("UPDATE t SET a = 3")), "USER_ERROR", 17,
                "TRANSACTION_CONFLICT")
    first_writer.execute("ROLLBACK")
    file = str(tmp_path / "ro.duckdb")
    duckdb.connect(file).close()
    read_only = duckdb.connect(file, read_only=True)
    assert_code(failure_of(lambda: read_only.execute("CREATE TABLE u (a INTEGER)")), "USER_ERROR", 23,
                "READ_ONLY_VIOLATION")
    read_only.close()
    info = failure_of(lambda: conn.execute("SELECT * FROM read_csv('%s')" % (tmp_path / "missing.csv")))
    assert_code(info, "EXTERNAL", None, "DUCKDB_IOException")
    assert first(info)["failureType"].endswith(".IOException")
    conn.close()


def test_duckdb_out_of_memory_is_insufficient_resources() -> None:
    duckdb = pytest.importorskip("duckdb")
    conn = duckdb.connect()
    conn.execute("SET memory_limit = '10MB'")
    conn.execute("SET threads = 1")
    info = failure_of(lambda: conn.execute("SELECT string_agg(x::VARCHAR, ',') FROM range(20000000) t(x)").fetchall())
    assert_code(info, "INSUFFICIENT_RESOURCES", 131079, "EXCEEDED_LOCAL_MEMORY_LIMIT")
    assert first(info)["failureType"].endswith(".OutOfMemoryException")
    conn.close()


def test_duckdb_interrupt_is_user_canceled() -> None:
    duckdb = pytest.importorskip("duckdb")
    conn = duckdb.connect()
    timer = threading.Timer(0.2, conn.interrupt)
    timer.start()
    try:
        info = failure_of(lambda: conn.execute("SELECT count(*) FROM range(100000000000) a").fetchall())
    finally:
        timer.join()
    assert_code(info, "USER_ERROR", 3, "USER_CANCELED")
    conn.close()


# --- Trino client exceptions, built the way the client builds them ------------------------------------------------


def trino_error(kind: str, code: int, name: str, message: str = "boom") -> Dict[str, Any]:
    return {"message": message, "errorCode": code, "errorName": name, "errorType": kind,
            "errorLocation": {"lineNumber": 1, "columnNumber": 1},
            "failureInfo": {"type": "io.trino.spi.TrinoException", "message": message, "suppressed": [], "stack": []}}


@pytest.mark.parametrize("kind,code,name", [
    ("USER_ERROR", 1, "SYNTAX_ERROR"), ("USER_ERROR", 46, "TABLE_NOT_FOUND"),
    ("INSUFFICIENT_RESOURCES", 131075, "EXCEEDED_TIME_LIMIT"), ("INTERNAL_ERROR", 65536, "GENERIC_INTERNAL_ERROR"),
    ("EXTERNAL", 16777216, "HIVE_METASTORE_ERROR"),
])
def test_trino_errors_are_copied(kind: str, code: int, name: str) -> None:
    client = pytest.importorskip("trino.client")
    error = trino_error(kind, code, name)

    def raise_it() -> None:
        processed = client.TrinoRequest._process_error(error, "20260101_000000_00001_abcde")
        raise processed

    info = failure_of(raise_it)
    assert error_code(info) == {"type": kind, "code": code, "name": name}
    assert first(info)["failureType"].startswith("trino.exceptions.Trino")


def test_trino_cancelled_query_whose_error_is_not_a_dict() -> None:
    exceptions = pytest.importorskip("trino.exceptions")
    exc = exceptions.TrinoUserError("Query has been cancelled", "20260101_000000_00002_abcde")
    with pytest.raises(AttributeError):
        str(exc)  # the client's own exception cannot print itself
    info = failure_of(lambda: (_ for _ in ()).throw(exc))
    assert_code(info, "USER_ERROR", 3, "USER_CANCELED")
    assert first(info)["failureMessage"] == "Query has been cancelled"


def test_trino_transport_errors_are_external() -> None:
    exceptions = pytest.importorskip("trino.exceptions")
    for exc in (exceptions.Http503Error("error 503: service unavailable"),
                exceptions.TrinoConnectionError("received empty response from server (status 200)")):
        info = describe_failure(exc)
        assert validate_failure_info(info) == []
        assert_code(info, "EXTERNAL")


# --- chains, builtins and hostile exceptions ----------------------------------------------------------------------


def sqlite_error() -> sqlite3.Error:
    try:
        sqlite3.connect(":memory:").execute("SELECT * FROM nope")
    except sqlite3.Error as exc:
        return exc
    raise AssertionError


def test_raise_from_is_an_outermost_first_array_decided_by_the_driver() -> None:
    def wrapped() -> None:
        try:
            raise sqlite_error()
        except sqlite3.Error as exc:
            raise RuntimeError("repository failed") from exc

    info = failure_of(wrapped)
    assert isinstance(info, list) and len(info) == 2
    assert [item["failureType"] for item in info] == ["builtins.RuntimeError", "sqlite3.OperationalError"]
    assert info[0]["failureMessage"] == "repository failed"
    assert_code(info, "USER_ERROR", 46, "TABLE_NOT_FOUND")


def test_sqlalchemy_dbapi_error_wrapping_sqlite() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        info = failure_of(lambda: conn.execute(sa.text("SELECT * FROM nope")))
    assert isinstance(info, list)
    assert [item["failureType"] for item in info] == ["sqlalchemy.exc.OperationalError", "sqlite3.OperationalError"]
    assert_code(info, "USER_ERROR", 46, "TABLE_NOT_FOUND")


def test_long_chain_is_bounded_and_keeps_the_deciding_exception() -> None:
    exc: BaseException = sqlite_error()
    for i in range(6):
        outer = RuntimeError("layer %d" % i)
        outer.__cause__ = exc
        exc = outer
    info = describe_failure(exc)
    assert validate_failure_info(info) == []
    assert isinstance(info, list) and len(info) == MAX_CHAIN
    assert info[0]["failureMessage"] == "layer 5"
    assert info[-1]["failureType"] == "sqlite3.OperationalError"
    assert_code(info, "USER_ERROR", 46, "TABLE_NOT_FOUND")


def test_cause_cycles_terminate() -> None:
    a = ValueError("a")
    b = KeyError("b")
    a.__cause__ = b
    b.__cause__ = a
    info = describe_failure(a)
    assert validate_failure_info(info) == []
    assert isinstance(info, list) and len(info) == 2
    assert_code(info, "INTERNAL_ERROR", 65536, "GENERIC_INTERNAL_ERROR")


def test_an_exception_being_handled_does_not_decide() -> None:
    """A statement that fails inside ``except`` (a retry, a cleanup) is described by its own exception: the one
    being handled (the implicit ``__context__``) is another failure (SPEC §3 chains ``orig`` and ``from`` only)."""

    def during_handling() -> None:
        try:
            raise sqlite_error()  # TABLE_NOT_FOUND, the more specific code
        except sqlite3.Error:
            connection = sqlite3.connect(":memory:")
            connection.close()
            connection.execute("SELECT 1")  # the statement that fails now: a closed connection

    info = failure_of(during_handling)
    assert isinstance(info, dict) and info["failureType"] == "sqlite3.ProgrammingError"
    assert info["errorCode"]["name"] != "TABLE_NOT_FOUND" and "closed" in info["failureMessage"]


@pytest.mark.parametrize("exc,kind,name", [
    (MemoryError(), "INSUFFICIENT_RESOURCES", "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    (ConnectionRefusedError(111, "Connection refused"), "EXTERNAL", "ECONNREFUSED"),
    (TimeoutError(), "EXTERNAL", "TIMEOUT"),
    (OSError("disk"), "EXTERNAL", "GENERIC_EXTERNAL"),
    (KeyboardInterrupt(), "USER_ERROR", "USER_CANCELED"),
    (asyncio.CancelledError(), "USER_ERROR", "USER_CANCELED"),
    (ValueError("x"), "INTERNAL_ERROR", "GENERIC_INTERNAL_ERROR"),
])
def test_python_builtins(exc: BaseException, kind: str, name: str) -> None:
    info = describe_failure(exc)
    assert validate_failure_info(info) == []
    assert_code(info, kind, None, name)
    assert first(info)["failureType"].split(".")[-1] == type(exc).__qualname__


def test_pep249_class_fallback_when_there_is_no_code() -> None:
    class ProgrammingError(Exception):
        pass

    class DriverSpecificError(ProgrammingError):
        pass

    class OperationalError(Exception):
        pass

    class InternalError(Exception):
        pass

    assert_code(describe_failure(DriverSpecificError("x")), "USER_ERROR", 0, "GENERIC_USER_ERROR")
    assert_code(describe_failure(OperationalError("x")), "EXTERNAL")
    assert_code(describe_failure(InternalError("x")), "INTERNAL_ERROR", 65536)
    info = describe_failure(DriverSpecificError("x"))
    assert first(info)["failureType"].endswith("test_pep249_class_fallback_when_there_is_no_code.<locals>."
                                               "DriverSpecificError")


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class NotAStringError(Exception):
    def __str__(self) -> str:
        return 42  # type: ignore[return-value]


class HostileAttributesError(Exception):
    @property
    def sqlstate(self) -> str:
        raise RuntimeError("sqlstate exploded")

    @property
    def orig(self) -> BaseException:
        raise RuntimeError("orig exploded")

    @property
    def args(self) -> Any:  # type: ignore[override]
        raise RuntimeError("args exploded")


@pytest.mark.parametrize("exc", [
    UnprintableError(), UnprintableError("with args"), NotAStringError(), HostileAttributesError(),
    Exception(b"\xff\xfe\x00 bytes"),
    Exception("\udcff lone surrogate"), Exception("x" * 10_000_000), Exception(),
])
def test_hostile_exceptions_yield_valid_failure_info(exc: BaseException) -> None:
    info = describe_failure(exc)
    assert validate_failure_info(info) == []
    item = first(info)
    assert set(item) <= {"errorCode", "failureMessage", "failureType"}
    message = item.get("failureMessage", "")
    assert len(message) <= MAX_MESSAGE
    message.encode("utf-8")


def test_unprintable_message_falls_back_to_args_then_the_type() -> None:
    assert first(describe_failure(UnprintableError("with args")))["failureMessage"] == "with args"
    message = first(describe_failure(UnprintableError()))["failureMessage"]
    assert message.startswith("<unprintable ") and message.endswith(".UnprintableError>")
