"""An endpoint outage at 20,000 statements/s (SPEC §8): memory stays flat, the application thread is not slowed,
drops are counted, and with a spool nothing is lost once the endpoint returns.

``python -m benchmarks.bench_outage [--quick]``. For each variant (no spool; ``RYFT_SPOOL_DIR``): a healthy phase,
then the outage (the endpoint answers 503 to everything) for 60 s (5 s quick), then recovery. One application
thread records statements through ``recorder.record`` (what every integration calls) at a steady 20,000/s, timing
each call; the process's RSS is sampled throughout. The endpoint (``IngestServer``, which validates every record)
runs in a child process so its CPU and memory are not counted as ours; it reports received and distinct queryIds.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from typing import Any

from ._common import Endpoint

RATE = 20000
TICK = 0.001  # statements are recorded in bursts of RATE * TICK, once per tick
# ~200 distinct statement texts, as an ORM application repeats them.
TEXTS = ["SELECT t%d.id, t%d.name FROM t%d WHERE t%d.id = ?" % (i, i, i, i) for i in range(150)] + [
    "UPDATE t%d SET name = ? WHERE id = ?" % i for i in range(50)]

_SERVER = r"""
import sys
from ryft_instrument.testing import IngestServer, Reply

with IngestServer() as server:
    print(server.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "down":
            server.outage(Reply(503))
        elif line.strip() == "up":
            server.recover()
        ids = server.ids()
        print("%d %d" % (len(ids), len(set(ids))), flush=True)
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class Latency:
    """Per-call times in 0.1 µs buckets up to 1 ms (no per-sample list: it would weigh on the memory measured)."""

    def __init__(self) -> None:
        self.buckets = [0] * 10001
        self.count = 0
        self.worst = 0.0

    def add(self, seconds: float) -> None:
        us = seconds * 1e6
        self.buckets[min(int(us * 10), 10000)] += 1
        self.count += 1
        if us > self.worst:
            self.worst = us

    def summary(self) -> dict[str, float]:
        marks = {"p50_us": 0.5, "p99_us": 0.99, "p999_us": 0.999}
        result: dict[str, float] = {}
        seen = 0
        for index, n in enumerate(self.buckets):
            seen += n
            for name, share in marks.items():
                if name not in result and seen >= share * self.count:
                    result[name] = round(index / 10, 1)
        result["worst_us"] = round(self.worst, 1)
        result["over_100us"] = sum(self.buckets[1000:])
        return result


def record_for(seconds: float, latency: Latency, peak: list[float]) -> int:
    """Record RATE statements/s on this thread for ``seconds``; returns how many were offered."""
    from ryft_instrument import recorder
    from ryft_instrument.context import make_context

    context = make_context(catalog="app", user="svc", userAgent="bench")
    record = recorder.record
    clock = time.perf_counter
    per_tick = int(RATE * TICK)
    began = clock()
    offered = 0
    tick = 0
    next_sample = began
    while clock() - began < seconds:
        for _ in range(per_tick):
            text = TEXTS[offered % len(TEXTS)]
            start = clock()
            record(context, text, start, 0.0004)
            latency.add(clock() - start)
            offered += 1
        tick += 1
        now = clock()
        if now >= next_sample:
            peak[0] = max(peak[0], rss_mb())
            next_sample = now + 0.25
        pause = began + tick * TICK - now
        if pause > 0:
            time.sleep(pause)
    return offered


def variant(spool: bool, outage_s: float, healthy_s: float) -> dict[str, Any]:
    import ryft_instrument
    from ryft_instrument import exporter, runtime

    exporter.REPLAY_INTERVAL = 0.2
    # The child answers each command with (records received, distinct queryIds).
    server = Endpoint(script=_SERVER)
    directory = tempfile.mkdtemp(prefix="ryft-bench-spool-")
    try:
        runtime.reset_for_tests()
        options: dict[str, Any] = {"token": server.token, "url": server.url, "flush_interval": 0.2}
        if spool:
            options["spool_dir"] = directory
        ryft_instrument.configure(**options)
        healthy = Latency()
        offered = record_for(healthy_s, healthy, [0.0])
        ryft_instrument.flush(30)
        baseline = rss_mb()
        peak = [baseline]
        during = Latency()
        server.command("down")
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                peak[0] = max(peak[0], rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        offered += record_for(outage_s, during, peak)
        stop.set()
        sampler.join()
        stats_at_recovery = ryft_instrument.stats()
        recovered_at = time.monotonic()
        server.command("up")
        deadline = time.monotonic() + max(120.0, outage_s * 5)
        while time.monotonic() < deadline:
            ryft_instrument.flush(1)
            stats = ryft_instrument.stats()
            received, _ = server.command("count")
            if not stats["queued"] and (not spool or not _pending(directory)) and received >= stats["sent"]:
                break
            time.sleep(0.2)
        caught_up_s = time.monotonic() - recovered_at
        stats = ryft_instrument.stats()
        received, distinct = server.command("count")
        drops = {k: v for k, v in stats.items() if k.startswith("dropped_") and v}
        return {
            "offered": offered,
            "delivered": received,
            "duplicated": received - distinct,
            "lost": offered - received - sum(drops.values()),
            "dropped": drops,
            "spooled": stats["spooled"],
            "replayed": stats["replayed"],
            "spooled_at_recovery": stats_at_recovery["spooled"],
            "caught_up_s": round(caught_up_s, 1),
            "memory_mb": round(peak[0] - baseline, 1),
            "baseline_rss_mb": round(baseline, 1),
            "healthy": healthy.summary(),
            "outage": during.summary(),
        }
    finally:
        runtime.reset_for_tests()
        server.close()
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)


def _pending(directory: str) -> bool:
    return any(not name.startswith(".") for name in os.listdir(directory))


def run(quick: bool) -> dict[str, Any]:
    outage_s, healthy_s = (5.0, 3.0) if quick else (60.0, 10.0)
    results: dict[str, Any] = {
        "rate_per_s": RATE,
        "outage_s": outage_s,
        "no_spool": variant(False, outage_s, healthy_s),
        "spool": variant(True, outage_s, healthy_s),
    }
    results["memory_mb"] = max(results["no_spool"]["memory_mb"], results["spool"]["memory_mb"])
    return results


def table(results: dict[str, Any]) -> str:
    rows = [("", "no spool", "spool")]
    a, b = results["no_spool"], results["spool"]
    for label, get in [
        ("statements offered", lambda r: r["offered"]),
        ("delivered", lambda r: r["delivered"]),
        ("duplicated", lambda r: r["duplicated"]),
        ("lost without a count", lambda r: r["lost"]),
        ("dropped (by reason)", lambda r: ", ".join("%s %d" % (k[8:], v) for k, v in r["dropped"].items()) or "0"),
        ("spooled / replayed", lambda r: "%d / %d" % (r["spooled"], r["replayed"])),
        ("caught up after recovery (s)", lambda r: r["caught_up_s"]),
        ("peak RSS over baseline (MB)", lambda r: r["memory_mb"]),
        ("per statement, healthy p50/p99/worst (µs)",
         lambda r: "%s / %s / %s" % (r["healthy"]["p50_us"], r["healthy"]["p99_us"], r["healthy"]["worst_us"])),
        ("per statement, outage p50/p99/worst (µs)",
         lambda r: "%s / %s / %s" % (r["outage"]["p50_us"], r["outage"]["p99_us"], r["outage"]["worst_us"])),
        ("calls over 100 µs, healthy / outage",
         lambda r: "%d / %d" % (r["healthy"]["over_100us"], r["outage"]["over_100us"])),
    ]:
        rows.append((label, str(get(a)), str(get(b))))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["%d s outage at %d statements/s" % (results["outage_s"], results["rate_per_s"])]
    lines += ["  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)) for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run("--quick" in sys.argv)))
