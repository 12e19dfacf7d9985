"""pytest plugin (entry point ``ryft``): ``pytest --ryft`` profiles the database statements of every test (issue 7);
the fixtures ``ryft_queries``, ``ryft_assert_queries`` and ``ryft_ingest_server`` work with or without it.

pytest loads this module in every run of every project that has the package installed, so it is inert unless
``--ryft`` (or ini ``ryft = true``) is given: at import it needs only pytest and the standard library, and without
the option it registers its options, its marker and its fixtures, nothing else. With the option:

- ``Recording`` hooks every SQLAlchemy engine and the known DB-API drivers and adds ``profile.observe`` to the
  recorder's observers. Nothing leaves the process unless a token (or ``RYFT_OUTPUT``) is configured; then every
  record is tagged ``test:<nodeid>`` and ``run:<id>``.
- ``Profiler`` sends each test phase's statements to the test (``profile.route``), checks the budgets when the call
  phase ends (fail or warn), puts a per-phase summary on each TestReport as ``report.ryft`` (xdist serializes it
  with the report), collects them in ``pytest_runtest_logreport`` (on the xdist controller too; statements outside
  tests come back in each worker's ``workeroutput``), then prints the summary and writes the JSON and baseline.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Generator, Iterator, NamedTuple, Optional

import pytest

from . import bootstrap

if TYPE_CHECKING:
    from .profile import QueryLog
    from .testing import IngestServer

PHASES = pytest.StashKey[dict[str, list]]()
_LIMITS = pytest.StashKey["Limits"]()
_PROFILER = "ryft-profiler"
_ROUTER = "ryft-router"
_MARK_KEYS = frozenset(("max_queries", "max_similar", "max_db_time_ms", "count_transactions"))
_WHEN = ("setup", "call", "teardown")


class RyftWarning(pytest.PytestWarning):
    """A problem the ryft plugin reports without failing the run (a missing baseline)."""


class RyftBudgetWarning(RyftWarning):
    """A test exceeded a database statement budget under ``--ryft-mode=warn``."""


# -- options ---------------------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ryft", "ryft-instrument: database statements per test")

    def add(name: str, help_text: str, ini_type: str = "string", **kwargs: Any) -> None:
        flag = "--" + name.replace("_", "-")
        group.addoption(flag, dest=name, default=None, help="%s (ini: %s)" % (help_text, name), **kwargs)
        parser.addini(name, help_text, type=ini_type, default=False if ini_type == "bool" else "")  # type: ignore

    add("ryft", "profile every test's database statements", "bool", action="store_true")
    add("ryft_mode", "on a budget breach: fail the test (default) or warn", choices=("fail", "warn"))
    add("ryft_max_queries", "suite-wide budget: statements per test (call phase)", metavar="N")
    add("ryft_max_similar", "suite-wide budget: statements with the same fingerprint per test", metavar="N")
    add("ryft_count_transactions", "count BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE in counts and budgets", "bool",
        action="store_true")
    add("ryft_top", "how many tests and statement groups the summary lists (default 10)", metavar="N")
    add("ryft_json", "write the per-test profile as JSON to PATH", metavar="PATH")
    add("ryft_baseline", "fail (or warn) when a test runs more statements than in this baseline", metavar="PATH")
    add("ryft_save_baseline", "save this run's per-test statement counts as a baseline", metavar="PATH")
    add("ryft_run_id", "the run:<id> tag on records sent to Ryft (default: random)", metavar="ID")


def _value(config: pytest.Config, name: str) -> Any:
    """The command line's value, else the ini file's; None when neither says anything."""
    value = config.getoption(name)
    from_ini = value is None
    if from_ini:
        value = config.getini(name)
    if value == "" or value is None:
        return None
    if isinstance(value, str) and name in ("ryft_json", "ryft_baseline", "ryft_save_baseline"):
        base = config.rootpath if from_ini else config.invocation_params.dir
        return os.path.join(str(base), os.path.expanduser(value))
    return value


def _count(config: pytest.Config, name: str) -> Optional[int]:
    raw = _value(config, name)
    if raw is None:
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if value < 0:
        raise pytest.UsageError("--%s must be a whole number >= 0, got %r" % (name.replace("_", "-"), raw))
    return value


class Limits(NamedTuple):
    """A test's budgets (None: none), whether transaction control counts, and a marker problem to report."""

    budgets: dict[str, Optional[float]]
    count_transactions: bool
    problem: Optional[str] = None
    call_summary: dict[str, Any] = {}


