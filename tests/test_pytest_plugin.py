"""``pytest --ryft`` end to end: inner pytest sessions (pytester) on real SQLite, DuckDB and PostgreSQL, checked
through what a user sees: the terminal, test outcomes, the JSON profile, baselines and records delivered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ryft_instrument import recorder
from ryft_instrument.testing import IngestServer

pytest_plugins = ["pytester"]

# An app with an N+1: one query for the users, then one per user by id.
APP = """
import sqlalchemy as sa
import pytest


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine("sqlite:///%s" % (tmp_path / "app.db"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO users (id, name) VALUES " + ", ".join(
            "(%d, 'user %d')" % (i, i) for i in range(1, 21)))
    yield engine
    engine.dispose()


def names(conn):
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM users ORDER BY id"))]
    return [conn.execute(sa.text("SELECT name FROM users WHERE id = :id"), {"id": i}).scalar()  # N+1 line
            for i in ids]
"""


def _line(source: str, marker: str) -> int:
    """The line of `marker` in `source` as pytester writes it (leading blank lines stripped)."""
    return next(n for n, text in enumerate(source.strip().splitlines(), 1) if marker in text)


def _json(pytester: pytest.Pytester, name: str = "ryft.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / name).read_text())
    return data


def _test(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in report["tests"] if t["nodeid"].endswith("::" + name))
    return found


@pytest.fixture
def app(pytester: pytest.Pytester) -> str:
    pytester.makeconftest(APP)
    return APP


def test_n_plus_one_is_one_group_of_20_with_its_origin(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_users="""
        from conftest import names

        def test_list(engine):
            with engine.connect() as conn:
                assert len(names(conn)) == 20
    """)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1)
    origin = "conftest.py:%d" % _line(app, "# N+1 line")
    test = _test(_json(pytester), "test_list")
    assert test["outcome"] == "passed"
    assert test["queries"] == 21
    assert test["by_type"] == {"SELECT": 21}
    assert test["groups"][0] == {"fingerprint": "SELECT name FROM users WHERE id = ?", "count": 20,
                                 "db_ms": pytest.approx(test["groups"][0]["db_ms"]), "origin": origin}
    assert test["groups"][1]["count"] == 1 and test["groups"][1]["origin"] == "conftest.py:%d" % _line(
        app, "SELECT id FROM users")
    result.stdout.fnmatch_lines([
        "*= ryft: database statements =*",
        "tests with the most statements*",
        "*21 * test_users.py::test_list",
        "*×20  %s  SELECT name FROM users WHERE id = ?" % origin,
        "slowest statement groups*",
    ])


BUDGET = """
    import pytest
    from conftest import names

    @pytest.mark.ryft(max_similar=5)
    def test_list(engine):
        with engine.connect() as conn:
            names(conn)
"""


def test_budget_breach_fails_with_the_statements_grouped(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_budget=BUDGET)
    result = pytester.runpytest("--ryft", "--strict-markers")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "ryft: database budget exceeded in test_budget.py::test_list",
        "  max_similar=5 exceeded by 15: 20 similar statements in one group",
        "  statements by fingerprint (21 in 2 groups):",
        "       20 × * ms  conftest.py:%d  SELECT name FROM users WHERE id = ?" % _line(app, "# N+1 line"),
        "        1 × * ms  conftest.py:*  SELECT id FROM users ORDER BY id",
        "budget breaches (failed):",
        "  test_budget.py::test_list  max_similar=5 exceeded by 15*",
    ])


def test_budget_breach_only_warns_in_warn_mode(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_budget=BUDGET)
    result = pytester.runpytest("--ryft", "--ryft-mode=warn")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*RyftBudgetWarning: ryft: database budget exceeded in test_budget.py::test_list",
                                 "*max_similar=5 exceeded by 15*", "budget breaches (warned):"])


def test_suite_wide_budgets_from_the_ini_file(pytester: pytest.Pytester, app: str) -> None:
    pytester.makeini("[pytest]\nryft = true\nryft_max_queries = 3\n")
    pytester.makepyfile(test_budget="""
        import pytest
        from conftest import names

        def test_over(engine):
            with engine.connect() as conn:
                names(conn)

        @pytest.mark.ryft(max_queries=None)
        def test_exempt(engine):
            with engine.connect() as conn:
                names(conn)
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*max_queries=3 exceeded by 18: 21 statements*"])


