"""Interpreter exit, in real child processes: the exit flush delivers what is queued, is bounded by
RYFT_SHUTDOWN_TIMEOUT even when the endpoint accepts and never answers, and starts no thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ryft_instrument.testing import IngestServer, Reply

# Each script records N statements through a real SQLAlchemy + SQLite engine (one, a pause, the others, a pause:
# so the worker is busy with a first request when the rest arrive) and prints its stats at the end (from an atexit
# handler registered first, so it runs last: after the exit flush).
SCRIPT = """
import atexit, json, sys, time
import sqlalchemy as sa
import ryft_instrument
from ryft_instrument import exporter
exporter.BACKOFF_BASE, exporter.BACKOFF_CAP = 0.01, 0.05

def report():
    print(json.dumps(dict(ryft_instrument.stats(), exit_started=EXIT[0])), flush=True)

EXIT = [0.0]
PAD = " /* %s */" % ("x" * int(sys.argv[3])) if int(sys.argv[3]) else ""
atexit.register(report)
engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
with engine.connect() as conn:
    for i in range(int(sys.argv[1])):
        conn.exec_driver_sql("SELECT %d AS exit_test" % i + PAD).fetchall()
        if i == 0:
            time.sleep(float(sys.argv[2]))
    time.sleep(float(sys.argv[2]))
EXIT[0] = time.time()
"""


def run(server: IngestServer, count: int, pause: float = 0.0, pad: int = 0, **env: str) -> tuple[dict, float]:
    """Run the script (statements ``pad`` characters longer); returns its final stats and how long its exit took
    (from its last line to its end)."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(count), str(pause), str(pad)], env=server.env(**env),
                          capture_output=True, text=True, timeout=60)
    ended = time.time()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert server.token not in proc.stdout + proc.stderr
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    return stats, ended - stats["exit_started"]


def test_exit_flush_delivers_what_is_queued() -> None:
    with IngestServer() as server:
        stats, _ = run(server, 300, RYFT_FLUSH_INTERVAL="30")
        records = server.wait_for(300)
    assert Counter(r["query"] for r in records) == Counter("SELECT %d AS exit_test" % i for i in range(300))
    assert stats["sent"] == 300


@pytest.mark.parametrize("stuck", [True, False], ids=["stuck-before-exit", "sending-at-exit"])
def test_exit_is_bounded_when_the_endpoint_accepts_and_never_answers(stuck: bool) -> None:
    """Stuck: the worker's first request hangs long before exit (its own 15 s read timeout, not the deadline's).
    Sending at exit: the first request (the first full batch, 500 records) is answered, the exit flush's request
    hangs (bounded by the time left)."""
    with IngestServer() as server:
        server.outage(Reply(hang=60))
        if not stuck:
            server.fail_next(Reply())
        stats, took = run(server, 2000, 0.3, RYFT_SHUTDOWN_TIMEOUT="1.0", RYFT_FLUSH_INTERVAL="0.05" if stuck else "30")
    assert took < 1.0 + 0.6, "exit took %.2f s" % took
    assert stats["sent"] == (0 if stuck else 500)
    assert stats["dropped_shutdown"] == 2000 - stats["sent"]


def test_a_stuck_request_at_exit_counts_the_rest_of_its_batch_too() -> None:
    """Records of ~20 KB: a batch of 100 goes out as several bodies of at most 1 MiB. When the first hangs past the
    exit deadline, the bodies after it die with it, and all are counted."""
    with IngestServer() as server:
        server.outage(Reply(hang=60))
        stats, took = run(server, 100, 0.0, pad=20000, RYFT_SHUTDOWN_TIMEOUT="1.0", RYFT_FLUSH_INTERVAL="30")
    assert took < 1.0 + 0.6, "exit took %.2f s" % took
    assert stats["recorded"] == 100 and stats["sent"] == 0 and stats["dropped_shutdown"] == 100


def test_exit_during_an_outage_spools_and_the_next_process_delivers(tmp_path: Path) -> None:
    spool = str(tmp_path / "spool")
    with IngestServer() as server:
        server.outage(Reply(hang=60))
        stats, took = run(server, 1500, 0.3, RYFT_SHUTDOWN_TIMEOUT="1.0", RYFT_SPOOL_DIR=spool,
                          RYFT_FLUSH_INTERVAL="30")
        assert took < 1.0 + 0.6, "exit took %.2f s" % took
        # Only a request already on the wire when exit began (the first full batch) is given up (the endpoint may
        # have taken it: sending it again could duplicate it); everything else waits on disk.
        assert stats["dropped_shutdown"] == 500 and stats["spooled"] == 1000
        server.recover()
        # A process that ends before its worker's first round (a cron job): its exit flush replays the spool.
        later, took = run(server, 5, 0.0, RYFT_SPOOL_DIR=spool)
        assert took < 2.0 + 0.6, "exit took %.2f s" % took
        records = server.wait_for(stats["spooled"] + 5)
    assert later["replayed"] == stats["spooled"]
    assert len({r["queryId"] for r in records}) == len(records) == stats["spooled"] + 5
    assert [name for name in os.listdir(spool) if not name.startswith(".")] == []


def test_a_statement_recorded_after_the_exit_flush_starts_no_thread() -> None:
    code = """
import atexit, sqlite3, threading, time
import ryft_instrument
from ryft_instrument import recorder
from ryft_instrument.context import make_context

def late():
    recorder.record(make_context(), "SELECT 'after the exit flush'", time.perf_counter(), 0.001)
    print("threads", sorted(t.name for t in threading.enumerate()))

atexit.register(late)
ryft_instrument.configure()
recorder.record(make_context(), "SELECT 'before'", time.perf_counter(), 0.001)
"""
    with IngestServer() as server:
        proc = subprocess.run([sys.executable, "-c", code], env=server.env(), capture_output=True, text=True,
                              timeout=30)
        server.wait_for(1)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "ryft-instrument-exporter" not in proc.stdout.split("threads", 1)[1]
    assert server.queries() == ["SELECT 'before'"]


@pytest.mark.parametrize("outage", ["503", "hang"])
def test_records_lost_at_exit_are_one_warning_whatever_the_outage(outage: str) -> None:
    code = ("import logging, sqlite3\nlogging.basicConfig()\nconnection = sqlite3.connect(':memory:')\n"
            "for i in range(10):\n    connection.execute('SELECT %d' % i)\n")
    with IngestServer() as server:
        server.outage(Reply(503) if outage == "503" else Reply(hang=60))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env=server.env(RYFT_INSTRUMENT="1", RYFT_SHUTDOWN_TIMEOUT="1.0"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("10 records not delivered before exit (dropped_shutdown in stats())") == 1, proc.stderr