@dataclass(frozen=True)
class Settings:
    mode: str = "fail"
    max_queries: Optional[int] = None
    max_similar: Optional[int] = None
    count_transactions: bool = False
    top: int = 10
    json: Optional[str] = None
    baseline: Optional[str] = None
    save_baseline: Optional[str] = None
    run_id: Optional[str] = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        mode = _value(config, "ryft_mode") or "fail"
        if mode not in ("fail", "warn"):
            raise pytest.UsageError("ryft_mode must be fail or warn, got %r" % mode)
        top = _count(config, "ryft_top")
        return cls(
            mode=mode,
            max_queries=_count(config, "ryft_max_queries"),
            max_similar=_count(config, "ryft_max_similar"),
            count_transactions=bool(_value(config, "ryft_count_transactions")),
            top=10 if top is None else top,
            json=_value(config, "ryft_json"),
            baseline=_value(config, "ryft_baseline"),
            save_baseline=_value(config, "ryft_save_baseline"),
            run_id=_value(config, "ryft_run_id"),
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ryft(max_queries=None, max_similar=None, max_db_time_ms=None, count_transactions=False): database "
        "statement budgets of this test's call phase, enforced by pytest --ryft",
    )
    if not _value(config, "ryft"):
        return
    profiler = Profiler(config, Settings.from_config(config))
    config.pluginmanager.register(profiler, _PROFILER)
    profiler.start()


# -- recording -------------------------------------------------------------------------------------------------------


class Recording:
    """Statement capture for the session: hooks in every SQLAlchemy engine and known DB-API driver, and
    ``profile.observe`` among the recorder's observers. ``stop`` undoes what ``start`` did.

    Recording in a test suite needs no destination, so the recorder's "recorded but going nowhere" warning is kept
    quiet while it runs. With ``tag_records`` the recorder's tag reader is ``profile.test_tags``, which adds the
    running test's tags on every thread (a ContextVar set by a hook would not reach thread pools)."""

    def __init__(self, tag_records: bool) -> None:
        self.tag_records = tag_records
        self.drivers: list[Any] = []
        self.started = False
        self.sent_before = 0

    def start(self) -> None:
        import ryft_instrument

        from . import counters, recorder, runtime, tagging
        from .config import ConfigError

        try:
            self.config = runtime.get_config()
        except ConfigError as exc:
            raise pytest.UsageError("ryft: %s" % exc) from None
        self.started = True
        self.sent_before = counters.value("sent")
        self.get_tags = recorder.get_tags
        if "sqlalchemy" not in self.config.instrument_disabled:
            ryft_instrument.instrument()
        if "sqlite3" not in self.config.instrument_disabled:
            import sqlite3  # noqa: F401 - cheap, and instrumented before test modules import it
        if self.tag_records:
            recorder.get_tags = _profile().test_tags
            tagging.scoped = True
        self.refresh()
        bootstrap.watch(self.imported)

    def refresh(self) -> None:
        """Before each test: instrument drivers imported since, and put back an observer a suite's reset removed."""
        from . import recorder

        recorder.add_observer(_profile().observe)
        for name in bootstrap.DRIVERS:
            module = sys.modules.get(name)
            if module is not None:
                self.imported(name, module)

    def imported(self, name: str, module: Any) -> None:
        """A driver module has just been imported (``bootstrap.watch``), or was before the session: instrument it
        before anything connects through it."""
        driver = bootstrap.DRIVERS.get(name)
        if driver is not None and module not in self.drivers and driver not in self.config.instrument_disabled:
            import ryft_instrument

            ryft_instrument.instrument_dbapi(module)
            self.drivers.append(module)

    def flush(self) -> int:
        """Deliver what was queued for Ryft, if anything is configured to receive it; returns the records sent."""
        from . import counters, recorder, runtime

        if not self.started:
            return 0
        if recorder.enabled:
            runtime.flush(self.config.shutdown_timeout)
        return counters.value("sent") - self.sent_before

    def stop(self) -> None:
        if not self.started:
            return
        import ryft_instrument

        from . import recorder

        self.started = False
        bootstrap.unwatch(self.imported)
        self.flush()
        profile = _profile()
        profile.route(None)
        recorder.remove_observer(profile.observe)
        if self.tag_records:
            recorder.get_tags = self.get_tags
        if not self.config.instrument:
            ryft_instrument.uninstrument()
            for module in self.drivers:
                ryft_instrument.uninstrument_dbapi(module)
        self.drivers.clear()


