"""``pytest --ryft``: what the plugin adds per statement on the test's thread, and what the analysis after each
test costs per statement.

SQLAlchemy ``SELECT 1`` on SQLite, three ways: a plain engine; an instrumented engine with nothing observing (the
library's own cost, no destination configured: what ``--ryft`` builds on); and the same engine with the plugin's
observer routing each statement to the running test, walking the frames for its origin and tagging it
(``--ryft`` mode, no token). ``plugin_added_us`` is the plugin's own share; ``analysis_us_per_statement`` is
``profile.summarize`` (classification, fingerprint, grouping) at the end of a test, per statement.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

import ryft_instrument
from ryft_instrument import profile, recorder, runtime

from ._common import Timed, compare


def _loop(conn: Any, statement: Any, observing: bool, sink: list[Any]) -> Timed:
    execute = conn.execute

    def timed(n: int) -> float:
        if observing:
            recorder.add_observer(profile.observe)
        else:
            recorder.remove_observer(profile.observe)
        recorder.get_tags = profile.test_tags if observing else profile.current_tags.get
        sink.clear()
        start = time.thread_time()
        for _ in range(n):
            execute(statement).scalar()
        return time.thread_time() - start

    return timed


def _analysis(statements: int) -> float:
    """µs per statement for ``summarize`` over a test's worth of statements (an N+1 and a few one-offs)."""
    items = [("SELECT name FROM users WHERE id = %d" % (i % 50), 0.0001, None, (__file__, 10 + i % 3))
             for i in range(statements)]
    items += [("SELECT %d AS one_off" % i, 0.0001, None, (__file__, 20)) for i in range(20)]
    profile.describe.cache_clear()
    start = time.thread_time()
    profile.summarize(items)
    return (time.thread_time() - start) / len(items) * 1e6


def run(quick: bool) -> dict[str, Any]:
    n, rounds = (300, 3) if quick else (4000, 21)
    statement = sa.text("SELECT 1")
    runtime.reset_for_tests()
    plain_engine = sa.create_engine("sqlite://")
    ryft_engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    recorder.no_destination = False
    get_tags = recorder.get_tags
    sink: list[Any] = []
    profile.route(sink, ("test:bench.py::test_x", "run:bench"))
    plain, ours = plain_engine.connect(), ryft_engine.connect()
    try:
        result: dict[str, Any] = compare({
            "plain": _loop(plain, statement, False, sink),
            "instrumented": _loop(ours, statement, False, sink),
            "ryft_plugin": _loop(ours, statement, True, sink),
        }, n, rounds, baseline="plain")
        result["plugin_added_us"] = round(result["ryft_plugin"]["added_us"] - result["instrumented"]["added_us"], 3)
        result["observed"] = len(sink) == n
    finally:
        profile.route(None)
        recorder.get_tags = get_tags
        plain.close()
        ours.close()
        ryft_instrument.uninstrument()
        runtime.reset_for_tests()
    result["analysis_us_per_statement"] = round(_analysis(200 if quick else 5000), 3)
    result["statements_per_round"] = n
    result["rounds"] = rounds
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
