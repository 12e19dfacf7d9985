"""The public API of SPEC §7: every name is there and callable, whatever submodules were imported first."""

from __future__ import annotations

import importlib
import pkgutil

import ryft_instrument

PUBLIC = [
    "instrument", "uninstrument", "instrument_connection", "instrument_dbapi", "uninstrument_dbapi", "configure",
    "tags", "flush", "shutdown", "stats", "query_type", "fingerprint",
]


def test_public_functions_survive_importing_every_submodule() -> None:
    for module in pkgutil.walk_packages(ryft_instrument.__path__, "ryft_instrument."):
        if module.name.endswith(("pytest_plugin", "__main__")):
            continue
        importlib.import_module(module.name)
    for name in PUBLIC:
        assert callable(getattr(ryft_instrument, name)), name
    assert ryft_instrument.fingerprint("SELECT 1 WHERE a IN (1, 2)") == ryft_instrument.fingerprint(
        "SELECT 7 WHERE a IN (3)"
    )
    assert ryft_instrument.query_type("select 1") == "SELECT"
    assert set(ryft_instrument.stats()) >= {"recorded", "sent", "retried", "queued", "dropped_queue_full"}
    assert issubclass(ryft_instrument.ConfigError, ValueError)
