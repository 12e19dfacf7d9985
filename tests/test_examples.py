"""Every example in examples/ runs, as a user would run it, and its records are checked: none can rot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Optional

import pytest
from conftest import with_driver

from ryft_instrument.schema import validate_record
from ryft_instrument.testing import IngestServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=dict(os.environ, **env),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def read_records(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert records, "no records in %s" % path
    for rec in records:
        assert validate_record(rec) == [], rec
    return records


def by_type(records: list[dict[str, Any]]) -> set[Optional[str]]:
    return {r["context"].get("queryType") for r in records}


def test_sqlalchemy_quickstart_delivers_to_the_ingest_api() -> None:
    with IngestServer() as server:
        result = run_example("sqlalchemy_quickstart.py",
                             env={"RYFT_INGEST_TOKEN": server.token, "RYFT_INGEST_URL": server.url})
        records = list(server.records)
    assert "delivered: True" in result.stdout
    assert {"DATA_DEFINITION", "INSERT", "SELECT", "UPDATE"} <= by_type(records)
    assert all("service:sqlalchemy_quickstart" in r["tags"] for r in records)
    tagged = [r for r in records if "report:authors" in r["tags"]]
    assert len(tagged) == 1 and "GROUP BY" in tagged[0]["query"]
    failed = [r for r in records if r["queryState"] == "FAILED"]
    assert [r["query"] for r in failed] == ["SELECT no_such_column FROM ryft_quickstart_note"]
    # Parameter values never leave the process: the texts carry placeholders only.
    assert not any("grace" in json.dumps(r) for r in records)


def test_sqlalchemy_quickstart_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    run_example("sqlalchemy_quickstart.py", postgres_url, env={"RYFT_OUTPUT": str(out)})
    records = read_records(out)
    assert {"DATA_DEFINITION", "INSERT", "SELECT", "UPDATE"} <= by_type(records)
    assert all(r["context"].get("catalog") == "test" for r in records)
    failed = [r for r in records if r["queryState"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["failureInfo"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_async_app(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if database == "sqlite":
        url = "sqlite+aiosqlite:///:memory:"
    else:
        url = with_driver(request.getfixturevalue("postgres_url"), "asyncpg")
    out = tmp_path / "q.jsonl"
    result = run_example("async_app.py", url, env={"RYFT_OUTPUT": str(out)})
    assert "delivered: True" in result.stdout
    records = read_records(out)
    for customer in range(1, 6):
        mine = [r for r in records if "customer:%d" % customer in r["tags"]]
        assert sorted(by_type(mine)) == ["INSERT", "SELECT"], mine
        assert not any("customer:" in t for r in mine for t in r["tags"] if t != "customer:%d" % customer)


def test_psycopg_script(postgres_dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    result = run_example("psycopg_script.py", postgres_dsn, env={"RYFT_OUTPUT": str(out)})
    assert "big cities: ['Lisbon', 'Porto']" in result.stdout
    records = read_records(out)
    assert [r["context"].get("queryType") for r in records] == ["DATA_DEFINITION", "INSERT", "SELECT", "INSERT",
                                                                 "SELECT"]
    assert all(r["context"]["user"] == "postgres" and "psycopg/" in r["context"]["userAgent"] for r in records)
    assert records[-1]["queryState"] == "FAILED"
    assert records[-1]["failureInfo"]["errorCode"]["name"] == "DIVISION_BY_ZERO"
    assert not any("Lisbon" in r["query"] for r in records)


def test_web_app_under_ryft_instrument(tmp_path: Path) -> None:
    out = tmp_path / "q.jsonl"
    env = dict(os.environ, RYFT_INSTRUMENT="1", RYFT_OUTPUT=str(out), RYFT_SERVICE="bookshop")
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "web_app.py"), "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving on http://127.0.0.1:"), line
        base = line.split()[-1]
        answers = [json.load(urllib.request.urlopen(base + path, timeout=10)) for path in
                   ("/books", "/books/2", "/books/2", "/stats")]
        assert answers[-1] == {"views": 2}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    records = read_records(out)
    assert all("service:bookshop" in r["tags"] for r in records)
    queries = [r["query"] for r in records]
    assert sum(q.startswith("UPDATE book SET views") for q in queries) == 2
    assert sum(q.startswith("SELECT sum(book.views)") for q in queries) == 1
    assert {"DATA_DEFINITION", "INSERT", "SELECT", "UPDATE"} <= by_type(records)


def test_trino_example(tmp_path: Path) -> None:
    pytest.importorskip("trino.sqlalchemy")
    from trino_server import Answer, TrinoServer, user_error

    out = tmp_path / "q.jsonl"
    with TrinoServer(version="476") as server:
        server.answers["SELECT name"] = Answer(columns=[("name", "varchar")], rows=[["ada"], ["grace"]])
        server.answers["SELECT * FROM missing_table"] = Answer(
            error=user_error("TABLE_NOT_FOUND", 46, "line 1:15: Table 'hive.web.missing_table' does not exist"))
        result = run_example("trino_example.py", "127.0.0.1", str(server.port), env={"RYFT_OUTPUT": str(out)})
    assert "customers: ['ada', 'grace']" in result.stdout and "TABLE_NOT_FOUND" in result.stdout
    records = {r["query"]: r for r in read_records(out)}
    ok, failed = records["SELECT name FROM customers ORDER BY name"], records["SELECT * FROM missing_table"]
    via_sqlalchemy = records["SELECT count(*) FROM orders"]
    for record in (ok, failed, via_sqlalchemy):
        assert record["queryId"].startswith("20260310_120000_"), record
        context = record["context"]
        assert (context["catalog"], context["schema"], context["user"], context["serverVersion"]) == (
            "hive", "web", "analyst", "476")
    assert "sqlalchemy/" in via_sqlalchemy["context"]["userAgent"]
    assert failed["queryState"] == "FAILED"
    info = failed["failureInfo"][0] if isinstance(failed["failureInfo"], list) else failed["failureInfo"]
    assert info["errorCode"] == {"type": "USER_ERROR", "code": 46, "name": "TABLE_NOT_FOUND"}
