"""Delivery against a misbehaving Ingest API (a real HTTP server on 127.0.0.1), with several application threads
recording at once: every statement arrives exactly once, or is counted as dropped with its reason."""

from __future__ import annotations

import email.utils
import logging
import os
import re
import threading
import time
from collections import Counter
from typing import Iterator

import pytest
import sqlalchemy as sa

import ryft_instrument
from ryft_instrument import exporter, logs, recorder, runtime
from ryft_instrument.context import make_context
from ryft_instrument.testing import IngestServer, Reply

THREADS = 4


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff and replay pacing in milliseconds, so faults resolve in a test's time."""
    monkeypatch.setattr(exporter, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(exporter, "BACKOFF_CAP", 0.05)
    monkeypatch.setattr(exporter, "REPLAY_INTERVAL", 0.05)
    logs.reset()


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="ryft_instrument")
    yield caplog


def record_concurrently(tag: str, per_thread: int, threads: int = THREADS, text: str = "SELECT %d /* %s-%d */",
                        rate: float = 0.0) -> list[str]:
    """Record ``threads × per_thread`` distinct statements from application threads (each at about ``rate``
    statements per second, or flat out); returns their texts."""
    context = make_context(catalog="main", user="app")
    expected: list[str] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        mine = [text % (i, tag, thread) for i in range(per_thread)]
        began = time.perf_counter()
        for i, query in enumerate(mine):
            recorder.record(context, query, time.perf_counter(), 0.0002)
            if rate and i % 10 == 9:
                time.sleep(max(0.0, began + (i + 1) / rate - time.perf_counter()))
        with lock:
            expected.extend(mine)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return expected


def assert_exactly_once(server: IngestServer, expected: list[str]) -> None:
    ids = Counter(server.ids())
    assert [i for i, n in ids.items() if n > 1] == [], "duplicated queryIds"
    assert Counter(server.queries()) == Counter(expected)


def test_503_bursts_from_sqlalchemy_threads_deliver_every_statement_once(ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=25)
    ingest.fail_next(*[Reply(503)] * 4, Reply(502), Reply(504), Reply(500), Reply(408))
    engines = [ryft_instrument.instrument(sa.create_engine("sqlite://")) for _ in range(THREADS)]

    def work(n: int) -> None:
        with engines[n].connect() as conn:
            for i in range(150):
                conn.exec_driver_sql("SELECT %d AS t%d" % (i, n)).fetchall()
                if i % 50 == 0:
                    ingest.fail_next(Reply(503), Reply(503))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert ryft_instrument.flush(20)
    expected = ["SELECT %d AS t%d" % (i, n) for n in range(THREADS) for i in range(150)]
    assert_exactly_once(ingest, expected)
    stats = ryft_instrument.stats()
    assert stats["sent"] == stats["recorded"] == len(expected)
    assert stats["retried"] >= 25
    assert not [k for k, v in stats.items() if k.startswith("dropped_") and v]


def test_429_retry_after_pauses_all_sending(ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=20)
    date = email.utils.formatdate(time.time() + 3, usegmt=True)
    ingest.fail_next(Reply(429, {"Retry-After": "1"}), Reply(429, {"Retry-After": date}))
    expected = record_concurrently("retry-after", 100)
    assert ryft_instrument.flush(20)
    assert_exactly_once(ingest, expected)
    times = [r.at for r in ingest.requests]
    statuses = [r.status for r in ingest.requests]
    assert statuses[:2] == [429, 429]
    # Nothing at all was sent during either pause: the next request waited for each Retry-After.
    assert times[1] - times[0] >= 0.95
    assert times[2] - times[1] >= 0.9  # the HTTP date is to the second: between 1 and 2 s away
    assert ryft_instrument.stats()["retried"] > 0


def test_413_splits_down_to_the_one_record_too_large(logged: pytest.LogCaptureFixture) -> None:
    with IngestServer(max_body=6000) as server:
        ryft_instrument.configure(token=server.token, url=server.url, flush_interval=0.05, batch_size=100)
        expected = record_concurrently("split", 50)
        huge = "SELECT '%s'" % ("x" * 8000)
        recorder.record(make_context(), huge, time.perf_counter(), 0.001)
        assert not ryft_instrument.flush(20)  # one record could not be delivered: flush says so
        assert_exactly_once(server, expected)
    stats = ryft_instrument.stats()
    assert stats["dropped_oversize"] == 1
    assert stats["sent"] == len(expected)
    assert max(len(r.body) for r in server.requests if r.status == 200) <= 6000
    assert "larger than the API accepts" in logged.text


def test_poisoned_records_are_isolated_and_the_rest_delivered(logged: pytest.LogCaptureFixture) -> None:
    with IngestServer(poison="POISON") as server:
        ryft_instrument.configure(token=server.token, url=server.url, flush_interval=0.05, batch_size=200)
        good = record_concurrently("fine", 100)
        bad = record_concurrently("x", 1, threads=3, text="SELECT %d /* POISON %s-%d */")
        more = record_concurrently("after", 20)
        assert not ryft_instrument.flush(20)
        assert_exactly_once(server, good + more)
    assert ryft_instrument.stats()["dropped_rejected"] == len(bad)
    rejected = [r.getMessage() for r in logged.records if r.levelno == logging.WARNING and "rejected" in r.getMessage()]
    assert len(rejected) == 1 and "poisoned" in rejected[0]  # the API's answer, logged once


