"""The benchmark harness in quick mode: it runs, writes its JSON and renders the README table. No timing is
checked here (numbers belong to ``python -m benchmarks``, never to a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The fast benchmarks; start-up and outage spawn interpreters or run for long, and have their own module tests.
QUICK = "sqlalchemy,otel_dbapi,dbapi,classify,export,postgres,pytest_plugin"


def test_quick_harness_writes_json_and_readme_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RYFT_") or k.startswith("RYFT_TEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", QUICK, "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["meta"]["quick"] is True
    assert {row["id"] for row in report["targets"]} >= {
        "sqlalchemy_added_us", "dbapi_added_us", "total_cpu_us_per_statement", "exporter_records_per_s",
        "classify_uncached_us", "classify_cached_us", "outage_memory_mb", "startup_added_ms",
    }
    results = report["results"]
    assert set(results) == set(QUICK.split(","))
    assert all(r["status"] in ("ok", "not available") for r in results.values()), results
    sqlalchemy = results["sqlalchemy"]
    assert {"plain", "control", "ryft"} <= set(sqlalchemy) and sqlalchemy["ryft_delivered"] is True
    assert isinstance(sqlalchemy["ryft"]["added_us"], float)
    export = results["export"]
    assert export["validated"]["ok"] is True, export["validated"]
    assert export["throughput"]["plain"]["delivered"] and export["throughput"]["gzip"]["delivered"]
    measured = {row["id"]: row["measured"] for row in report["targets"]}
    assert measured["sqlalchemy_added_us"] is not None and measured["exporter_records_per_s"] > 0

    table = subprocess.run([sys.executable, "-m", "benchmarks.readme_table", str(out)], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert table.startswith("| what | target | measured |")
    assert "added time per statement, SQLAlchemy" in table and "≤ 1.5 µs" in table
    cpu = report["meta"]["cpu"]
    assert isinstance(cpu, str) and cpu and "(%s, " % cpu in table.splitlines()[-1]


def test_record_lines_are_the_json_of_the_record() -> None:
    """``RecordBuilder.line`` and ``lines`` (the exporter's fast paths, found by profiling) give the record
    ``build`` gives, as JSON (``duration_ms`` with its three decimals written out)."""
    from ryft_instrument.failure import describe_failure
    from ryft_instrument.record import RecordBuilder
    from ryft_instrument.schema import validate_record

    context = {"catalog": "main", "userAgent": "ryft-instrument/0 python/3"}
    failure = describe_failure(ValueError("bad \"value\" \u00e9"))
    events = [
        (context, "SELECT 1", 10.0, 0.000123456, None, None, None, ()),
        (context, b"INSERT INTO t VALUES ('\xc3\xa9')", 10.5, 0.0, None, None, 7, ("job:x",)),
        (context, "SELECT 'caf\u00e9 \u2603 \"q\" \\ \n\t'", 11.0, 1.5, failure, "20260310_000000_00001_abcde",
         None, ()),
        ({}, "   ", 12.0, -1.0, None, None, None, ("a", "b")),
        (context, "UPDATE t SET x = 42 WHERE name = 'secret'", 13.999, 2e-7, None, None, None, ()),
        (context, "SELECT 'caf\u00e9'", 14.25, 0.0123456789, None, None, None, ()),
        (context, "SELECT 1", 15.0, 15.000042),  # the short form of the SQLAlchemy hook's hot path
        (context, b"SELECT 2", 15.5, 15.4),
    ]
    failures: list[int] = []
    for tags in ((), ("service:demo",)):
        for redact in (False, True):
            built, fast, batch = (RecordBuilder(tags, redact) for _ in range(3))
            for other in (fast, batch):
                other.ids.prefix, other.timestamps.offset = built.ids.prefix, built.timestamps.offset
            lines = batch.lines(events * 2, lambda: failures.append(1))
            assert failures == [] and len(lines) == len(events) * 2
            for event, from_batch in zip(events * 2, lines):
                line = fast.line(event)
                assert line == from_batch
                assert json.loads(line) == built.build(event)
                assert validate_record(json.loads(line)) == []


def test_a_repeated_benchmark_reports_the_median_of_its_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import __main__ as harness

    runs = iter([{"status": "ok", "seconds": 1.0, "targets": {"a": a, "b": b}, "run": i}
                 for i, (a, b) in enumerate([(3.0, 1.0), (1.0, 5.0), (2.0, 3.0)])])
    monkeypatch.setattr(harness, "run_one", lambda name, quick, timeout: next(runs))
    monkeypatch.setitem(harness.REPEATS, "fake", 3)
    merged = harness.run_repeated("fake", False, 1.0)
    assert merged["targets"] == {"a": 2.0, "b": 3.0}
    assert merged["run"] == 2  # the details are those of the run whose first target is the median
    assert [run["a"] for run in merged["repeats"]] == [3.0, 1.0, 2.0] and merged["seconds"] == 3.0