def test_a_failed_statement_is_listed_with_its_test(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_fail="""
        import pytest
        import sqlalchemy as sa

        def test_typo(engine):
            with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
                conn.execute(sa.text("SELECT nmae FROM users"))  # the typo
    """)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "failed statements:",
        "  test_fail.py::test_typo  test_fail.py:6",
        "      sqlite3.OperationalError: no such column: nmae",
        "      SELECT nmae FROM users",
    ])
    report = _json(pytester)
    assert _test(report, "test_typo")["failed"] == 1
    assert report["totals"]["failed"] == 1


def test_setup_statements_are_not_charged_to_the_test(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_setup="""
        import pytest
        import sqlalchemy as sa

        @pytest.mark.ryft(max_queries=1)
        def test_one(engine):
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT count(*) FROM users")).scalar()
    """)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1)
    test = _test(_json(pytester), "test_one")
    assert test["queries"] == 1
    assert test["phases"]["setup"]["queries"] == 3  # the fixture's PRAGMA, CREATE TABLE and INSERT
    assert test["phases"]["call"]["queries"] == 1


def test_transaction_control_is_counted_apart(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_tx="""
        import pytest
        import sqlalchemy as sa

        def work(engine):
            with engine.connect() as conn:
                with conn.begin_nested():
                    conn.execute(sa.text("SELECT 1")).scalar()

        @pytest.mark.ryft(max_queries=1)
        def test_not_counted(engine):
            work(engine)

        @pytest.mark.ryft(max_queries=1, count_transactions=True)
        def test_counted(engine):
            work(engine)
    """)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*max_queries=1 exceeded by 2: 3 statements*"])
    test = _test(_json(pytester), "test_not_counted")
    assert test["queries"] == 1
    assert test["phases"]["call"]["transactions"] == 2  # SAVEPOINT, RELEASE SAVEPOINT


def test_threads_and_asyncio_tasks_are_attributed_to_the_test(pytester: pytest.Pytester) -> None:
    source = textwrap.dedent("""
        import asyncio
        import sqlite3
        from concurrent.futures import ThreadPoolExecutor


        def in_thread(path):
            conn = sqlite3.connect(path)
            conn.execute("SELECT 1 AS from_thread").fetchall()  # thread line
            conn.close()


        async def in_task(path):
            await asyncio.sleep(0)
            conn = sqlite3.connect(path)
            conn.execute("SELECT 2 AS from_task").fetchall()  # task line
            conn.close()


        def test_pool_and_tasks(tmp_path):
            path = str(tmp_path / "t.db")
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(in_thread, [path] * 3))

            async def main():
                await asyncio.gather(*(asyncio.create_task(in_task(path)) for _ in range(2)))

            asyncio.run(main())


        def test_next():
            pass
    """)
    pytester.makepyfile(test_async=source)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=2)
    report = _json(pytester)
    test = _test(report, "test_pool_and_tasks")
    groups = {g["fingerprint"]: (g["count"], g["origin"]) for g in test["groups"]}
    assert groups["SELECT ? AS from_thread"] == (3, "test_async.py:%d" % _line(source, "# thread line"))
    assert groups["SELECT ? AS from_task"] == (2, "test_async.py:%d" % _line(source, "# task line"))
    assert _test(report, "test_next")["phases"]["call"]["queries"] == 0