def test_refused_token_is_one_error_and_no_retry_storm(logged: pytest.LogCaptureFixture) -> None:
    with IngestServer(token="the-right-token-000000") as server:
        wrong = "wrong-token-SECRET-123456"
        ryft_instrument.configure(token=wrong, url=server.url, flush_interval=0.05, batch_size=10)
        record_concurrently("denied", 50)
        assert not ryft_instrument.flush(5)
        record_concurrently("denied-again", 50)
        assert not ryft_instrument.flush(5)
        assert [r.status for r in server.requests] == [401]  # paused after the first refusal
    stats = ryft_instrument.stats()
    assert stats["dropped_token_refused"] == 400
    errors = [r for r in logged.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "RYFT_INGEST_TOKEN" in errors[0].getMessage()
    assert wrong not in logged.text and "SECRET" not in logged.text
    assert "SECRET" not in repr(ryft_instrument.configure())


def test_resets_and_slow_answers_lose_nothing(ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=30)
    ingest.fail_next(Reply(reset=True), Reply(hang=0.3), Reply(reset=True), Reply(hang=0.2, status=503))
    expected = record_concurrently("flaky", 60)
    assert ryft_instrument.flush(20)
    assert_exactly_once(ingest, expected)


def test_gzip_bodies_are_accepted(ingest: IngestServer) -> None:
    ryft_instrument.configure(compression="gzip", batch_size=50)
    expected = record_concurrently("gz", 40)
    assert ryft_instrument.flush(10)
    assert_exactly_once(ingest, expected)
    assert all(r.headers.get("content-encoding") == "gzip" for r in ingest.requests)


def test_batches_stay_under_one_mebibyte(ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=500, max_query_length=60000)
    expected = record_concurrently("wide", 25, text="SELECT %d /* %s-%d */ " + "-- padding\n" * 5000)
    assert ryft_instrument.flush(20)
    assert_exactly_once(ingest, expected)
    assert max(len(r.body) for r in ingest.requests) <= exporter.MAX_BODY_BYTES
    assert len(ingest.requests) >= 2


def test_outage_without_spool_bounds_the_queue_and_counts_every_drop(ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=100, queue_size=1000)
    ingest.outage(Reply(reset=True))
    attempted = record_concurrently("outage", 5000)
    assert len(recorder.buffer) <= 1000
    assert not ryft_instrument.flush(0.5)
    ingest.recover()
    assert ryft_instrument.flush(20)
    stats = ryft_instrument.stats()
    assert stats["dropped_queue_full"] > 0
    assert len(ingest.records) == stats["sent"]
    assert stats["sent"] + stats["dropped_queue_full"] == len(attempted)
    assert len(set(ingest.ids())) == len(ingest.records)


def test_huge_statements_are_bounded_in_bytes_too(ingest: IngestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder, "queue_bytes", 2 * 1024 * 1024)
    ingest.outage()
    text = "SELECT %d /* %s-%d */ " + "x" * 60000
    record_concurrently("huge", 100, text=text)  # 400 × 60 kB: 24 MB of SQL text offered
    held = sum(len(e[1]) for e in list(recorder.buffer) if isinstance(e, tuple))
    assert held <= 2 * 1024 * 1024 + 64 * 1024
    assert ryft_instrument.stats()["dropped_queue_full"] > 0
    record_concurrently("small", 10, text=text[:24])  # small statements are still let in
    ingest.recover()
    ryft_instrument.flush(20)
    assert recorder.big_bytes == 0


def test_outage_with_spool_loses_nothing_and_replays_once(ingest: IngestServer, tmp_path: str) -> None:
    spool = os.path.join(tmp_path, "spool")
    ryft_instrument.configure(batch_size=100, queue_size=2000, spool_dir=spool)
    ingest.outage()
    # 2,000 statements a second in all, into a queue of 2,000: the worker must keep moving it to disk. (At 4,000 a
    # second this test failed once in a full parallel run, while this shared VM's host ran 2-3x slower than usual.)
    expected = record_concurrently("spooled", 1500, rate=500)
    deadline = time.monotonic() + 20
    while recorder.buffer and time.monotonic() < deadline:  # the worker keeps the queue moving, to disk
        time.sleep(0.05)
    stats = ryft_instrument.stats()
    assert stats["spooled"] > 0
    assert not [k for k, v in stats.items() if k.startswith("dropped_") and v]
    files = os.listdir(spool)
    assert all(os.stat(os.path.join(spool, f)).st_mode & 0o777 == 0o600 for f in files)
    assert os.stat(spool).st_mode & 0o777 == 0o700
    ingest.recover()
    ingest.wait_for(len(expected), timeout=30)
    while ryft_instrument.stats()["replayed"] < len(expected) and time.monotonic() < deadline + 10:
        time.sleep(0.01)  # the last answer may still be on its way back
    assert_exactly_once(ingest, expected)
    stats = ryft_instrument.stats()
    assert stats["replayed"] == stats["spooled"] == len(expected)
    assert [f for f in os.listdir(spool) if not f.startswith(".")] == []


def test_a_batch_past_its_time_budget_is_dropped_and_counted(ingest: IngestServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporter, "BATCH_TIME_BUDGET", 0.3)
    ryft_instrument.configure(batch_size=50)
    ingest.outage()
    record_concurrently("budget", 25)
    assert not ryft_instrument.flush(10)
    assert ryft_instrument.stats()["dropped_send_failed"] == 100


def test_debug_log_tells_each_batch_fate_and_never_the_token(logged: pytest.LogCaptureFixture,
                                                            ingest: IngestServer) -> None:
    ryft_instrument.configure(batch_size=10)
    ingest.fail_next(Reply(503))
    record_concurrently("debug", 5)
    assert ryft_instrument.flush(10)
    text = logged.text
    assert "records failed (HTTP 503)" in text and re.search(r"delivered \d+ records", text)
    assert ingest.token not in text
    assert ingest.token not in repr(runtime._exporter) + repr(runtime._exporter._transports)