def _destinations() -> str:
    """Where delivered records went: the Ingest API's URL (Ryft's, or a loopback test server), the output file."""
    from . import runtime

    try:
        config = runtime.get_config()
    except Exception:
        return "the configured destinations"
    found = [config.ingest_url] if config.ingest_token else []
    if config.output:
        found.append("stderr" if config.output == "-" else config.output)
    return " and ".join(found) or "the configured destinations"


def _profile() -> Any:
    """``ryft_instrument.profile``, imported only when something records."""
    from . import profile

    return profile


def _new_phases() -> dict[str, list]:
    return {when: [] for when in _WHEN}


# -- routing statements to the running test --------------------------------------------------------------------------


class Router:
    """Sends each phase's statements to the test's lists, for the tests that keep them (those using a fixture)."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.outside: Optional[list] = None

    def phases(self, item: pytest.Item) -> Optional[dict[str, list]]:
        return item.stash.get(PHASES, None)

    def tags(self, item: Optional[pytest.Item]) -> tuple[str, ...]:
        return ()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase(item, "teardown"))

    def _phase(self, item: pytest.Item, when: str) -> Generator[None, Any, Any]:
        phases = self.phases(item)
        if phases is None:
            return (yield)
        if when == "setup":
            self.recording.refresh()
        profile = _profile()
        profile.route(phases[when], self.tags(item))
        try:
            result = yield
        finally:
            profile.route(self.outside, self.tags(None))
        self.phase_done(item, when)
        return result

    def phase_done(self, item: pytest.Item, when: str) -> None:
        if when == "teardown":
            del item.stash[PHASES]


def _fixture_recording(config: pytest.Config) -> None:
    """Without ``--ryft``, the first fixture that needs statements starts recording for the rest of the session."""
    manager = config.pluginmanager
    if manager.get_plugin(_PROFILER) is not None:
        return
    router = manager.get_plugin(_ROUTER)
    if router is None:
        recording = Recording(tag_records=False)
        recording.start()
        manager.register(Router(recording), _ROUTER)
        config.add_cleanup(recording.stop)
    else:
        router.recording.refresh()


_FIXTURES = ("ryft_queries", "ryft_assert_queries")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Without ``--ryft``: when a collected test uses a fixture that needs statements, recording starts now, before
    the first test's session fixtures open their connections (pytest-django's test database), not at that fixture."""
    if any(name in _FIXTURES for item in session.items for name in getattr(item, "fixturenames", ())):
        _fixture_recording(session.config)


def _count_transactions(config: pytest.Config) -> bool:
    return bool(_value(config, "ryft_count_transactions"))


# -- the profiler ----------------------------------------------------------------------------------------------------