def test_async_engine_statements_point_at_the_await(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLAlchemy runs the driver call in a greenlet whose own stack ends in SQLAlchemy: the origin is found in the
    # suspended parent. (sqlite3 is left alone here: aiosqlite calls it from its own thread, where the DB-API
    # integration would record the statement a second time.)
    monkeypatch.setenv("RYFT_INSTRUMENT_DISABLED", "sqlite3")
    source = textwrap.dedent("""
        import asyncio

        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine


        async def in_task(path):
            engine = create_async_engine("sqlite+aiosqlite:///%s" % path)
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 2 AS from_task"))  # task line
            await engine.dispose()


        def test_tasks(tmp_path):
            async def main():
                await asyncio.gather(*(asyncio.create_task(in_task(str(tmp_path / "t.db"))) for _ in range(2)))

            asyncio.run(main())
    """)
    pytester.makepyfile(test_async=source)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1)
    test = _test(_json(pytester), "test_tasks")
    groups = {g["fingerprint"]: (g["count"], g["origin"]) for g in test["groups"]}
    assert groups["SELECT ? AS from_task"] == (2, "test_async.py:%d" % _line(source, "# task line"))


def test_duckdb_and_sqlite3_connections_are_profiled(pytester: pytest.Pytester) -> None:
    pytest.importorskip("duckdb")
    pytester.makepyfile(test_raw="""
        import sqlite3

        import duckdb
        import pytest

        @pytest.mark.ryft(max_similar=3)
        def test_duck():
            conn = duckdb.connect()
            conn.execute("CREATE TABLE t (id INTEGER)")
            for i in range(5):
                conn.execute("INSERT INTO t VALUES (?)", [i])
            conn.close()

        def test_lite():
            conn = sqlite3.connect(":memory:")
            conn.execute("SELECT 1").fetchall()
            conn.close()
    """)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*max_similar=3 exceeded by 2*",
                                 "*5 × * ms  test_raw.py:11  INSERT INTO t VALUES (?)"])
    report = _json(pytester)
    assert _test(report, "test_duck")["by_type"] == {"INSERT": 5, "DATA_DEFINITION": 1}
    assert _test(report, "test_lite")["queries"] == 1


def test_postgresql_n_plus_one(pytester: pytest.Pytester, postgres_url: str) -> None:
    pytester.makepyfile(test_pg="""
        import sqlalchemy as sa

        def test_pg():
            engine = sa.create_engine(%r)
            with engine.connect() as conn:
                ids = [r[0] for r in conn.execute(sa.text("SELECT g FROM generate_series(1, 20) AS g"))]
                for i in ids:
                    conn.execute(sa.text("SELECT :i + 1"), {"i": i}).scalar()
            engine.dispose()
    """ % postgres_url)
    result = pytester.runpytest("--ryft", "--ryft-json=ryft.json")
    result.assert_outcomes(passed=1)
    test = _test(_json(pytester), "test_pg")
    assert (test["groups"][0]["count"], test["groups"][0]["origin"]) == (20, "test_pg.py:8")


def test_baseline_regression_is_caught(pytester: pytest.Pytester, app: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_base="""
        import os
        import sqlalchemy as sa

        def test_list(engine):
            with engine.connect() as conn:
                for i in range(int(os.environ["N"])):
                    conn.execute(sa.text("SELECT name FROM users WHERE id = :id"), {"id": i}).scalar()

        def test_other():
            pass
    """)
    monkeypatch.setenv("N", "3")
    result = pytester.runpytest("--ryft", "--ryft-baseline=base.json")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(["*RyftWarning: ryft: baseline */base.json not found*"])

    pytester.runpytest("--ryft", "--ryft-save-baseline=base.json").assert_outcomes(passed=2)
    saved = json.loads((pytester.path / "base.json").read_text())
    assert saved["tests"] == {"test_base.py::test_list": 3, "test_base.py::test_other": 0}

    pytester.runpytest("--ryft", "--ryft-baseline=base.json").assert_outcomes(passed=2)
    monkeypatch.setenv("N", "5")
    result = pytester.runpytest("--ryft", "--ryft-baseline=base.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*baseline 3 exceeded by 2: 5 statements*", "baseline *: 1 tests over, 0 under*"])
    pytester.runpytest("--ryft", "--ryft-baseline=base.json", "--ryft-mode=warn").assert_outcomes(passed=2,
                                                                                                 warnings=1)


