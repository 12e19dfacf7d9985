"""The public API of SPEC §7: every name is there and callable, whatever submodules were imported first; and what
``instrument_dbapi`` does with a module it cannot instrument."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from typing import Any

import pytest

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


def test_async_driver_modules_are_left_working(caplog: pytest.LogCaptureFixture) -> None:
    """asyncpg and aiosqlite are not DB-API modules (a coroutine function; an awaitable connection): the generic
    wrapper leaves them as they are, and says so, instead of breaking ``await connect(...)``."""
    import aiosqlite
    import asyncpg

    caplog.set_level(logging.WARNING, logger="ryft_instrument")
    connect = asyncpg.connect
    ryft_instrument.instrument_dbapi(asyncpg)
    ryft_instrument.instrument_dbapi(aiosqlite)
    try:
        assert asyncpg.connect is connect

        async def main() -> Any:
            async with aiosqlite.connect(":memory:") as db, db.execute("SELECT 1") as cursor:
                first = await cursor.fetchone()
            db = await aiosqlite.connect(":memory:")
            try:
                return first, await (await db.execute("SELECT 2")).fetchone()
            finally:
                await db.close()

        assert asyncio.run(main()) == ((1,), (2,))
    finally:
        ryft_instrument.uninstrument_dbapi(aiosqlite)
        ryft_instrument.uninstrument_dbapi(asyncpg)
    assert "asyncpg is not a DB-API module (its connect() is a coroutine function)" in caplog.text
    assert "aiosqlite.core.Connection is not a DB-API connection (awaitable)" in caplog.text
