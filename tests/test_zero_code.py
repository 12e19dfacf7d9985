"""Zero-code activation (issue 6): ``RYFT_INSTRUMENT=1`` and the ``ryft-instrument`` launcher.

Every test runs an unmodified application in a real subprocess of this venv, where the installed
``ryft_instrument.pth`` does the work, and looks at what the loopback Ingest API received once the process has
exited (the exit flush must have delivered everything by then).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from ryft_instrument import bootstrap
from ryft_instrument.testing import IngestServer

REPO = Path(__file__).resolve().parent.parent
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])

SQLALCHEMY_APP = """
import sys
from sqlalchemy import create_engine, text

engine = create_engine("sqlite:///" + sys.argv[1])
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE t (x INTEGER)"))
    conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])
    print(conn.execute(text("SELECT x FROM t WHERE x = :x"), {"x": 2}).scalar())
"""
SQLALCHEMY_QUERIES = ["CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (?)", "SELECT x FROM t WHERE x = ?"]

ASYNC_APP = """
import asyncio
import sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def main():
    engine = create_async_engine("sqlite+aiosqlite:///" + sys.argv[1])
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        print((await conn.execute(text("SELECT count(*) FROM t"))).scalar())
    await engine.dispose()


asyncio.run(main())
"""
ASYNC_QUERIES = ["CREATE TABLE t (x INTEGER)", "SELECT count(*) FROM t"]

SQLITE_APP = """
import sys
from sqlite3 import connect

conn = connect(sys.argv[1])
cur = conn.cursor()
cur.execute("CREATE TABLE t (x INTEGER)")
cur.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
conn.execute("INSERT INTO t VALUES (3)")
print(conn.execute("SELECT count(*) FROM t").fetchone()[0])
conn.commit()
conn.close()
"""
SQLITE_QUERIES = ["CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (?)", "INSERT INTO t VALUES (3)",
                  "SELECT count(*) FROM t"]

PSYCOPG_APP = """
import sys
import psycopg

with psycopg.connect(sys.argv[1]) as conn:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 AS ryft_zero_code_cursor")
        cur.fetchall()
    print(conn.execute("SELECT 2 AS ryft_zero_code_shortcut").fetchone()[0])
"""

FORK_APP = """
import multiprocessing
import sqlite3


def child(n):
    sqlite3.connect(":memory:").execute("SELECT %d AS in_child" % n).fetchall()