def test_xdist_summary_and_json_are_complete(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_many="""
        import sqlite3
        import pytest
        from conftest import names

        sqlite3.connect(":memory:").execute("SELECT 'at import'")  # outside tests

        @pytest.mark.parametrize("n", range(6))
        def test_list(engine, n):
            with engine.connect() as conn:
                names(conn)[:n]
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--ryft", "--ryft-json=ryft.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    report = _json(pytester)
    assert sorted(t["nodeid"] for t in report["tests"]) == ["test_many.py::test_list[%d]" % n for n in range(6)]
    assert all(t["queries"] == 21 and t["groups"][0]["count"] == 20 for t in report["tests"])
    totals = report["totals"]
    assert (totals["tests"], totals["call_queries"], totals["setup_queries"]) == (6, 126, 18)
    assert totals["outside_queries"] == 2  # the import-time statement, once on each worker
    result.stdout.fnmatch_lines(["*= ryft: database statements =*", "146 statements in 6 tests*"])
    assert len([line for line in result.outlines if "test_many.py::test_list[" in line]) == 6


def test_without_ryft_nothing_is_printed_or_enforced(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_budget=BUDGET)
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=1)
    assert "ryft:" not in result.stdout.str() and "Ryft" not in result.stdout.str()
    assert recorder.observers == []


def test_the_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, ryft_instrument.pytest_plugin; "
            "print(sorted(m for m in ('sqlalchemy', 'wrapt', 'requests', 'ryft_instrument.profile', "
            "'ryft_instrument.testing') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_fixtures_work_without_ryft(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(test_fixtures="""
        import pytest
        import sqlalchemy as sa
        from conftest import names

        def test_queries(engine, ryft_queries):
            assert ryft_queries.count == 0  # the fixture's setup statements are not the test's
            with engine.connect() as conn:
                names(conn)
                with pytest.raises(sa.exc.OperationalError):
                    conn.execute(sa.text("SELECT nope FROM users"))
            assert ryft_queries.count == 22
            assert ryft_queries.by_type() == {"SELECT": 22}
            (group,) = ryft_queries.similar()
            assert (group.count, group.fingerprint) == (20, "SELECT name FROM users WHERE id = ?")
            assert group.origin.startswith("conftest.py:")
            (failed,) = ryft_queries.failed
            assert failed.query == "SELECT nope FROM users" and "no such column" in failed.error
            assert len(ryft_queries.slowest(3)) == 3
            assert ryft_queries.records[0].query == "SELECT id FROM users ORDER BY id"

        def test_block_within_budget(engine, ryft_assert_queries):
            with engine.connect() as conn, ryft_assert_queries(max=3) as block:
                conn.execute(sa.text("SELECT 1")).scalar()
            assert block.count == 1

        def test_block_over_budget(engine, ryft_assert_queries):
            with engine.connect() as conn, ryft_assert_queries(max=3):
                names(conn)
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "E*ryft_assert_queries: the block exceeded its budget",
        "E*max=3 exceeded by 18: 21 statements",
        "E*20 × * ms  conftest.py:*  SELECT name FROM users WHERE id = ?",
    ])
    assert "= ryft: database statements =" not in result.stdout.str()


def test_records_go_to_ryft_tagged_with_test_and_run(pytester: pytest.Pytester, ingest: IngestServer) -> None:
    pytester.makepyfile(test_sent="""
        import sqlite3
        import threading

        def test_tagged():
            def work():
                sqlite3.connect(":memory:").execute("SELECT 'in a thread'").fetchall()
            sqlite3.connect(":memory:").execute("SELECT 'in the test'").fetchall()
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
    """)
    result = pytester.runpytest("--ryft", "--ryft-run-id=ci-42")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["2 records delivered to %s, tagged run:ci-42 and test:<nodeid>" % ingest.url])
    records = {r["query"]: r for r in ingest.wait_for(2)}
    for query in ("SELECT 'in the test'", "SELECT 'in a thread'"):
        assert {"test:test_sent.py::test_tagged", "run:ci-42"} <= set(records[query]["tags"])


