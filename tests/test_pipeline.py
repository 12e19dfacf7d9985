"""From a statement to what leaves the process: volume and privacy controls, local sinks, odd input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import ryft_instrument
from ryft_instrument import recorder
from ryft_instrument.schema import validate_record
from ryft_instrument.testing import IngestServer

CONTEXT = {"userAgent": "ryft-instrument/test"}


def _engine() -> Any:
    return ryft_instrument.instrument(sa.create_engine("sqlite://"))


def _run(engine: Any, *statements: str) -> None:
    with engine.connect() as conn:
        for sql in statements:
            try:
                conn.exec_driver_sql(sql)
            except sa.exc.DBAPIError:
                pass


# Statements run more than once below: the SQLAlchemy hook remembers a statement it has recorded and appends it
# straight to the queue the next time, which must not skip sampling, minimum duration or truncation.


def test_sample_rate_keeps_failures(ingest: IngestServer) -> None:
    ryft_instrument.configure(sample_rate=0.0)
    _run(_engine(), "SELECT 1", "SELECT 2", "SELECT 1", "SELECT nope FROM nowhere")
    ryft_instrument.flush(5)
    assert [r["queryState"] for r in ingest.wait_for(1)] == ["FAILED"]
    assert ryft_instrument.stats()["dropped_sampled"] == 3


def test_min_duration_keeps_failures(ingest: IngestServer) -> None:
    ryft_instrument.configure(min_duration_ms=10_000)
    _run(_engine(), "SELECT 1", "SELECT 1", "SELECT nope FROM nowhere")
    ryft_instrument.flush(5)
    assert [r["queryState"] for r in ingest.wait_for(1)] == ["FAILED"]
    assert ryft_instrument.stats()["dropped_min_duration"] == 2


def test_long_statements_are_cut_with_a_marker(ingest: IngestServer) -> None:
    ryft_instrument.configure(max_query_length=200)
    long_sql = "SELECT " + ", ".join("%d AS c%d" % (i, i) for i in range(200))
    short_sql = "SELECT " + ", ".join("%d AS c%d" % (i, i) for i in range(10))
    _run(_engine(), long_sql, long_sql, short_sql, short_sql)
    ryft_instrument.flush(5)
    records = ingest.wait_for(4)
    assert [record["query"] for record in records[2:]] == [short_sql, short_sql]
    for record in records[:2]:
        assert len(record["query"]) <= 200
        assert record["query"].startswith("SELECT 0 AS c0")
        assert "truncated" in record["query"] and str(len(long_sql)) in record["query"]
        assert record["context"]["queryType"] == "SELECT"


def test_statements_longer_than_the_hot_path_takes_arrive_whole(ingest: IngestServer) -> None:
    long_sql = "SELECT " + ", ".join("%d AS c%d" % (i, i) for i in range(300))
    assert len(long_sql) > recorder.SHORT
    _run(_engine(), long_sql, long_sql, long_sql)
    ryft_instrument.flush(5)
    assert [record["query"] for record in ingest.wait_for(3)] == [long_sql] * 3


def test_full_batches_go_at_once_and_the_rest_after_the_interval(ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=50, flush_interval=2.0)
    _run(_engine(), *["SELECT %d" % (i % 7) for i in range(120)])
    ended = time.monotonic()
    assert len(ingest.wait_for(120, timeout=10)) == 120  # no flush(): the tail goes at the interval
    delivered = [request for request in ingest.requests if request.status == 200]
    assert [request.records for request in delivered] == [50, 50, 20]
    assert delivered[1].at - ended < 1.0 <= delivered[2].at - ended


def test_redacted_literals_never_leave_the_process(ingest: IngestServer) -> None:
    ryft_instrument.configure(redact_literals=True)
    _run(_engine(), "SELECT 'alice@example.com' AS email, 4111111111111111 AS card")
    ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert "alice" not in record["query"] and "4111" not in record["query"]
    assert record["query"].startswith("SELECT ")


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql", "mariadb"])
def test_redacted_literals_leave_no_value_in_failure_messages(ingest: IngestServer, database: str,
                                                              request: pytest.FixtureRequest) -> None:
    """Drivers quote refused values in their messages (a duplicate key, a failing row); with RYFT_REDACT_LITERALS
    they are masked there too, and the failure keeps its type and code."""
    url = {"sqlite": "sqlite://", "duckdb": "duckdb:///:memory:"}.get(database)
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
    elif database == "mariadb":
        kwargs = request.getfixturevalue("mariadb_kwargs")
        url = "mysql+pymysql://%s@%s:%s/%s" % (kwargs["user"], kwargs["host"], kwargs.get("port", 3306),
                                                 kwargs["database"])
    ryft_instrument.configure(redact_literals=True)
    engine = ryft_instrument.instrument(sa.create_engine(url))
    seen = []
    with engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("CREATE %s TABLE ryft_redact (id INT PRIMARY KEY, email VARCHAR(50) UNIQUE, n INT "
                                 "CHECK (n > 0))" % ("TEMPORARY" if database == "mariadb" else "TEMP"))
            conn.exec_driver_sql("INSERT INTO ryft_redact VALUES (1, 'alice@example.com', 1)")
        for sql in ("INSERT INTO ryft_redact VALUES (2, 'alice@example.com', 1)",
                    "INSERT INTO ryft_redact VALUES (3, 'bob@example.com', -4242)"):
            with pytest.raises(sa.exc.DBAPIError) as info, conn.begin():
                conn.exec_driver_sql(sql)
            seen.append(str(info.value.orig))
    engine.dispose()
    if database != "sqlite":  # SQLite names the column, not the value
        assert "alice@example.com" in seen[0]
    assert ryft_instrument.flush(5)
    records = [r for r in ingest.wait_for(4) if "ryft_redact" in r["query"]]
    failed = [r for r in records if r["queryState"] == "FAILED"]
    assert len(failed) == 2, records
    text = json.dumps(records)
    assert "alice" not in text and "bob" not in text and "4242" not in text, text
    for record in failed:
        failure = record["failureInfo"]
        first = failure[0] if isinstance(failure, list) else failure
        assert first["failureMessage"] and first["failureType"]
        assert first["errorCode"]["type"] == "USER_ERROR"


def test_before_send_edits_drops_and_survives_errors(ingest: IngestServer) -> None:
    def hook(record: dict[str, Any]) -> Any:
        if "drop me" in record["query"]:
            return None
        if "explode" in record["query"]:
            raise RuntimeError("bug in the user's hook")
        if "break schema" in record["query"]:
            record["extra"] = 1
            return record
        record["tags"] = [*record.get("tags", []), "edited"]
        return record

    ryft_instrument.configure(before_send=hook)
    _run(_engine(), "SELECT 'keep'", "SELECT 'drop me'", "SELECT 'explode'", "SELECT 'break schema'")
    ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert record["query"] == "SELECT 'keep'" and "edited" in record["tags"]
    stats = ryft_instrument.stats()
    assert (stats["dropped_before_send"], stats["before_send_errors"], stats["dropped_invalid"]) == (2, 1, 1)


@pytest.mark.parametrize(
    ("query", "expected_text", "expected_type"),
    [
        (b"SELECT 1", "SELECT 1", "SELECT"),
        (b"UPDATE t SET a = '\xff\xfe'", "UPDATE t SET a = '\ufffd\ufffd'", "UPDATE"),
        ("", "", None),
        ("  -- only a comment\n", "  -- only a comment\n", None),
        ("SELECT '/data/caf\udce9.db'", "SELECT '/data/caf\ufffd.db'", "SELECT"),  # os.fsdecode of a Latin-1 name
    ],
)
def test_odd_statement_text_still_gives_a_valid_record(
    ingest: IngestServer, query: Any, expected_text: str, expected_type: Any
) -> None:
    ryft_instrument.configure()
    recorder.record(CONTEXT, query, time.perf_counter(), 0.001)
    ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert record["query"] == expected_text
    assert record["context"].get("queryType") == expected_type


def test_an_exception_whose_str_raises_is_still_described(ingest: IngestServer) -> None:
    class HostileError(Exception):
        def __str__(self) -> str:
            raise ValueError("no")

    recorder.record(CONTEXT, "SELECT 1", time.perf_counter(), 0.001, HostileError())
    ryft_instrument.flush(5)
    (record,) = ingest.wait_for(1)
    assert record["queryState"] == "FAILED" and validate_record(record) == []


def test_output_file_gets_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    ryft_instrument.configure(output=str(out), flush_interval=0.05)
    _run(_engine(), "SELECT 1", "SELECT 2")
    assert ryft_instrument.flush(5)
    lines = out.read_text().splitlines()
    assert [json.loads(line)["query"] for line in lines] == ["SELECT 1", "SELECT 2"]
    assert all(validate_record(json.loads(line)) == [] for line in lines)
    assert (out.stat().st_mode & 0o777) == 0o600


def test_output_file_is_valid_utf8_whatever_the_statement_holds(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    ryft_instrument.configure(output=str(out), flush_interval=0.05)
    for _ in range(2):  # the second time from the exporter's cache of statement heads
        recorder.record(CONTEXT, "SELECT 'caf\udce9'", time.perf_counter(), 0.001)
    recorder.record(CONTEXT, "SELECT 'caf\udce9' /* failed */", time.perf_counter(), 0.001, ValueError("x"))
    assert ryft_instrument.flush(5)
    records = [json.loads(line) for line in out.read_bytes().decode("utf-8").splitlines()]  # strict UTF-8
    assert [r["query"] for r in records] == ["SELECT 'caf\ufffd'"] * 2 + ["SELECT 'caf\ufffd' /* failed */"]


def test_output_that_cannot_be_written_is_counted_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A path checked at configuration time can still fail later (its directory removed): the records are counted
    as dropped, ``flush`` says they were not delivered, and the warning names the variable."""
    folder = tmp_path / "gone"
    folder.mkdir()
    ryft_instrument.configure(output=str(folder / "records.jsonl"), flush_interval=0.05)
    folder.rmdir()
    _run(_engine(), "SELECT 1", "SELECT 2")
    assert not ryft_instrument.flush(5)
    stats = ryft_instrument.stats()
    assert stats["dropped_output_failed"] == 2 and stats["sent"] == 0
    assert "cannot write %s (RYFT_OUTPUT)" % (folder / "records.jsonl") in caplog.text


