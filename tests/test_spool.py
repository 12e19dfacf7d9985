"""The disk spool: real files in a real directory, shared by real processes. Files are private and atomic, hold no
token, expire, are leased so that several processes never send one twice, and a damaged one is set aside."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ryft_instrument
from ryft_instrument import counters, spool
from ryft_instrument.record import RecordBuilder
from ryft_instrument.spool import Spool
from ryft_instrument.testing import IngestServer

# A child process that records COUNT statements, then waits until its spool holds none / all of them.
CHILD = """
import os, sys, time
import ryft_instrument
from ryft_instrument import exporter, recorder
from ryft_instrument.context import make_context
exporter.BACKOFF_BASE, exporter.BACKOFF_CAP, exporter.REPLAY_INTERVAL = 0.01, 0.05, 0.05
ryft_instrument.configure(batch_size=50)
tag, count, until = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(count):
    recorder.record(make_context(catalog="main"), "SELECT %d /* %s */" % (i, tag), time.perf_counter(), 0.001)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    stats = ryft_instrument.stats()
    if until == "spooled" and stats["spooled"] == count:
        print("spooled", flush=True)
        sys.stdin.read()  # blocks until the test's SIGKILL (stdin is a pipe the test never writes to)
    if until == "replayed" and not [n for n in os.listdir(os.environ["RYFT_SPOOL_DIR"]) if not n.startswith(".")]:
        break
    time.sleep(0.02)
ryft_instrument.flush(5)
print(stats, flush=True)
"""


def lines(tag: str, count: int) -> list[str]:
    builder = RecordBuilder()
    events = [({}, "SELECT %d /* %s */" % (i, tag), time.perf_counter(), 0.001, None, None, None, ())
              for i in range(count)]
    return [json.dumps(builder.build(e)) for e in events]


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_files_are_private_atomic_and_hold_no_token(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    with IngestServer() as server:
        ryft_instrument.configure(token=server.token, url=server.url, spool_dir=str(directory))
        store = Spool(str(directory))
        assert store.write(lines("a", 10)) is None
    (name,) = names(directory)
    assert name.endswith(".jsonl.gz") and "-10-%d-" % os.getpid() in name
    assert os.stat(directory / name).st_mode & 0o777 == 0o600
    assert os.stat(directory).st_mode & 0o777 == 0o700
    raw = (directory / name).read_bytes()
    assert server.token.encode() not in raw and b"test-token" not in raw
    claim = store.claim()
    assert claim is not None and [json.loads(x)["query"] for x in claim.lines] == [
        "SELECT %d /* a */" % i for i in range(10)]
    assert store.claim() is None  # leased: nobody else gets it
    claim.release()
    again = store.claim()
    assert again is not None and again.lines == claim.lines
    again.done()
    assert names(directory) == []


def test_a_damaged_file_is_set_aside_and_counted_never_raised(tmp_path: Path) -> None:
    store = Spool(str(tmp_path))
    assert store.write(lines("good", 3)) is None
    earlier = int(time.time() * 1000) - 5000  # older than the good file: read first
    garbage = "%013d-5-1-deadbeef%s" % (earlier, spool.SUFFIX)
    truncated = "%013d-5-1-cafebabe%s" % (earlier + 1, spool.SUFFIX)
    (tmp_path / garbage).write_bytes(b"\x1f\x8b not gzip at all")
    (tmp_path / truncated).write_bytes(gzip.compress(b'{"query": "x"}\n' * 5)[:-6])
    claim = store.claim()
    assert claim is not None and len(claim.lines) == 3
    assert counters.value("spool_corrupt") == 2
    assert sorted(n for n in names(tmp_path) if n.endswith(".corrupt")) == [garbage + ".corrupt",
                                                                          truncated + ".corrupt"]


def test_expired_files_are_deleted_and_counted_and_the_size_cap_holds(tmp_path: Path) -> None:
    store = Spool(str(tmp_path), max_age=3600)
    assert store.write(lines("old", 7), created=time.time() - 7200) is None
    assert store.write(lines("new", 2)) is None
    claim = store.claim()
    assert claim is not None and len(claim.lines) == 2
    assert counters.value("dropped_spool_expired") == 7
    small = Spool(str(tmp_path / "small"), max_bytes=2000)
    answers = [small.write(lines("cap%d" % i, 20)) for i in range(20)]
    assert answers[0] is None and answers[-1] == "dropped_spool_full"
    assert sum(os.path.getsize(tmp_path / "small" / n) for n in names(tmp_path / "small")) <= 2000


def test_an_unusable_directory_is_a_counted_loss_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert Spool(str(blocker / "spool")).write(lines("nowhere", 3)) == "dropped_spool_error"


def test_a_lease_whose_process_died_goes_back_into_play(tmp_path: Path) -> None:
    store = Spool(str(tmp_path))
    assert store.write(lines("orphan", 4)) is None
    (name,) = names(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease = "%s.lease.%s.%s.feedface" % (name, store.host, dead.stdout.strip())
    os.rename(tmp_path / name, tmp_path / lease)
    (tmp_path / (spool._TMP + "1-debris")).write_bytes(b"half")
    os.utime(tmp_path / (spool._TMP + "1-debris"), (0, 0))
    claim = store.claim()
    assert claim is not None and len(claim.lines) == 4
    assert not any(n.startswith(spool._TMP) for n in names(tmp_path))


def test_processes_sharing_a_spool_send_each_file_once(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    store = Spool(str(directory))
    for n in range(60):
        assert store.write(lines("file%d" % n, 20)) is None
    with IngestServer() as server:
        children = [subprocess.Popen([sys.executable, "-c", CHILD, "proc%d" % n, "5", "replayed"],
                                     env=server.env(RYFT_SPOOL_DIR=str(directory)), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for n in range(3)]
        for child in children:
            _, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
        records = server.wait_for(60 * 20 + 15)
    ids = [r["queryId"] for r in records]
    assert len(ids) == len(set(ids)) == 60 * 20 + 15
    assert names(directory) == []


def test_sigkill_mid_outage_then_the_next_process_replays_exactly_once(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    with IngestServer() as server:
        server.outage()
        victim = subprocess.Popen([sys.executable, "-c", CHILD, "killed", "2000", "spooled"],
                                  env=server.env(RYFT_SPOOL_DIR=str(directory)), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "spooled"
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        assert server.records == []
        server.recover()
        after = subprocess.run([sys.executable, "-c", CHILD, "next", "10", "replayed"],
                               env=server.env(RYFT_SPOOL_DIR=str(directory)), capture_output=True, text=True,
                               timeout=60)
        assert after.returncode == 0, after.stderr
        records = server.wait_for(2010)
    queries = sorted(r["query"] for r in records)
    assert queries == sorted(["SELECT %d /* killed */" % i for i in range(2000)] +
                             ["SELECT %d /* next */" % i for i in range(10)])
    assert len({r["queryId"] for r in records}) == 2010
    assert names(directory) == []
