"""Shared fixtures: real database servers (skip on a laptop, fail under CI) and the loopback ingest server."""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

import ryft_instrument
from ryft_instrument import runtime
from ryft_instrument.testing import IngestServer

# .ci/run sets this: a test that needs a server which is absent fails instead of skipping.
REQUIRE_SERVICES = os.environ.get("RYFT_TEST_REQUIRE_SERVICES", "") == "1"

POSTGRES_DSN = os.environ.get("RYFT_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
POSTGRES_URL = os.environ.get("RYFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_KWARGS: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "",
                                  "database": "test"}


def missing(what: str) -> None:
    """Skip (or, under CI, fail) a test whose server is absent."""
    message = "%s is not available" % what
    if REQUIRE_SERVICES:
        pytest.fail(message + " (RYFT_TEST_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the default configuration with no hooks, and leaves none behind."""
    for name in list(os.environ):
        if name.startswith("RYFT_") and not name.startswith("RYFT_TEST_"):
            monkeypatch.delenv(name)
    runtime.reset_for_tests()
    yield
    ryft_instrument.uninstrument()
    runtime.reset_for_tests()


@pytest.fixture
def ingest(ryft_ingest_server: IngestServer) -> IngestServer:
    """The loopback Ingest API with the library delivering to it."""
    return ryft_ingest_server


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    try:
        import psycopg

        psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
    except Exception as exc:
        missing("PostgreSQL at %s (%s)" % (POSTGRES_DSN, exc))
    return POSTGRES_DSN


@pytest.fixture(scope="session")
def postgres_url(postgres_dsn: str) -> str:
    return POSTGRES_URL


@pytest.fixture(scope="session")
def mariadb_kwargs() -> dict[str, Any]:
    try:
        import pymysql

        pymysql.connect(connect_timeout=3, **MARIADB_KWARGS).close()
    except Exception as exc:
        missing("MariaDB at 127.0.0.1:3306 (%s)" % exc)
    return dict(MARIADB_KWARGS)