def test_output_dash_goes_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    ryft_instrument.configure(output="-", flush_interval=0.05)
    _run(_engine(), "SELECT 42")
    assert ryft_instrument.flush(5)
    (line,) = capfd.readouterr().err.strip().splitlines()
    assert json.loads(line)["query"] == "SELECT 42"


def test_no_destination_warns_once_and_counts(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "_warned", False)
    engine = _engine()
    _run(engine, "SELECT 1", "SELECT 2", "SELECT 3")
    warnings = [r.getMessage() for r in caplog.records if "RYFT_INGEST_TOKEN" in r.getMessage()]
    assert len(warnings) == 1 and "RYFT_OUTPUT" in warnings[0]
    assert ryft_instrument.stats()["dropped_no_destination"] == 3


def test_no_destination_warning_reaches_stderr_without_logging_setup() -> None:
    code = (
        "import sqlalchemy as sa, ryft_instrument\n"
        "e = ryft_instrument.instrument(sa.create_engine('sqlite://'))\n"
        "with e.connect() as c:\n"
        "    c.exec_driver_sql('SELECT 1'); c.exec_driver_sql('SELECT 2')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ.get("PATH", "")})
    assert result.returncode == 0
    (line,) = result.stderr.strip().splitlines()
    assert "set RYFT_INGEST_TOKEN" in line and "RYFT_OUTPUT" in line