def test_a_session_leaves_nothing_behind(pytester: pytest.Pytester, tmp_path: Path) -> None:
    get_tags = recorder.get_tags
    pytester.makepyfile("def test_ok(): pass")
    pytester.runpytest("--ryft").assert_outcomes(passed=1)
    assert recorder.observers == [] and recorder.get_tags is get_tags
    import sqlalchemy as sa

    import ryft_instrument

    out = tmp_path / "after.jsonl"
    ryft_instrument.configure(output=str(out))
    with sa.create_engine("sqlite://").connect() as conn:
        conn.exec_driver_sql("SELECT 'after the session'")
    assert ryft_instrument.flush(5)
    assert not out.exists(), "a SQLAlchemy hook was left behind: %s" % out.read_text()


def test_a_bad_marker_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.ryft(max_querys=1)
        def test_typo():
            pass

        @pytest.mark.ryft(max_queries="5")
        def test_text():
            pass
    """)
    result = pytester.runpytest("--ryft")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*@pytest.mark.ryft takes the keywords count_transactions, max_db_time_ms, "
                                 "max_queries, max_similar, got max_querys*"])
    result.stdout.fnmatch_lines(["*@pytest.mark.ryft(max_queries=…) takes a number ≥ 0 or None, got '5'*"])
    assert "Traceback" not in result.stdout.str()


def test_the_example_suite_runs(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "examples" / "pytest_suite"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--ryft-json", str(tmp_path / "ryft.json")],
        cwd=example, capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "= ryft: database statements =" in result.stdout
    report = json.loads((tmp_path / "ryft.json").read_text())
    heaviest = max(report["tests"], key=lambda t: t["queries"])
    assert heaviest["groups"][0]["count"] == 20


def test_a_driver_imported_during_the_session_is_instrumented_before_it_connects(pytester: pytest.Pytester) -> None:
    """A fresh interpreter: duckdb is first imported by a test module that connects as it is imported, and again by
    a session fixture that imports it lazily; both connections are recorded from their first statement."""
    pytester.makepyfile(test_late="""
        import pytest

        import duckdb
        AT_IMPORT = duckdb.connect()

        @pytest.fixture(scope="session")
        def lazy():
            import duckdb as late
            return late.connect()

        def test_module_level(ryft_queries):
            AT_IMPORT.execute("SELECT 'at import'").fetchall()
            assert ryft_queries.count == 1

        def test_lazy(lazy, ryft_queries):
            lazy.execute("SELECT 'lazy'").fetchall()
            assert ryft_queries.count == 1
    """)
    result = pytester.runpytest_subprocess("--ryft", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_without_ryft_the_fixtures_see_connections_opened_by_session_fixtures(pytester: pytest.Pytester) -> None:
    """Without ``--ryft`` recording starts once collection shows a test using the fixtures: a connection a session
    fixture opens before them (pytest-django's test database) is covered, and a guard around it fires."""
    pytester.makepyfile(test_session="""
        import sqlite3

        import pytest

        @pytest.fixture(scope="session")
        def conn():
            return sqlite3.connect(":memory:")

        def test_counts(conn, ryft_queries):
            conn.execute("SELECT 1")
            assert ryft_queries.count == 1

        def test_guard(conn, ryft_assert_queries):
            with ryft_assert_queries(max=0):
                conn.execute("SELECT 1")
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["E*ryft_assert_queries: the block exceeded its budget"])


def test_zero_code_under_pytest_raises_no_warning(pytester: pytest.Pytester) -> None:
    """``RYFT_INSTRUMENT=1`` imports the package before pytest starts; pytest must not warn that it cannot rewrite
    the plugin (a suite with ``filterwarnings = error`` would stop before collecting)."""
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    env = dict(os.environ, RYFT_INSTRUMENT="1", RYFT_OUTPUT=str(pytester.path / "out.jsonl"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=pytester.path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr
