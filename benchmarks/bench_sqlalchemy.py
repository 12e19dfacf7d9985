"""SQLAlchemy ``SELECT 1`` on SQLite: plain vs ryft-instrument vs OpenTelemetry's SQLAlchemy instrumentation.

Application-thread time per statement (SPEC §8: ≤ 1.5 µs added). ryft-instrument records into its queue with the
exporter idle during a timed round and delivers to a loopback endpoint between rounds, so what is timed is what
the user's thread pays. OpenTelemetry runs as documented (a BatchSpanProcessor, here with an exporter that drops
the spans), with its version check skipped: it refuses SQLAlchemy 2.1 otherwise.

Each variant spreads a round over ``ENGINES`` engines of its own: two identical engines measured side by side
differ by up to ~0.5 µs a statement here (where their objects landed in memory), so one engine per variant made
the difference between variants partly a matter of luck.
"""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa

import ryft_instrument
from ryft_instrument import counters

from ._common import IDLE_EXPORTER, Timed, compare, delivering_to, endpoint, installed, otel_provider

ENGINES = 3


def _loop(conns: list[Any], statement: Any) -> Timed:
    """``n`` statements, an equal share on each connection."""
    from time import thread_time as perf_counter

    executes = [conn.execute for conn in conns]

    def timed(n: int) -> float:
        share = n // len(executes)
        start = perf_counter()
        for execute in executes:
            for _ in range(share):
                execute(statement).scalar()
        return perf_counter() - start

    return timed


def _otel(statement: Any) -> tuple[Timed, Callable[[], None], Callable[[], None]]:
    """A connection of an engine traced by OpenTelemetry; returns its loop, a flush and an undo."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    provider = otel_provider()
    engine = ryft_instrument.uninstrument(sa.create_engine("sqlite://"))
    instrumentor = SQLAlchemyInstrumentor()
    instrumentor.instrument(engine=engine, tracer_provider=provider, skip_dep_check=True)
    conn = engine.connect()

    def undo() -> None:
        conn.close()
        instrumentor.uninstrument()
        provider.shutdown()
        engine.dispose()

    return _loop([conn], statement), lambda: provider.force_flush(), undo


def run(quick: bool) -> dict[str, Any]:
    # Short rounds (~10 ms a variant), many of them: a round and the baseline's round it is paired with are close in
    # time, so a slow spell of the shared machine lands on both. (In one noisy hour, 1,200-statement rounds with the
    # same total gave per-interpreter results from 0.7 to 3.3 µs; these, from 1.6 to 2.4 µs.) The price: each round
    # starts with caches cold (``compare`` collects garbage before it), which put plain's median ~2.6 µs higher.
    n, rounds = (300, 3) if quick else (300, 161)
    statement = sa.text("SELECT 1")
    with endpoint() as server, delivering_to(server, **IDLE_EXPORTER):
        def engines() -> list[Any]:
            return [sa.create_engine("sqlite://") for _ in range(ENGINES)]

        plain_engines, control_engines = engines(), engines()
        ryft_engines = [ryft_instrument.instrument(engine) for engine in engines()]
        # ``instrument()`` (every engine; what RYFT_INSTRUMENT=1 and pytest --ryft use) covers an engine made after
        # it; the plain ones are left out with ``uninstrument(engine)``.
        ryft_instrument.instrument()
        global_engines = engines()
        for engine in plain_engines + control_engines:
            ryft_instrument.uninstrument(engine)
        groups = {"plain": plain_engines, "control": control_engines, "ryft": ryft_engines,
                  "ryft_every_engine": global_engines}
        conns = {name: [engine.connect() for engine in group] for name, group in groups.items()}
        # "control" is a second set of plain engines: its added_us is the noise floor of this run.
        variants = {name: _loop(group, statement) for name, group in conns.items()}
        flushes: list[Callable[[], object]] = [lambda: ryft_instrument.flush(30)]
        undo = None
        with_otel = installed("opentelemetry.sdk", "opentelemetry.instrumentation.sqlalchemy")
        if with_otel:
            # Instrumented last: OpenTelemetry also patches Engine.connect and create_engine process-wide.
            otel_loop, otel_flush, undo = _otel(statement)
            variants["opentelemetry"] = otel_loop
            flushes.append(otel_flush)

        def between() -> None:
            for flush in flushes:
                flush()

        try:
            result: dict[str, Any] = compare(variants, n, rounds, baseline="plain", between=between)
        finally:
            if undo is not None:
                undo()
            for group in conns.values():
                for conn in group:
                    conn.close()
            ryft_instrument.uninstrument()
        delivered = ryft_instrument.flush(30)
        result["statements_per_round"] = n
        result["rounds"] = rounds
        result["ryft_delivered"] = delivered and counters.value("sent") > 0
        result["sqlalchemy_version"] = sa.__version__
        if not with_otel:
            result["opentelemetry"] = "not installed"
        result["targets"] = {"sqlalchemy_added_us": result["ryft"]["added_us"],
                             "sqlalchemy_every_engine_added_us": result["ryft_every_engine"]["added_us"]}
        return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
