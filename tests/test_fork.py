"""Fork safety, in real child processes: a parent and its forked children (os.fork, multiprocessing fork and
forkserver, a gunicorn-style pre-fork master, a Celery-style prefork pool) each deliver their own statements, and
none is delivered twice. The parent always has records queued and its worker running when it forks."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ryft_instrument.testing import IngestServer

# Common head of every script: the app's set-up at import, and ``parent()``: a parent that has recorded 40
# statements, still queued (a long flush interval), and whose exporter thread runs.
HEAD = """
import json, os, signal, sys, time
import ryft_instrument
from ryft_instrument import recorder
from ryft_instrument.context import make_context

CONTEXT = make_context(catalog="main")

def statements(who, count):
    for i in range(count):
        recorder.record(CONTEXT, "SELECT %d /* {} */".format(who) % i, time.perf_counter(), 0.0001)

def parent():
    statements("parent", 40)
    assert ryft_instrument.stats()["queued"] > 0

ryft_instrument.configure(flush_interval=30)
"""

OS_FORK = """
parent()
children = []
for n in range(3):
    pid = os.fork()
    if pid == 0:
        statements("child%d" % n, 25)
        if n == 0:
            ryft_instrument.flush(5)  # a child that leaves through os._exit must flush first
            os._exit(0)
        sys.exit(0)  # the exit flush runs in the child too
    children.append(pid)
for pid in children:
    assert os.waitpid(pid, 0)[1] == 0
"""

MULTIPROCESSING = """
import multiprocessing

def work(n):
    statements("child%d" % n, 25)

def pool_task(n):
    statements("pool%d" % n, 5)

if __name__ == "__main__":
    parent()
    ctx = multiprocessing.get_context(sys.argv[1])
    procs = [ctx.Process(target=work, args=(n,)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    pool = ctx.Pool(2)
    pool.map(pool_task, range(4))
    pool.close()  # workers leave through their finalizers (terminate() would kill them: see the README)
    pool.join()
"""

PREFORK = """
# A gunicorn-style master: preloads the app (the parent's statements), forks workers that serve until SIGTERM,
# then leave through sys.exit, as gunicorn workers do.
def serve(n):
    alive = [True]
    signal.signal(signal.SIGTERM, lambda *a: alive.__setitem__(0, False))
    served = 0
    while alive[0]:
        if served < 30:
            recorder.record(CONTEXT, "SELECT %d /* worker%d */" % (served, n), time.perf_counter(), 0.0001)
            served += 1
        time.sleep(0.001)
    sys.exit(0)

parent()
workers = []
for n in range(4):
    pid = os.fork()
    if pid == 0:
        serve(n)
    workers.append(pid)
time.sleep(0.5)
for pid in workers:
    os.kill(pid, signal.SIGTERM)
for pid in workers:
    assert os.waitpid(pid, 0)[1] == 0
"""

CELERY = """
# Celery prefork children leave through os._exit after the worker_process_shutdown signal. Celery itself is not
# needed to prove the wiring: a stand-in celery.signals module with the same connect/send protocol.
import types

class Signal:
    def __init__(self):
        self.receivers = {}
    def connect(self, receiver, weak=True, dispatch_uid=None):
        self.receivers[dispatch_uid or id(receiver)] = receiver
    def send(self, sender, **named):
        return [(r, r(signal=self, sender=sender, **named)) for r in list(self.receivers.values())]

celery = types.ModuleType("celery")
celery.signals = types.ModuleType("celery.signals")
celery.signals.worker_process_shutdown = Signal()
sys.modules["celery"], sys.modules["celery.signals"] = celery, celery.signals

parent()
children = []
for n in range(3):
    pid = os.fork()
    if pid == 0:
        statements("celery%d" % n, 20)
        celery.signals.worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)
        os._exit(0)
    children.append(pid)
for pid in children:
    assert os.waitpid(pid, 0)[1] == 0
"""


def expected(**counts: int) -> Counter:
    return Counter("SELECT %d /* %s */" % (i, who) for who, count in counts.items() for i in range(count))


def run(server: IngestServer, tmp_path: Path, body: str, *args: str) -> None:
    script = tmp_path / "app.py"
    script.write_text(HEAD + body)
    proc = subprocess.run([sys.executable, str(script), *args], env=server.env(), capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def delivered(server: IngestServer, want: Counter) -> Counter:
    records = server.wait_for(sum(want.values()), timeout=15)
    assert len({r["queryId"] for r in records}) == len(records), "a record was delivered twice"
    return Counter(r["query"] for r in records)


def test_os_fork_children_and_parent_each_deliver_their_own(tmp_path: Path) -> None:
    with IngestServer() as server:
        run(server, tmp_path, OS_FORK)
        want = expected(parent=40, child0=25, child1=25, child2=25)
        assert delivered(server, want) == want


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing_children_flush_before_os_exit(tmp_path: Path, method: str) -> None:
    with IngestServer() as server:
        run(server, tmp_path, MULTIPROCESSING, method)
        want = expected(parent=40, child0=25, child1=25, child2=25, pool0=5, pool1=5, pool2=5, pool3=5)
        assert delivered(server, want) == want


def test_gunicorn_style_prefork_workers(tmp_path: Path) -> None:
    with IngestServer() as server:
        run(server, tmp_path, PREFORK)
        want = expected(parent=40, worker0=30, worker1=30, worker2=30, worker3=30)
        assert delivered(server, want) == want


def test_celery_prefork_children_flush_on_worker_process_shutdown(tmp_path: Path) -> None:
    with IngestServer() as server:
        run(server, tmp_path, CELERY)
        want = expected(parent=40, celery0=20, celery1=20, celery2=20)
        assert delivered(server, want) == want
