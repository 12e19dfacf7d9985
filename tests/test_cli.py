"""The ``ryft-instrument`` command end to end, each run in a subprocess as a user would run it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Optional

import pytest

from ryft_instrument.schema import validate_record
from ryft_instrument.testing import IngestServer, Reply

TOKEN = "cli-test-token-0123456789"


def run(*args: str, env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None,
        stdin: Optional[str] = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``ryft-instrument ARGS`` in a fresh interpreter; RYFT_* comes only from ``env`` (conftest clears the rest)."""
    environ = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "ryft_instrument.cli", *args], env=environ, cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


def record(n: int, *, query: str = "SELECT * FROM t WHERE id = ?", query_type: Optional[str] = "SELECT",
           duration: float = 1.0, failed: bool = False) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "context": {"queryType": query_type} if query_type else {},
        "query": query,
        "queryId": "cli-test-%d" % n,
        "queryState": "FAILED" if failed else "FINISHED",
        "timestamp": "2026-03-10T12:00:%02d.%03dZ" % (n // 1000 % 60, n % 1000),
        "duration_ms": duration,
        "tags": ["service:cli-test"],
    }
    if failed:
        rec["failureInfo"] = {"errorCode": {"type": "USER_ERROR", "code": 47, "name": "COLUMN_NOT_FOUND"},
                              "failureMessage": "no such column: isbn", "failureType": "sqlite3.OperationalError"}
    assert validate_record(rec) == []
    return rec


