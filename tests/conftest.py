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

def _default_postgres_url() -> str:
    """psycopg 3 where this SQLAlchemy has its dialect (2.0+), else psycopg2 (SQLAlchemy 1.4)."""
    import importlib.util

    has_psycopg = importlib.util.find_spec("sqlalchemy.dialects.postgresql.psycopg") is not None
    return "postgresql+%s://postgres@127.0.0.1:5432/test" % ("psycopg" if has_psycopg else "psycopg2")


POSTGRES_URL = os.environ.get("RYFT_TEST_POSTGRES_URL") or _default_postgres_url()
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
    """A SQLAlchemy URL for the PostgreSQL server (psycopg 3 on SQLAlchemy 2, psycopg2 on 1.4)."""
    return POSTGRES_URL


def with_driver(url: str, driver: str) -> str:
    """``url`` with another driver (``asyncpg``, ``psycopg_async``); skips when this SQLAlchemy lacks it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import NoSuchModuleError

    parsed = make_url(url)
    changed = parsed.set(drivername="%s+%s" % (parsed.get_backend_name(), driver))
    try:
        changed.get_dialect()
    except NoSuchModuleError:
        pytest.skip("this SQLAlchemy has no %s dialect" % driver)
    return changed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def mariadb_kwargs() -> dict[str, Any]:
    try:
        import pymysql

        pymysql.connect(connect_timeout=3, **MARIADB_KWARGS).close()
    except Exception as exc:
        missing("MariaDB at 127.0.0.1:3306 (%s)" % exc)
    return dict(MARIADB_KWARGS)