class Profiler(Router):
    """``--ryft``: every test keeps its statements; budgets, reports, summary, JSON, baselines, xdist."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        super().__init__(Recording(tag_records=True))
        self.config = config
        self.settings = settings
        self.outside = []
        self.worker = hasattr(config, "workerinput")
        self.controller = not self.worker and config.getoption("dist", "no") not in ("no", None)
        worker_input = getattr(config, "workerinput", {})
        self.run_id = settings.run_id or worker_input.get("ryft_run_id") or uuid.uuid4().hex[:12]
        self.tests: dict[str, dict[str, Any]] = {}
        self.worker_outside: list[dict[str, Any]] = []
        self.sent = 0
        self.report: Optional[dict[str, Any]] = None
        self.baseline = self._load_baseline()

    def start(self) -> None:
        if not self.controller:
            self.recording.start()
            _profile().route(self.outside, self.tags(None))

    # -- phases and budgets

    def phases(self, item: pytest.Item) -> dict[str, list]:
        found = item.stash.get(PHASES, None)
        if found is None:
            found = item.stash[PHASES] = _new_phases()
            item.stash[_LIMITS] = self.limits(item)
        return found

    def tags(self, item: Optional[pytest.Item]) -> tuple[str, ...]:
        run = "run:%s" % self.run_id
        return (run,) if item is None else ("test:%s" % item.nodeid, run)

    def limits(self, item: pytest.Item) -> Limits:
        """The test's budgets (suite-wide options, then ``@pytest.mark.ryft`` from the farthest to the closest)."""
        budgets: dict[str, Any] = {
            "max_queries": self.settings.max_queries,
            "max_similar": self.settings.max_similar,
            "max_db_time_ms": None,
            "baseline": (self.baseline or {}).get(item.nodeid),
        }
        count_transactions = self.settings.count_transactions
        for mark in reversed(list(item.iter_markers("ryft"))):
            unknown = sorted(set(mark.kwargs) - _MARK_KEYS)
            if mark.args or unknown:
                return Limits(budgets, count_transactions, "@pytest.mark.ryft takes the keywords %s, got %s" % (
                    ", ".join(sorted(_MARK_KEYS)), ", ".join(unknown) or "positional arguments"))
            count_transactions = bool(mark.kwargs.get("count_transactions", count_transactions))
            for key, value in mark.kwargs.items():
                if key == "count_transactions":
                    continue
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                          or value < 0 or value != value):
                    return Limits(budgets, count_transactions, "@pytest.mark.ryft(%s=…) takes a number ≥ 0 or None, "
                                  "got %r" % (key, value))
                budgets[key] = value
        return Limits(budgets, count_transactions)

    def phase_done(self, item: pytest.Item, when: str) -> None:
        problem = item.stash[_LIMITS].problem
        if when == "setup" and problem:
            pytest.fail(problem, pytrace=False)
        if when != "call":
            return
        profile = _profile()
        limits = item.stash[_LIMITS]
        summary = profile.summarize(item.stash[PHASES]["call"], limits.count_transactions)
        found = profile.breaches(summary, limits.budgets)
        summary["breaches"] = [b._asdict() for b in found]
        item.stash[_LIMITS] = limits._replace(call_summary=summary)
        if not found:
            return
        message = profile.breach_message("ryft: database budget exceeded in %s" % item.nodeid, found, summary)
        if self.settings.mode == "fail":
            pytest.fail(message, pytrace=False)
        item.warn(RyftBudgetWarning(message))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        phases = item.stash.get(PHASES, None)
        if phases is not None:
            summary = item.stash[_LIMITS].call_summary if call.when == "call" else None
            if not summary:
                summary = _profile().summarize(phases[call.when], item.stash[_LIMITS].count_transactions)
                summary["breaches"] = []
            report.ryft = summary  # travels with the report, through xdist too
            if call.when == "teardown":
                del item.stash[PHASES]
                del item.stash[_LIMITS]
        return report

    # -- collecting (single process, or the xdist controller)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.worker:
            return
        entry = self.tests.setdefault(report.nodeid, {"outcome": "passed", "phases": {}})
        summary = getattr(report, "ryft", None)
        if summary is not None:
            entry["phases"][report.when] = summary
        if hasattr(report, "wasxfail"):
            entry["outcome"] = "xfailed" if report.skipped else "xpassed"
        elif report.when == "call":
            entry["outcome"] = report.outcome
        elif report.failed:
            entry["outcome"] = "error"
        elif report.skipped:
            entry["outcome"] = "skipped"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["ryft_run_id"] = self.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        found = getattr(node, "workeroutput", {}).get("ryft")
        if found:
            self.worker_outside.append(found["outside"])
            self.sent += found["sent"]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        sent = self.recording.flush()
        if self.worker:
            outside = _profile().summarize(self.outside, self.settings.count_transactions)
            self.config.workeroutput["ryft"] = {"outside": outside, "sent": sent}  # type: ignore[attr-defined]
            return
        self.sent += sent
        if not self.controller:
            self.worker_outside.append(_profile().summarize(self.outside, self.settings.count_transactions))
        self.report = self.build_report()
        if self.settings.json:
            _write_json(self.settings.json, self.report)
        if self.settings.save_baseline:
            self._save_baseline(self.settings.save_baseline)

    def pytest_unconfigure(self) -> None:
        self.recording.stop()

    # -- the report

    def build_report(self) -> dict[str, Any]:
        """``{"tests": [...], "totals": {...}}``, the shape of ``--ryft-json``."""
        tests = []
        totals: dict[str, Any] = {
            "run": self.run_id, "tests": len(self.tests), "queries": 0, "db_ms": 0.0, "failed": 0,
            "transactions": 0, "setup_queries": 0, "call_queries": 0, "teardown_queries": 0, "outside_queries": 0,
            "by_type": {}, "breaches": 0,
        }

        def add(phase: dict[str, Any], key: str) -> None:
            totals["queries"] += phase["queries"]
            totals[key] += phase["queries"]
            totals["db_ms"] += phase["db_ms"]
            totals["failed"] += len(phase["failures"])
            totals["transactions"] += phase["transactions"]
            for kind, n in phase["by_type"].items():
                totals["by_type"][kind] = totals["by_type"].get(kind, 0) + n

        for nodeid, entry in self.tests.items():
            phases = entry["phases"]
            call = phases.get("call") or _EMPTY
            tests.append({
                "nodeid": nodeid,
                "outcome": entry["outcome"],
                "queries": call["queries"],
                "db_ms": call["db_ms"],
                "failed": len(call["failures"]),
                "by_type": call["by_type"],
                "phases": {when: {"queries": p["queries"], "db_ms": p["db_ms"], "failed": len(p["failures"]),
                                  "transactions": p["transactions"]} for when, p in phases.items()},
                "groups": call["groups"],
            })
            for when, phase in phases.items():
                add(phase, "%s_queries" % when)
            totals["breaches"] += bool(call.get("breaches"))
        for outside in self.worker_outside:
            add(outside, "outside_queries")
        totals["db_ms"] = round(totals["db_ms"], 3)
        if self.baseline is not None:
            counts = [(t["queries"], self.baseline.get(t["nodeid"])) for t in tests if "call" in t["phases"]]
            totals["baseline"] = {
                "over": sum(1 for n, b in counts if b is not None and n > b),
                "under": sum(1 for n, b in counts if b is not None and n < b),
                "new": sum(1 for _, b in counts if b is None),
            }
        return {"tests": tests, "totals": totals}

    def pytest_report_header(self, config: pytest.Config) -> str:
        return "ryft: profiling database statements (mode %s, run %s)" % (self.settings.mode, self.run_id)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None:
            return
        terminalreporter.write_sep("=", "ryft: database statements")
        for line in self.summary_lines(self._width()):
            terminalreporter.write_line(line)

    def _width(self) -> int:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        width = getattr(reporter, "_tw", None)
        return max(80, getattr(width, "fullwidth", 120))

    def summary_lines(self, width: int) -> list[str]:
        profile = _profile()
        assert self.report is not None
        totals, top = self.report["totals"], self.settings.top
        lines = [
            "%d statements in %d tests, %.3f ms of database time, %d failed (run %s)" % (
                totals["queries"], totals["tests"], totals["db_ms"], totals["failed"], totals["run"]),
            "by phase: call %d, setup %d, teardown %d, outside tests %d; transaction control %d (%s)" % (
                totals["call_queries"], totals["setup_queries"], totals["teardown_queries"],
                totals["outside_queries"], totals["transactions"],
                "counted" if self.settings.count_transactions else "not counted"),
        ]
        if totals["by_type"]:
            lines.append("by type: " + ", ".join("%s %d" % kv for kv in totals["by_type"].items()))
        heaviest = sorted((t for t in self.report["tests"] if t["queries"]), key=lambda t: -t["queries"])[:top]
        if heaviest:
            lines.append("")
            lines.append("tests with the most statements (call phase), each with its largest group of similar ones:")
            lines.append("  statements        db ms  test")
            for test in heaviest:
                lines.append("%12d %12.3f  %s" % (test["queries"], test["db_ms"], test["nodeid"]))
                largest = test["groups"][0]
                head = "%27s×%d  %s  " % ("", largest["count"], largest["origin"] or "(origin unknown)")
                lines.append(head + profile.clip(largest["fingerprint"], max(40, width - len(head))))
        slowest = self._slowest_groups()[:top]
        if slowest:
            lines.append("")
            lines.append("slowest statement groups (all tests and phases):")
            lines.append("       db ms       count  origin and statement")
            for g in slowest:
                head = "%12.3f %11d  %s  " % (g["db_ms"], g["count"], g["origin"] or "(origin unknown)")
                lines.append(head + profile.clip(g["fingerprint"], max(40, width - len(head))))
        failures = [(t["nodeid"], when, f) for t in self.report["tests"]
                    for when, p in self.tests[t["nodeid"]]["phases"].items() for f in p["failures"]]
        if failures:
            lines.append("")
            lines.append("failed statements:")
            for nodeid, when, failure in failures[:max(top, 20)]:
                where = nodeid if when == "call" else "%s (%s)" % (nodeid, when)
                lines.append("  %s  %s" % (where, failure["origin"] or "(origin unknown)"))
                lines.append("      %s" % profile.clip(failure["error"] or "", width - 6))
                lines.append("      %s" % profile.clip(failure["query"], width - 6))
            if len(failures) > max(top, 20):
                lines.append("  … %d more" % (len(failures) - max(top, 20)))
        breached = [(nodeid, e["phases"]["call"]["breaches"]) for nodeid, e in self.tests.items()
                    if e["phases"].get("call", _EMPTY).get("breaches")]
        if breached:
            lines.append("")
            lines.append("budget breaches (%s):" % ("failed" if self.settings.mode == "fail" else "warned"))
            for nodeid, found in breached:
                breaches = [profile.Breach(**b) for b in found]
                lines.append("  %s  %s" % (nodeid, "; ".join(profile.breach_lines(breaches))))
        if "baseline" in totals:
            b = totals["baseline"]
            lines.append("")
            lines.append("baseline %s: %d tests over, %d under, %d not in it" % (
                self.settings.baseline, b["over"], b["under"], b["new"]))
        if self.sent:
            lines.append("%d records delivered to %s, tagged run:%s and test:<nodeid>" % (
                self.sent, _destinations(), self.run_id))
        if self.settings.json:
            lines.append("JSON profile written to %s" % self.settings.json)
        if self.settings.save_baseline:
            lines.append("baseline saved to %s" % self.settings.save_baseline)
        return lines

    def _slowest_groups(self) -> list[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        phases = [p for e in self.tests.values() for p in e["phases"].values()] + self.worker_outside
        for phase in phases:
            for g in phase["groups"]:
                found = merged.get(g["fingerprint"])
                if found is None:
                    merged[g["fingerprint"]] = dict(g, best=g["count"])
                    continue
                found["count"] += g["count"]
                found["db_ms"] += g["db_ms"]
                if g["count"] > found["best"] and g["origin"]:
                    found["origin"], found["best"] = g["origin"], g["count"]
        return sorted(merged.values(), key=lambda g: -g["db_ms"])

    # -- baselines

    def _load_baseline(self) -> Optional[dict[str, int]]:
        path = self.settings.baseline
        if path is None:
            return None
        if not os.path.exists(path):
            if not self.worker:
                self.config.issue_config_time_warning(RyftWarning(
                    "ryft: baseline %s not found, nothing is compared; create it with --ryft-save-baseline=%s"
                    % (path, path)), stacklevel=2)
            return None
        try:
            return _read_baseline(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise pytest.UsageError("ryft: cannot read the baseline %s: %s" % (path, exc)) from None

    def _save_baseline(self, path: str) -> None:
        counts: dict[str, int] = {}
        if os.path.exists(path):
            try:
                counts.update(_read_baseline(path))
            except (OSError, ValueError, KeyError, TypeError):
                pass
        assert self.report is not None
        counts.update((t["nodeid"], t["queries"]) for t in self.report["tests"] if "call" in t["phases"])
        _write_json(path, {"ryft_baseline": 1, "tests": dict(sorted(counts.items()))})


_EMPTY: dict[str, Any] = {"queries": 0, "db_ms": 0.0, "transactions": 0, "by_type": {}, "groups": [],
                          "failures": [], "breaches": []}


def _read_baseline(path: str) -> dict[str, int]:
    """A saved baseline (``{"tests": {nodeid: count}}``) or a ``--ryft-json`` report."""
    with open(path, encoding="utf-8") as f:
        tests = json.load(f)["tests"]
    if isinstance(tests, dict):
        return {str(k): int(v) for k, v in tests.items()}
    return {str(t["nodeid"]): int(t["queries"]) for t in tests}


def _write_json(path: str, data: Any) -> None:
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


# -- fixtures --------------------------------------------------------------------------------------------------------


@pytest.fixture
def ryft_queries(request: pytest.FixtureRequest) -> QueryLog:
    """The database statements of this test's call phase, live: ``.count``, ``.records``, ``.by_type()``,
    ``.similar()``, ``.failed``, ``.slowest(n)``. Works without ``--ryft``."""
    _fixture_recording(request.config)
    phases = request.node.stash.setdefault(PHASES, _new_phases())
    return _profile().QueryLog(phases["call"], _count_transactions(request.config))


@pytest.fixture
def ryft_assert_queries(request: pytest.FixtureRequest) -> Callable[..., ContextManager[QueryLog]]:
    """``with ryft_assert_queries(max=3): ...`` fails the test when the block runs more statements (also
    ``max_similar=``, ``max_db_time_ms=``); the block's ``QueryLog`` is the ``as`` target. Works without ``--ryft``."""
    _fixture_recording(request.config)
    count_transactions = _count_transactions(request.config)

    @contextmanager
    def assert_queries(max: Optional[int] = None, *, max_similar: Optional[int] = None,  # noqa: A002
                       max_db_time_ms: Optional[float] = None) -> Iterator[QueryLog]:
        __tracebackhide__ = True
        profile = _profile()
        with profile.tap() as items:
            yield profile.QueryLog(items, count_transactions)
        summary = profile.summarize(items, count_transactions)
        limits = {"max_queries": max, "max_similar": max_similar, "max_db_time_ms": max_db_time_ms}
        found = profile.breaches(summary, limits)
        if found:
            message = profile.breach_message("ryft_assert_queries: the block exceeded its budget", found, summary,
                                             names={"max_queries": "max"})
            pytest.fail(message)

    return assert_queries


@pytest.fixture
def ryft_ingest_server() -> Iterator[IngestServer]:
    """A loopback Ingest API, with ryft_instrument configured to deliver to it; restored afterwards."""
    from . import runtime
    from .testing import IngestServer

    previous = runtime.get_config()
    with IngestServer() as server:
        runtime.configure(token=server.token, url=server.url, flush_interval=0.05)
        try:
            yield server
        finally:
            runtime.shutdown(2.0)
            runtime.apply(previous)