def write_jsonl(path: Path, records: list[Any], extra_lines: Optional[dict[int, str]] = None) -> Path:
    """Records one a line; ``extra_lines`` puts raw text at given (1-based) line numbers."""
    lines = [json.dumps(r) for r in records]
    for number, text in sorted((extra_lines or {}).items()):
        lines.insert(number - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def workload() -> list[dict[str, Any]]:
    """A small program's worth: an N+1, a slow report query, writes, DDL and failures."""
    records = [record(i, query="SELECT * FROM book WHERE author_id = ?", duration=0.2) for i in range(40)]
    records += [record(100 + i, query="SELECT a.name, count(*) FROM author a JOIN book b ON b.author_id = a.id "
                       "GROUP BY a.name", duration=250.0 + i) for i in range(3)]
    records += [record(200 + i, query="INSERT INTO book (title) VALUES (?)", query_type="INSERT", duration=0.5)
                for i in range(10)]
    records.append(record(300, query="CREATE TABLE book (id INTEGER)", query_type="DATA_DEFINITION", duration=2.0))
    records += [record(400 + i, query="SELECT isbn FROM book", failed=True, duration=0.1) for i in range(2)]
    return records


# -- the command itself ----------------------------------------------------------------------------------------


def test_version() -> None:
    from ryft_instrument import __version__

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "ryft-instrument %s" % __version__


@pytest.mark.parametrize("command", [[], ["demo"], ["send"], ["report"], ["check"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: ryft-instrument")
    assert result.stderr == ""


def test_main_help_names_the_subcommands_and_the_launcher() -> None:
    text = run("--help").stdout
    for word in ("demo", "send", "report", "check", "--tags", "--service", "RYFT_INGEST_TOKEN"):
        assert word in text


def test_no_arguments_prints_usage_and_fails() -> None:
    result = run()
    assert result.returncode == 2
    assert "usage: ryft-instrument" in result.stderr


def test_usage_errors_are_one_line() -> None:
    assert_one_line_error(run("report"), "FILE.jsonl", "--help")
    assert_one_line_error(run("send", "a.jsonl", "--bogus"), "--bogus")
    assert_one_line_error(run("check", "--timeout", "soon"), "--timeout")


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "nothing.jsonl")
    assert_one_line_error(run("report", missing), "nothing.jsonl", "No such file")
    assert_one_line_error(run("send", "--dry-run", missing), "nothing.jsonl", "No such file")


def test_bad_configuration_value_is_one_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [record(1)])
    result = run("send", str(path), env={"RYFT_INGEST_TOKEN": TOKEN, "RYFT_BATCH_SIZE": "lots"})
    assert_one_line_error(result, "RYFT_BATCH_SIZE", "lots")


def test_anything_else_runs_the_launcher() -> None:
    code = "import os; print(os.environ['RYFT_INSTRUMENT'], os.environ['RYFT_SERVICE'], os.environ['RYFT_TAGS'])"
    result = run("--service", "billing", "--tags", "job:nightly", sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "billing", "job:nightly"]


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("ryft-instrument")
    if not script.exists():
        pytest.skip("ryft-instrument is not installed next to %s" % sys.executable)
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout.startswith("ryft-instrument ")


# -- demo --------------------------------------------------------------------------------------------------------


def test_demo_from_a_fresh_directory(tmp_path: Path) -> None:
    result = run("demo", "--html", "demo.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "ryft-demo.jsonl").read_text().splitlines()]
    assert all(validate_record(r) == [] for r in records)
    types = {r["context"].get("queryType") for r in records}
    assert {"SELECT", "INSERT", "UPDATE", "DELETE", "DATA_DEFINITION", "EXPLAIN", "DESCRIBE"} <= types
    queries = [r["query"] for r in records]
    assert any("ON CONFLICT" in q for q in queries)
    assert any(q.startswith("EXPLAIN") for q in queries)
    # The N+1: the same lazy load, once per author.
    lazy = [q for q in queries if q.startswith("SELECT book.") and "WHERE ? = book.author_id" in q]
    assert len(lazy) >= 8
    failed = [r for r in records if r["queryState"] == "FAILED"]
    assert {f["query"] for f in failed} >= {"SELECT isbn FROM book", "INSERT INTO author (name) VALUES ('Ted Chiang')"}
    assert all("service:ryft-demo" in r["tags"] for r in records)
    for section in ("By queryType and state", "Statement groups by total time", "Slowest statements",
                    "Failures by error", "Next steps"):
        assert section in result.stdout
    assert "%d records" % len(records) in result.stdout
    assert (tmp_path / "demo.html").read_text().startswith("<!DOCTYPE html>")


def test_demo_sends_to_ryft_when_a_token_is_set(tmp_path: Path) -> None:
    with IngestServer(TOKEN) as server:
        result = run("demo", "--output", "out.jsonl", cwd=tmp_path, env=sending(server))
        assert result.returncode == 0, result.stderr
        lines = (tmp_path / "out.jsonl").read_text().splitlines()
        assert len(server.records) == len(lines) > 0
        assert {r["queryId"] for r in server.records} == {json.loads(line)["queryId"] for line in lines}
        assert "records sent to %s" % server.url in result.stdout


# -- send --------------------------------------------------------------------------------------------------------


def sending(server: IngestServer, **extra: str) -> dict[str, str]:
    return dict({"RYFT_INGEST_TOKEN": server.token, "RYFT_INGEST_URL": server.url}, **extra)


def test_send_delivers_every_record_in_batches(tmp_path: Path) -> None:
    records = [record(i) for i in range(1200)]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    with IngestServer(TOKEN) as server:
        result = run("send", str(path), env=sending(server))
    assert result.returncode == 0, result.stderr
    assert sorted(r["queryId"] for r in server.records) == sorted(r["queryId"] for r in records)
    assert len(server.requests) == 3  # RYFT_BATCH_SIZE 500
    assert "delivered 1,200 records" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_send_reports_bad_lines_and_never_sends_them(tmp_path: Path) -> None:
    good = [record(i) for i in range(20)]
    missing_state = {k: v for k, v in record(900).items() if k != "queryState"}
    extra = {
        3: "this is not json",
        7: json.dumps(missing_state),
        9: json.dumps(dict(record(901), password="hunter2")),
        12: '{"context": {}, "query": "x", "queryId": "n", "queryState": "FINISHED", '
            '"timestamp": "2026-03-10T12:00:00.000Z", "duration_ms": NaN}',
        15: "",
    }
    path = write_jsonl(tmp_path / "r.jsonl", good, extra)
    with IngestServer(TOKEN) as server:
        result = run("send", str(path), env=sending(server))
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith("%s:3: not JSON" % path)
    assert errors[1] == "%s:7: queryState: required" % path
    assert errors[2] == "%s:9: password: unknown field" % path
    assert errors[3] == "%s:12: not JSON: NaN is not JSON" % path
    assert len(errors) == 4
    assert sorted(r["queryId"] for r in server.records) == sorted(r["queryId"] for r in good)
    assert "24 records read: 20 valid, 4 invalid" in result.stdout


def test_send_retries_failed_batches(tmp_path: Path) -> None:
    records = [record(i) for i in range(700)]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    with IngestServer(TOKEN) as server:
        server.fail_next(Reply(503), Reply(503, headers={"Retry-After": "0"}))
        result = run("send", str(path), env=sending(server))
    assert result.returncode == 0, result.stderr
    assert sorted(r["queryId"] for r in server.records) == sorted(r["queryId"] for r in records)
    assert [r.status for r in server.requests] == [503, 503, 200, 200]
    assert list(tmp_path.glob("*.unsent-*")) == []
    assert "retried" in result.stdout


def test_send_isolates_records_the_api_refuses(tmp_path: Path) -> None:
    records = [record(i) for i in range(30)]
    records[11]["query"] = records[23]["query"] = "SELECT 'POISON'"
    path = write_jsonl(tmp_path / "r.jsonl", records)
    with IngestServer(TOKEN, poison="POISON") as server:
        result = run("send", str(path), env=sending(server))
    assert result.returncode == 1
    assert len(server.records) == 28
    assert "NOT delivered: 2 valid records (2 rejected by the API)" in result.stdout
    assert list(tmp_path.glob("*.unsent-*")) == []  # refused for what they are: sending them again is no help


def test_send_with_a_refused_token_stops_with_one_clear_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [record(i) for i in range(1500)])
    with IngestServer(TOKEN) as server:
        result = run("send", str(path), env=sending(server, RYFT_INGEST_TOKEN="wrong-token-0123456789"))
    assert result.returncode == 1
    assert len(server.requests) == 1
    assert "RYFT_INGEST_TOKEN" in result.stderr
    assert "wrong-token-0123456789" not in result.stdout + result.stderr
    assert "delivered 0 records" in result.stdout


def test_send_keeps_what_it_could_not_send_for_a_second_run(tmp_path: Path) -> None:
    records = [record(i) for i in range(1500)]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    with IngestServer(TOKEN) as server:
        server.fail_next(Reply(200), Reply(401))  # the token is revoked after the first batch
        first = run("send", str(path), env=sending(server))
        assert first.returncode == 1
        assert len(server.records) == 500
        (kept,) = tmp_path.glob("r.unsent-*.jsonl")
        assert oct(kept.stat().st_mode & 0o777) == "0o600"
        assert len(kept.read_text().splitlines()) == 1000
        assert "in %s: `ryft-instrument send %s` sends them, and only them" % (kept, kept) in first.stdout
        second = run("send", str(kept), env=sending(server))
        assert second.returncode == 0, second.stdout + second.stderr
    ids = [r["queryId"] for r in server.records]
    assert len(ids) == len(set(ids)) == 1500  # every record once: none lost, none twice
    assert set(ids) == {r["queryId"] for r in records}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["r.jsonl", kept.name])


@pytest.mark.parametrize("outage", ["503", "hang"])
def test_send_stops_at_once_on_ctrl_c_and_keeps_the_rest(tmp_path: Path, outage: str) -> None:
    """Ctrl-C while the endpoint fails (503 after 503, or a request that never ends): the command ends within
    seconds, not after its retries, and what was not delivered is kept for a second run."""
    records = [record(i) for i in range(3000)]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    with IngestServer(TOKEN) as server:
        server.fail_next(Reply(200))
        server.outage(Reply(503) if outage == "503" else Reply(hang=60))
        proc = subprocess.Popen([sys.executable, "-m", "ryft_instrument.cli", "send", str(path)],
                                env=dict(os.environ, **sending(server)), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        while not server.requests:  # the first batch is in; the next request meets the outage
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        time.sleep(1.0)
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - interrupted
        assert proc.returncode == 1, out + err
        assert took < 3.0, "send went on for %.1f s after Ctrl-C" % took
        assert "Traceback" not in err and "interrupted" in err
        (kept,) = tmp_path.glob("r.unsent-*.jsonl")
        assert len(server.records) + len(kept.read_text().splitlines()) == 3000
        if outage == "hang":
            assert "if it was accepted, they arrive twice" in out
        server.recover()
        again = run("send", str(kept), env=sending(server))
        assert again.returncode == 0, again.stdout + again.stderr
    assert {r["queryId"] for r in server.records} == {r["queryId"] for r in records}


def test_send_needs_a_token_unless_dry_run(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [record(i) for i in range(5)])
    assert_one_line_error(run("send", str(path)), "RYFT_INGEST_TOKEN", "--dry-run")
    result = run("send", "--dry-run", str(path))
    assert result.returncode == 0
    assert "5 records read: 5 valid, 0 invalid" in result.stdout
    assert "dry run: nothing was sent" in result.stdout


def test_send_reads_stdin_and_shows_progress(tmp_path: Path) -> None:
    text = "".join(json.dumps(record(i)) + "\n" for i in range(50))
    with IngestServer(TOKEN) as server:
        result = run("send", "-", "--progress", "always", env=sending(server), stdin=text)
    assert result.returncode == 0, result.stderr
    assert len(server.records) == 50
    assert "records/s" in result.stderr
    assert "<stdin>: 50 records read" in result.stdout


# -- report ------------------------------------------------------------------------------------------------------


def test_report_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", workload(), {5: "garbage"})
    result = run("report", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("%s: 56 records, 2 failed" % path)
    assert "1 lines skipped" in out and "line 5" in out
    by_count = out.split("Statement groups by count")[1].splitlines()[2]
    assert by_count.split()[0] == "40" and "SELECT * FROM book WHERE author_id = ?" in by_count
    by_time = out.split("Statement groups by total time")[1].splitlines()[2]
    assert by_time.split()[:2] == ["3", "753.000"]
    slowest = out.split("Slowest statements")[1].splitlines()[2]
    assert slowest.split()[0] == "252.000"
    failures = out.split("Failures by error")[1].splitlines()[2]
    assert failures.split()[:3] == ["2", "USER_ERROR", "COLUMN_NOT_FOUND"]


class Tables(HTMLParser):
    """Every table of a page: id → rows of cell texts (the header row first); and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[tuple[str, dict[str, Optional[str]]]] = []
        self._table: Optional[str] = None
        self._cell: Optional[list[str]] = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._table = dict(attrs)["id"] or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_report_html_is_self_contained_with_tables_and_charts(tmp_path: Path) -> None:
    records = workload()
    records[53]["query"] = 'CREATE TABLE "<script>alert(1)</script>" (id INTEGER)'
    path = write_jsonl(tmp_path / "r.jsonl", records)
    page = tmp_path / "report.html"
    result = run("report", str(path), "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert str(page) in result.stdout
    parser = Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    tables = parser.tables
    assert set(tables) == {"by-type", "groups-by-time", "groups-by-count", "slowest", "failures"}
    by_type = {(row[0], row[1]): int(row[2]) for row in tables["by-type"][1:]}
    assert by_type == {("SELECT", "FINISHED"): 43, ("INSERT", "FINISHED"): 10, ("DATA_DEFINITION", "FINISHED"): 1,
                       ("SELECT", "FAILED"): 2}
    assert tables["groups-by-count"][1][0] == "40"
    assert tables["groups-by-time"][1][1] == "753.000"
    assert [row[0] for row in tables["slowest"][1:4]] == ["252.000", "251.000", "250.000"]
    assert tables["failures"][1][:3] == ["2", "USER_ERROR", "COLUMN_NOT_FOUND"]
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("svg") == 2
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert not [attrs for _, attrs in parser.tags if any(k in ("src", "href") for k in attrs)]
    assert "http://" not in page.read_text() and "https://" not in page.read_text()


def test_report_reads_stdin() -> None:
    text = "".join(json.dumps(r) + "\n" for r in workload())
    result = run("report", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<stdin>: 56 records, 2 failed")


# -- check -------------------------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_check_shows_the_configuration_with_the_token_masked(tmp_path: Path) -> None:
    with IngestServer(TOKEN) as server:
        result = run("check", env=sending(server, RYFT_TAGS="team:data", RYFT_OUTPUT=str(tmp_path / "o.jsonl")))
    assert result.returncode == 0, result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert "****" + TOKEN[-4:] in result.stdout
    assert "RYFT_TAGS" in result.stdout and "team:data" in result.stdout
    assert "ok    TCP: connected to 127.0.0.1" in result.stdout
    assert "TLS: not used" in result.stdout
    assert "all checks passed" in result.stdout
    assert server.requests == []


def test_check_sends_a_test_record_only_when_asked() -> None:
    with IngestServer(TOKEN) as server:
        result = run("check", "--send-test-record", env=sending(server))
        assert result.returncode == 0, result.stdout
        assert len(server.records) == 1
        assert "ryft-instrument:check" in server.records[0]["tags"]
        assert server.records[0]["context"]["queryType"] == "SELECT"
    assert "test record accepted (HTTP 200" in result.stdout


def test_check_with_a_bad_token() -> None:
    assert_one_line_error(run("check", env={"RYFT_INGEST_TOKEN": "abc def"}), "RYFT_INGEST_TOKEN")
    with IngestServer(TOKEN) as server:
        result = run("check", "--send-test-record", env=sending(server, RYFT_INGEST_TOKEN="not-the-token-1234"))
    assert result.returncode == 1
    assert "FAIL  test record: the Ingest API refused the token (HTTP 401)" in result.stdout
    assert "not-the-token-1234" not in result.stdout + result.stderr
    assert server.records == []


def test_check_with_a_bad_url() -> None:
    result = run("check", env={"RYFT_INGEST_URL": "http://ingest.example.com/ingest/push/queries"})
    assert_one_line_error(result, "RYFT_INGEST_URL", "https://")
    assert_one_line_error(run("check", env={"RYFT_INGEST_URL": "not a url"}), "RYFT_INGEST_URL")


def test_check_with_an_unreachable_host() -> None:
    url = "http://127.0.0.1:%d/ingest/push/queries" % closed_port()
    result = run("check", "--send-test-record", "--timeout", "2",
                 env={"RYFT_INGEST_TOKEN": TOKEN, "RYFT_INGEST_URL": url})
    assert result.returncode == 1
    assert "FAIL  TCP: cannot connect to 127.0.0.1" in result.stdout
    assert "test record not sent: the endpoint is not reachable" in result.stdout
    assert "1 problem found" in result.stdout


def test_check_without_any_destination_is_a_problem() -> None:
    url = "http://127.0.0.1:%d/ingest/push/queries" % closed_port()
    result = run("check", env={"RYFT_INGEST_URL": url})
    assert result.returncode == 1
    assert "neither RYFT_INGEST_TOKEN nor RYFT_OUTPUT is set" in result.stdout