if __name__ == "__main__":
    processes = [multiprocessing.get_context("fork").Process(target=child, args=(n,)) for n in (1, 2)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    print([p.exitcode for p in processes])
    sqlite3.connect(":memory:").execute("SELECT 0 AS in_parent").fetchall()
"""


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer() as running:
        yield running


def child_env(server: Optional[IngestServer], **variables: str) -> dict[str, str]:
    """This process's environment (RYFT_* already cleared by conftest) pointed at ``server``, plus ``variables``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if server is not None:
        env.update(RYFT_INGEST_URL=server.url, RYFT_INGEST_TOKEN=server.token, RYFT_FLUSH_INTERVAL="0.05")
    env.update(variables)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def script(tmp_path: Path, source: str, name: str = "app.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def counted(server: IngestServer) -> Counter[str]:
    return Counter(server.queries())


def assert_once_each(server: IngestServer, expected: list[str]) -> None:
    seen = counted(server)
    assert {q: seen[q] for q in expected} == {q: 1 for q in expected}, seen


# -- the .pth is installed and cheap ------------------------------------------------------------------------------


def test_installed_pth_is_the_repository_one() -> None:
    installed = SITE_PACKAGES / "ryft_instrument.pth"
    assert installed.exists(), "ryft_instrument.pth is not in %s: reinstall with `pip install -e .`" % SITE_PACKAGES
    assert installed.read_text() == (REPO / "ryft_instrument.pth").read_text(), "stale copy: `pip install -e .`"
    assert (SITE_PACKAGES / "ryft_instrument.start").read_text() == (REPO / "ryft_instrument.start").read_text()


def test_wheel_ships_pth_and_start_at_the_top(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(tmp_path)], check=True, capture_output=True, timeout=120)
    (wheel,) = tmp_path.glob("ryft_instrument-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"ryft_instrument.pth", "ryft_instrument.start", "ryft_instrument/_sitecustomize/sitecustomize.py"} <= names


def test_start_file_names_a_callable_entry_point() -> None:
    lines = [line.strip() for line in (REPO / "ryft_instrument.start").read_text().splitlines()]
    (entry,) = [line for line in lines if line and not line.startswith("#")]
    module, _, name = entry.partition(":")
    assert module == bootstrap.__name__ and getattr(bootstrap, name) is bootstrap.start


@pytest.mark.parametrize("switch", [None, "0", "off", "1", "true"])
def test_python_c_pass_imports_nothing_heavy(tmp_path: Path, switch: Optional[str]) -> None:
    env = child_env(None) if switch is None else child_env(None, RYFT_INSTRUMENT=switch)
    code = "import sys; print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (
        ("wrapt", "sqlalchemy", "requests", "ryft_instrument", "json", "logging", "threading"),)
    loaded = set(filter(None, run([sys.executable, "-c", code], env, tmp_path).stdout.strip().split(",")))
    if switch in ("1", "true"):
        assert loaded == {"ryft_instrument", "ryft_instrument._version", "ryft_instrument.bootstrap"}
    else:
        assert loaded == set()


def test_start_is_idempotent_when_site_packages_is_processed_again(tmp_path: Path) -> None:
    code = ("import site, sys; site.addsitedir(%r); site.addsitedir(%r); "
            "print(sum(type(f).__name__ == '_Finder' for f in sys.meta_path))" % ((str(SITE_PACKAGES),) * 2))
    assert run([sys.executable, "-c", code], child_env(None, RYFT_INSTRUMENT="1"), tmp_path).stdout.strip() == "1"


# -- each statement once with the switch, nothing without it ------------------------------------------------------


def test_sqlalchemy_app(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, SQLALCHEMY_APP)
    done = run([sys.executable, str(app), str(tmp_path / "db.sqlite")], child_env(server, RYFT_INSTRUMENT="true"),
               tmp_path)
    assert done.stdout.strip() == "2"
    assert_once_each(server, SQLALCHEMY_QUERIES)
    by_query = {r["query"]: r for r in server.records}
    assert "sqlalchemy/" in by_query["SELECT x FROM t WHERE x = ?"]["context"]["userAgent"]
    assert "service:app" in by_query["SELECT x FROM t WHERE x = ?"]["tags"]


def test_sqlalchemy_async_engine(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, ASYNC_APP)
    done = run([sys.executable, str(app), str(tmp_path / "db.sqlite")], child_env(server, RYFT_INSTRUMENT="1"),
               tmp_path)
    assert done.stdout.strip() == "0"
    assert_once_each(server, ASYNC_QUERIES)


def test_nothing_without_the_switch(tmp_path: Path, server: IngestServer) -> None:
    run([sys.executable, str(script(tmp_path, SQLALCHEMY_APP)), str(tmp_path / "a.sqlite")], child_env(server),
        tmp_path)
    run([sys.executable, str(script(tmp_path, SQLITE_APP, "raw.py")), str(tmp_path / "b.sqlite")],
        child_env(server, RYFT_INSTRUMENT="0"), tmp_path)
    assert server.records == []


def test_raw_sqlite3_cursor_and_connection_shortcuts(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, SQLITE_APP)
    done = run([sys.executable, str(app), str(tmp_path / "db.sqlite")], child_env(server, RYFT_INSTRUMENT="1"),
               tmp_path)
    assert done.stdout.strip() == "3"
    assert sorted(server.queries()) == sorted(SQLITE_QUERIES)


def test_psycopg_against_postgresql(tmp_path: Path, server: IngestServer, postgres_dsn: str) -> None:
    app = script(tmp_path, PSYCOPG_APP)
    done = run([sys.executable, str(app), postgres_dsn], child_env(server, RYFT_INSTRUMENT="1"), tmp_path)
    assert done.stdout.strip() == "2"
    assert_once_each(server, ["SELECT 1 AS ryft_zero_code_cursor", "SELECT 2 AS ryft_zero_code_shortcut"])
    assert all(r["context"].get("serverVersion") for r in server.records)


def test_sqlalchemy_over_psycopg_records_once(tmp_path: Path, server: IngestServer, postgres_url: str) -> None:
    app = script(tmp_path, """
        import sys
        from sqlalchemy import create_engine, text
        with create_engine(sys.argv[1]).connect() as conn:
            conn.execute(text("SELECT :n AS ryft_zero_code_sa"), {"n": 1}).fetchall()
    """)
    run([sys.executable, str(app), postgres_url], child_env(server, RYFT_INSTRUMENT="1"), tmp_path)
    seen = counted(server)
    assert seen["SELECT %(n)s AS ryft_zero_code_sa"] == 1, seen
    assert max(seen.values()) == 1, seen


def test_sqlalchemy_async_engine_over_psycopg(tmp_path: Path, server: IngestServer, postgres_url: str) -> None:
    app = script(tmp_path, """
        import asyncio
        import sys
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine


        async def main():
            engine = create_async_engine(sys.argv[1])
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1 AS ryft_zero_code_async"))
            await engine.dispose()


        asyncio.run(main())
    """)
    run([sys.executable, str(app), postgres_url], child_env(server, RYFT_INSTRUMENT="1"), tmp_path)
    seen = counted(server)
    assert seen["SELECT 1 AS ryft_zero_code_async"] == 1 and max(seen.values()) == 1, seen


def test_trino_hooked_once_its_package_has_finished_importing(tmp_path: Path, server: IngestServer) -> None:
    """``import trino`` imports ``trino.dbapi`` half-way through its own ``__init__``; the failure of a statement
    against a closed loopback port is a record like any other."""
    app = script(tmp_path, """
        import trino
        conn = trino.dbapi.connect(host="127.0.0.1", port=1, user="u", catalog="c", schema="s", max_attempts=1)
        try:
            conn.cursor().execute("SELECT 1 AS ryft_zero_code_trino")
        except trino.exceptions.TrinoConnectionError:
            print("refused")
    """)
    done = run([sys.executable, str(app)], child_env(server, RYFT_INSTRUMENT="1"), tmp_path)
    assert done.stdout.strip() == "refused"
    (record,) = server.records
    assert (record["query"], record["queryState"]) == ("SELECT 1 AS ryft_zero_code_trino", "FAILED")
    assert (record["context"]["catalog"], record["context"]["schema"]) == ("c", "s")


def test_python_dash_m(tmp_path: Path, server: IngestServer) -> None:
    script(tmp_path, SQLITE_APP, "zero_code_app.py")
    run([sys.executable, "-m", "zero_code_app", str(tmp_path / "db.sqlite")], child_env(server, RYFT_INSTRUMENT="1"),
        tmp_path)
    assert sorted(server.queries()) == sorted(SQLITE_QUERIES)


def test_isolated_mode_still_activates(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, SQLITE_APP)
    run([sys.executable, "-I", str(app), str(tmp_path / "db.sqlite")], child_env(server, RYFT_INSTRUMENT="1"),
        tmp_path)
    assert sorted(server.queries()) == sorted(SQLITE_QUERIES)


def test_fork_children_records_are_delivered(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, FORK_APP)
    done = run([sys.executable, str(app)], child_env(server, RYFT_INSTRUMENT="1"), tmp_path)
    assert done.stdout.strip() == "[0, 0]"
    assert sorted(server.queries()) == ["SELECT 0 AS in_parent", "SELECT 1 AS in_child", "SELECT 2 AS in_child"]


# -- switching parts off ------------------------------------------------------------------------------------------


def test_disabled_list(tmp_path: Path, server: IngestServer) -> None:
    raw = script(tmp_path, SQLITE_APP, "raw.py")
    run([sys.executable, str(raw), str(tmp_path / "a.sqlite")],
        child_env(server, RYFT_INSTRUMENT="1", RYFT_INSTRUMENT_DISABLED="duckdb, sqlite3"), tmp_path)
    assert server.records == []

    # Without the SQLAlchemy hook the driver's own hook still sees each statement, once.
    orm = script(tmp_path, SQLALCHEMY_APP)
    run([sys.executable, str(orm), str(tmp_path / "b.sqlite")],
        child_env(server, RYFT_INSTRUMENT="1", RYFT_INSTRUMENT_DISABLED="sqlalchemy"), tmp_path)
    assert_once_each(server, SQLALCHEMY_QUERIES)
    assert not any("sqlalchemy/" in r["context"].get("userAgent", "") for r in server.records)


def test_kill_switch_wins_over_explicit_calls(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, """
        import sqlite3
        import ryft_instrument
        from sqlalchemy import create_engine, text
        ryft_instrument.instrument()
        ryft_instrument.instrument_dbapi(sqlite3)
        with create_engine("sqlite://").connect() as conn:
            conn.execute(text("SELECT 1"))
        sqlite3.connect(":memory:").execute("SELECT 2")
    """)
    run([sys.executable, str(app)], child_env(server, RYFT_INSTRUMENT="1", RYFT_DISABLED="1"), tmp_path)
    assert server.records == []


@pytest.mark.parametrize(("variable", "value"), [("RYFT_SAMPLE_RATE", "2"), ("RYFT_INSTRUMENT", "maybe")])
def test_bad_value_is_one_line_and_the_app_runs(tmp_path: Path, server: IngestServer, variable: str,
                                                value: str) -> None:
    app = script(tmp_path, SQLITE_APP)
    env = child_env(server, RYFT_INSTRUMENT="1")
    env[variable] = value
    done = run([sys.executable, str(app), str(tmp_path / "db.sqlite")], env, tmp_path)
    assert done.stdout.strip() == "3"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert server.records == []


# -- the launcher -------------------------------------------------------------------------------------------------


def launcher(*args: str) -> list[str]:
    """The ``ryft-instrument`` command as installed (its CLI hands anything that is not a subcommand to us)."""
    return [str(Path(sys.executable).with_name("ryft-instrument")), *args]


def test_launcher_gives_the_same_with_tags_and_service(tmp_path: Path, server: IngestServer) -> None:
    app = script(tmp_path, SQLALCHEMY_APP)
    command = launcher("--tags", "team:data, nightly", "--service", "billing", sys.executable, str(app),
                       str(tmp_path / "db.sqlite"))
    run(command, child_env(server, RYFT_TAGS="env:test"), tmp_path)
    assert_once_each(server, SQLALCHEMY_QUERIES)
    for record in server.records:
        assert {"env:test", "team:data", "nightly", "service:billing"} <= set(record["tags"]), record


def test_launcher_runs_python_dash_m_and_keeps_the_exit_status(tmp_path: Path, server: IngestServer) -> None:
    script(tmp_path, SQLITE_APP + "\nraise SystemExit(7)\n", "zero_code_app.py")
    done = subprocess.run(launcher("--", sys.executable, "-m", "zero_code_app", str(tmp_path / "db.sqlite")),
                          env=child_env(server), cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 7, done.stderr
    assert sorted(server.queries()) == sorted(SQLITE_QUERIES)


def test_launcher_errors(tmp_path: Path) -> None:
    missing = subprocess.run(launcher("ryft-no-such-command"), capture_output=True, text=True, timeout=60)
    assert missing.returncode == 127 and "command not found: ryft-no-such-command" in missing.stderr
    nothing = subprocess.run(launcher("--tags", "x"), capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 2 and "COMMAND" in nothing.stderr


def test_sitecustomize_mode_where_pth_files_are_not_processed(tmp_path: Path, server: IngestServer) -> None:
    """The package and its dependencies on PYTHONPATH (as ``pip --target`` leaves them), run by the base
    interpreter: no site directory holds our .pth, so only ``--sitecustomize`` activates, and the application's
    own sitecustomize still runs."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs a venv: its base interpreter is one whose site directories do not hold our .pth")
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['APP_SITECUSTOMIZE'] = 'ran'\n")
    app = script(tmp_path, SQLITE_APP + "\nimport os\nprint(os.environ.get('APP_SITECUSTOMIZE'))\n")
    base = getattr(sys, "_base_executable", os.path.join(sys.base_prefix, "bin", "python3"))
    env = child_env(server, PYTHONPATH=os.pathsep.join([str(own), str(REPO), str(SITE_PACKAGES)]))

    plain = run(launcher(base, str(app), str(tmp_path / "a.sqlite")), env, tmp_path)
    assert plain.stdout.split() == ["3", "ran"]
    assert server.records == []

    chained = run(launcher("--sitecustomize", base, str(app), str(tmp_path / "b.sqlite")), env, tmp_path)
    assert chained.stdout.split() == ["3", "ran"]
    assert sorted(server.queries()) == sorted(SQLITE_QUERIES)

    # Without a sitecustomize of the application's own: nothing on stderr, statements recorded.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(SITE_PACKAGES)])
    alone = run(launcher("--sitecustomize", base, str(app), str(tmp_path / "c.sqlite")), env, tmp_path)
    assert alone.stdout.split() == ["3", "None"]
    assert "sitecustomize" not in alone.stderr, alone.stderr
    assert len(server.records) == 2 * len(SQLITE_QUERIES)


def test_launcher_environment() -> None:
    from ryft_instrument.launcher import SITECUSTOMIZE_DIR, environment

    changes: dict[str, Any] = environment({"RYFT_TAGS": "a", "PYTHONPATH": "/x"}, tags=["b", ""], service="s",
                                          sitecustomize=True)
    assert changes == {"RYFT_INSTRUMENT": "1", "RYFT_TAGS": "a,b", "RYFT_SERVICE": "s",
                       "PYTHONPATH": SITECUSTOMIZE_DIR + os.pathsep + "/x"}
    assert environment({}) == {"RYFT_INSTRUMENT": "1"}
