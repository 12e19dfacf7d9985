"""The benchmark harness in quick mode: it runs, writes its JSON and renders the README table. No timing is
checked here (numbers belong to ``python -m benchmarks``, never to a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
