"""``python -m benchmarks [--quick] [--json PATH] [--only NAME,...]``: every benchmark, the SPEC §8 table, JSON.

Each benchmark runs in its own interpreter (``python -m benchmarks.bench_x``-style, via ``_one``) so that one
library's process-wide patches (OpenTelemetry wraps ``create_engine``, DB-API integrations wrap ``connect``) cannot
leak into another's numbers, and a crash in one is reported, not fatal.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

# (name, what it measures); the module is benchmarks.bench_<name>.
BENCHMARKS = [
    ("sqlalchemy", "SQLAlchemy SELECT 1 on SQLite: plain vs ryft-instrument vs OpenTelemetry"),
    ("dbapi", "sqlite3 execute+fetchall and fetch path: plain vs ryft-instrument's proxy"),
    ("otel_dbapi", "sqlite3 execute+fetchall and fetch path: plain vs OpenTelemetry's dbapi proxy"),
    ("classify", "query_type and fingerprint, uncached and repeated text"),
    ("export", "exporter CPU per record, records/s to a loopback endpoint, total CPU per statement"),
    ("outage", "memory and application-thread latency during an endpoint outage"),
    ("startup", "interpreter start-up with RYFT_INSTRUMENT unset/set and under OpenTelemetry's launcher"),
    ("postgres", "PostgreSQL round trip with psycopg: plain vs instrumented"),
    ("pytest_plugin", "pytest plugin overhead"),
]

# SPEC §8: (target id, what, comparison, target value, unit, where the value is found). A benchmark can report a
# value under its own "targets" key (first choice), or the harness reads it at the paths given: (bench, key, ...),
# optionally led by a scale factor (µs → ms).
Path = tuple[Any, ...]
TARGETS: list[tuple[str, str, str, float, str, list[Path]]] = [
    ("sqlalchemy_added_us", "added time per statement, SQLAlchemy (application thread)", "<=", 1.5, "µs",
     [("sqlalchemy", "ryft", "added_us")]),
    ("sqlalchemy_every_engine_added_us", "the same with instrument() for every engine (zero-code, pytest --ryft)",
     "<=", 1.5, "µs", [("sqlalchemy", "ryft_every_engine", "added_us")]),
    ("dbapi_added_us", "added time per statement, raw DB-API cursor proxy", "<=", 1.0, "µs",
     [("dbapi", "targets", "execute_added_us")]),
    ("total_cpu_us_per_statement", "total CPU per recorded statement, export included", "<=", 5.0, "µs",
     [("export", "total_cpu", "added_cpu_us")]),
    ("exporter_records_per_s", "exporter throughput to a loopback endpoint", ">=", 100000, "records/s",
     [("export", "throughput", "plain", "records_per_s")]),
    ("classify_uncached_us", "classifier, uncached (ORM mix)", "<=", 3.0, "µs",
     [("classify", "orm", "query_type_uncached", "us")]),
    ("classify_cached_us", "classifier, cached (ORM mix)", "<=", 0.2, "µs",
     [("classify", "orm", "query_type_repeated", "us")]),
    ("outage_memory_mb", "memory during a 60 s outage at 20,000 statements/s, over baseline", "<=", 50.0, "MB",
     [("outage", "memory_mb")]),
    ("startup_added_ms", "interpreter start with RYFT_INSTRUMENT unset, added", "<=", 2.0, "ms",
     [(0.001, "startup", "pth_off_us")]),
    ("startup_on_added_ms", "interpreter start with RYFT_INSTRUMENT=1 (no database imported), added", "<=", 2.0,
     "ms", [("startup", "python_c_pass_ms", "RYFT_INSTRUMENT=1", "added_ms"), ("startup", "bootstrap_on_ms")]),
]

# For scale: what OpenTelemetry adds in the same run, beside our target rows.
OTEL: dict[str, list[Path]] = {
    "sqlalchemy_added_us": [("sqlalchemy", "opentelemetry", "added_us")],
    "sqlalchemy_every_engine_added_us": [("sqlalchemy", "opentelemetry", "added_us")],
    "dbapi_added_us": [("otel_dbapi", "execute_fetchall", "opentelemetry", "added_us")],
    "startup_added_ms": [("startup", "python_c_pass_ms", "opentelemetry-instrument", "added_ms")],
}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(name: str, quick: bool, timeout: float) -> dict[str, Any]:
    """Run ``benchmarks.bench_<name>.run(quick)`` in a child interpreter; its dict, or a status saying why not."""
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "result.json")
        command = [sys.executable, "-m", "benchmarks._one", name, "quick" if quick else "full", out]
        started = time.perf_counter()
        try:
            finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "error", "error": "timed out after %d s" % timeout}
        seconds = round(time.perf_counter() - started, 1)
        if os.path.exists(out):
            with open(out) as handle:
                result: dict[str, Any] = json.load(handle)
            result.setdefault("status", "ok")
            result["seconds"] = seconds
            return result
        tail = (finished.stderr or finished.stdout).strip().splitlines()[-5:]
        return {"status": "error", "error": " | ".join(tail) or "exit status %d" % finished.returncode,
                "seconds": seconds}


# Benchmarks run more than once, each time in a new interpreter: the SQLAlchemy figure moves by up to ~0.5 µs
# with where a run's engines land in memory. Each target is the median over the runs; the details shown are those
# of the run whose first target is that median, and "repeats" lists every run's targets.
REPEATS = {"sqlalchemy": 3}


def run_repeated(name: str, quick: bool, timeout: float) -> dict[str, Any]:
    runs = [run_one(name, quick, timeout) for _ in range(1 if quick else REPEATS.get(name, 1))]
    if len(runs) == 1 or any(run.get("status") != "ok" or not run.get("targets") for run in runs):
        return runs[0]
    keys = list(runs[0]["targets"])
    merged = dict(sorted(runs, key=lambda run: run["targets"][keys[0]])[len(runs) // 2])
    merged["targets"] = {key: statistics.median(run["targets"][key] for run in runs) for key in keys}
    merged["repeats"] = [run["targets"] for run in runs]
    merged["seconds"] = round(sum(run["seconds"] for run in runs), 1)
    return merged


def lookup(results: dict[str, Any], paths: list[Path]) -> Optional[float]:
    """The first number found at one of ``paths`` in the results, or None."""
    for path in paths:
        scale = path[0] if isinstance(path[0], float) else 1.0
        value: Any = results
        for key in path[1:] if isinstance(path[0], float) else path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * scale
    return None


def target_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for target, what, op, value, unit, paths in TARGETS:
        own = [(bench, "targets", target) for bench in results]
        got = lookup(results, own + paths)
        met = None if got is None else (got <= value if op == "<=" else got >= value)
        rows.append({"id": target, "what": what, "target": "%s %s %s" % ("≤" if op == "<=" else "≥", value, unit),
                     "measured": got, "unit": unit, "met": met, "opentelemetry": lookup(results, OTEL.get(target, []))})
    return rows


def _format(value: Any) -> str:
    if value is None:
        return "not available"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else "%.2f" % value
    return str(value)


def print_report(report: dict[str, Any]) -> None:
    print("\nSPEC §8 targets (medians; same-process, interleaved rounds)")
    line = "%-66s %-18s %-14s %-4s %s"
    print(line % ("what", "target", "measured", "met", "OpenTelemetry"))
    for row in report["targets"]:
        met = {True: "yes", False: "NO", None: "-"}[row["met"]]
        otel = "" if row["opentelemetry"] is None else _format(row["opentelemetry"])
        print(line % (row["what"], row["target"], _format(row["measured"]), met, otel))
    print("\nDetails")
    for name, result in report["results"].items():
        status = result.get("status")
        print("\n[%s] %s (%s, %s s)" % (name, dict(BENCHMARKS).get(name, ""), status, result.get("seconds", "-")))
        if status != "ok":
            print("  " + str(result.get("error", "")))
            continue
        for key, value in result.items():
            if key not in ("status", "seconds", "targets"):
                print("  %s: %s" % (key, json.dumps(value, ensure_ascii=False)))


def cpu_model() -> str:
    """The processor's name: per-statement figures move with it more than with anything else."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small runs: checks the harness, not the numbers")
    parser.add_argument("--json", metavar="PATH", help="write the results here")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    names = [name for name, _ in BENCHMARKS]
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error("unknown benchmark(s): %s (known: %s)" % (", ".join(unknown), ", ".join(names)))
        names = [name for name in names if name in wanted]
    timeout = 300.0 if args.quick else 1800.0
    results: dict[str, Any] = {}
    for name in names:
        print("running %s ..." % name, file=sys.stderr, flush=True)
        results[name] = run_repeated(name, args.quick, timeout)
    report: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "quick": args.quick,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
        },
        "targets": [],
        "results": results,
    }
    report["targets"] = target_rows(results)
    print_report(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
    return 0 if all(r.get("status") in ("ok", "not available") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
