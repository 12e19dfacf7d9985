"""Interpreter start-up with zero-code activation (SPEC §8: ``RYFT_INSTRUMENT`` unset ≤ 2 ms added; issue 6: on,
≤ 2 ms added for a script that imports no database module), against OpenTelemetry's ``opentelemetry-instrument``.

Whole processes are timed (``python -c pass``), this process driving every variant in interleaved rounds with
medians, and the difference from the plain run taken round by round (``_common.compare``). Process start-up is
noisy next to a millisecond, so two in-process figures back them up: the cost of our ``.pth`` file when the switch
is off (``site.addpackage`` on it, which is exactly what ``site`` does at start), and the time ``import
ryft_instrument.bootstrap; start()`` takes in a fresh interpreter when it is on.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from ._common import Timed, compare

PYTHON = sys.executable
BIN = Path(sys.executable).parent
OTEL_LAUNCHER = BIN / "opentelemetry-instrument"
# OpenTelemetry as its documentation sets it up (distro + instrumentations), exporting nowhere.
OTEL_ENV = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}

_IN_CHILD = """
import os, sys, time
start = time.perf_counter()
import ryft_instrument.bootstrap as bootstrap
os.environ["RYFT_INSTRUMENT"] = "1"
bootstrap.start()
print(time.perf_counter() - start)
"""


def _environment(**extra: str) -> dict[str, str]:
    """A child's environment: none of ours or OpenTelemetry's settings unless given, and bytecode may be written
    (a user's install has its .pyc files; with PYTHONDONTWRITEBYTECODE every start would compile our modules)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RYFT_", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def _process(command: list[str], env: dict[str, str], cwd: str) -> Timed:
    def timed(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
        return time.perf_counter() - start

    return timed


def _pth_cost_off_us(repeat: int) -> Optional[float]:
    """µs that ``site`` spends on ``ryft_instrument.pth`` with the switch off (read, parse, run the gate)."""
    import site

    sitedir = sysconfig.get_paths()["purelib"]
    if not os.path.exists(os.path.join(sitedir, "ryft_instrument.pth")):
        return None
    saved = os.environ.pop("RYFT_INSTRUMENT", None)
    try:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            site.addpackage(sitedir, "ryft_instrument.pth", set(sys.path))
            samples.append(time.perf_counter() - start)
    finally:
        if saved is not None:
            os.environ["RYFT_INSTRUMENT"] = saved
    return round(statistics.median(samples) * 1e6, 1)


def _bootstrap_cost_on_ms(repeat: int, cwd: str) -> float:
    """ms for ``import ryft_instrument.bootstrap; start()`` in a fresh interpreter (the .pth left idle); the first
    run, which may write bytecode, is not counted."""
    env = _environment()
    samples = [float(subprocess.run([PYTHON, "-c", _IN_CHILD], env=env, cwd=cwd, capture_output=True, text=True,
                                    check=True).stdout) for _ in range(repeat + 1)][1:]
    return round(statistics.median(samples) * 1e3, 3)


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ryft-bench-startup-") as empty:
        return _run(quick, empty)


def _run(quick: bool, cwd: str) -> dict[str, Any]:
    rounds = 12 if quick else 50
    variants: dict[str, Timed] = {
        "plain (RYFT_INSTRUMENT unset)": _process([PYTHON, "-c", "pass"], _environment(), cwd),
        "RYFT_INSTRUMENT=0": _process([PYTHON, "-c", "pass"], _environment(RYFT_INSTRUMENT="0"), cwd),
        "RYFT_INSTRUMENT=1": _process([PYTHON, "-c", "pass"], _environment(RYFT_INSTRUMENT="1"), cwd),
    }
    otel = OTEL_LAUNCHER.exists()
    if otel:
        variants["opentelemetry-instrument"] = _process([str(OTEL_LAUNCHER), PYTHON, "-c", "pass"],
                                                        _environment(**OTEL_ENV), cwd)
    rows = compare(variants, 1, rounds, baseline="plain (RYFT_INSTRUMENT unset)")
    return {
        "rounds": rounds,
        "python_c_pass_ms": {name: {"ms": round(row["us"] / 1000, 2),
                                    **({"added_ms": round(row["added_us"] / 1000, 2)} if "added_us" in row else {})}
                             for name, row in rows.items()},
        "pth_off_us": _pth_cost_off_us(200 if quick else 2000),
        "bootstrap_on_ms": _bootstrap_cost_on_ms(10 if quick else 40, cwd),
        "opentelemetry": "measured" if otel else "not installed (pip install opentelemetry-distro "
                                                 "opentelemetry-instrumentation)",
    }


def main() -> None:
    quick = "--quick" in sys.argv
    result = run(quick)
    print("interpreter start-up, `python -c pass`, %d interleaved rounds (median)" % result["rounds"])
    print("%-32s %10s %12s" % ("variant", "ms", "added ms"))
    for name, row in result["python_c_pass_ms"].items():
        print("%-32s %10.2f %12s" % (name, row["ms"], "%.2f" % row["added_ms"] if "added_ms" in row else "—"))
    print("in process: ryft_instrument.pth with the switch off: %s µs" % result["pth_off_us"])
    print("in process: import ryft_instrument.bootstrap + start(), switch on: %s ms" % result["bootstrap_on_ms"])
    print("OpenTelemetry: %s" % result["opentelemetry"])


if __name__ == "__main__":
    main()
