"""Configuration: every bad value is one clear error naming the variable, at configuration time."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import sqlalchemy as sa

import ryft_instrument
from ryft_instrument import runtime
from ryft_instrument.config import DEFAULT_URL, ConfigError, from_env
from ryft_instrument.testing import IngestServer


def test_defaults_match_the_spec() -> None:
    config = from_env({})
    assert config.ingest_url == DEFAULT_URL
    assert (config.batch_size, config.flush_interval, config.queue_size) == (500, 1.0, 10000)
    assert (config.sample_rate, config.max_query_length, config.shutdown_timeout) == (1.0, 65536, 2.0)
    assert config.ingest_token is None and not config.disabled and not config.redact_literals


def test_environment_values_are_parsed() -> None:
    config = from_env({
        "RYFT_INGEST_TOKEN": "tok", "RYFT_TAGS": "team:data, env:prod,", "RYFT_SERVICE": "billing",
        "RYFT_SAMPLE_RATE": "0.25", "RYFT_BATCH_SIZE": "100", "RYFT_FLUSH_INTERVAL": "0.5",
        "RYFT_INSTRUMENT_DISABLED": "SQLite3,duckdb", "RYFT_COMPRESSION": "gzip", "RYFT_DISABLED": "true",
        "RYFT_INGEST_URL": "http://127.0.0.1:9/x",
    })
    assert config.all_tags() == ("team:data", "env:prod", "service:billing")
    assert config.sample_rate == 0.25 and config.batch_size == 100 and config.flush_interval == 0.5
    assert config.instrument_disabled == frozenset({"sqlite3", "duckdb"})
    assert config.compression == "gzip" and config.disabled


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RYFT_FLUSH_INTERVAL", "soon", "RYFT_FLUSH_INTERVAL must be a number"),
        ("RYFT_FLUSH_INTERVAL", "0", "RYFT_FLUSH_INTERVAL must be a positive number"),
        ("RYFT_SAMPLE_RATE", "1.5", "RYFT_SAMPLE_RATE must be between 0 and 1"),
        ("RYFT_BATCH_SIZE", "ten", "RYFT_BATCH_SIZE must be a whole number"),
        ("RYFT_INGEST_URL", "http://ingest.example.com/x", "RYFT_INGEST_URL must use https://"),
        ("RYFT_INGEST_URL", "ftp://127.0.0.1/x", "RYFT_INGEST_URL must be an http(s) URL"),
        ("RYFT_REDACT_LITERALS", "maybe", "RYFT_REDACT_LITERALS must be 1/true or 0/false"),
        ("RYFT_COMPRESSION", "zstd", "RYFT_COMPRESSION must be 'gzip' or off"),
        ("RYFT_FLUSH_INTERVAL", "inf", "RYFT_FLUSH_INTERVAL must be between 0 and 3600"),
        ("RYFT_INGEST_TOKEN", "abc\u2026def", "RYFT_INGEST_TOKEN contains characters outside ASCII"),
        ("RYFT_INGEST_TOKEN", "\u201cabcdef\u201d", "RYFT_INGEST_TOKEN contains characters outside ASCII"),
        ("RYFT_INSTRUMENT_DISABLED", "sqlite,duckdb", "RYFT_INSTRUMENT_DISABLED names unknown integration(s) sqlite;"),
        ("RYFT_OUTPUT", "/nonexistent-dir/out.jsonl", "RYFT_OUTPUT: cannot write /nonexistent-dir/out.jsonl: "
                                                    "directory /nonexistent-dir does not exist"),
        ("RYFT_OUTPUT", "/tmp", "RYFT_OUTPUT: cannot write /tmp: it is a directory"),
    ],
)
def test_bad_values_are_one_clear_error(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_env({variable: value})
    message = str(info.value)
    assert message.startswith(says) and "\n" not in message


def test_bad_environment_fails_at_instrument_time_not_in_the_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RYFT_FLUSH_INTERVAL", "abc")
    engine = sa.create_engine("sqlite://")
    with pytest.raises(ConfigError, match="RYFT_FLUSH_INTERVAL"):
        ryft_instrument.instrument(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_configure_checks_keywords() -> None:
    with pytest.raises(ConfigError, match="unknown option 'tokn'"):
        ryft_instrument.configure(tokn="x")
    with pytest.raises(ConfigError, match=r"url \(RYFT_INGEST_URL\) must use https://"):
        ryft_instrument.configure(url="http://10.1.2.3/ingest")
    config = ryft_instrument.configure(token="abc", tags=["a", "b"], sample_rate=0.5)
    assert config.ingest_token == "abc" and config.tags == ("a", "b") and config.sample_rate == 0.5
    assert ryft_instrument.configure(sample_rate=None).sample_rate == 1.0


def test_the_token_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    token = "rk_live_SUPERSECRET_0123456789"
    config = ryft_instrument.configure(token=token)
    assert token not in repr(config) and "6789" in repr(config)
    caplog.set_level(logging.DEBUG, logger="ryft_instrument")
    with IngestServer(token="another-token") as server:
        ryft_instrument.configure(url=server.url, flush_interval=0.05)
        engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert not ryft_instrument.flush(5)
    assert ryft_instrument.stats()["dropped_token_refused"] == 1
    assert caplog.records, "a refused token is logged"
    assert all(token not in r.getMessage() for r in caplog.records)
    assert any("RYFT_INGEST_TOKEN" in r.getMessage() for r in caplog.records)


def test_bad_environment_in_a_fresh_process_is_one_line() -> None:
    code = "import ryft_instrument; ryft_instrument.instrument()"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={"RYFT_SAMPLE_RATE": "lots", "PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "ryft_instrument.config.ConfigError: RYFT_SAMPLE_RATE must be a number, got 'lots'"
    )


def test_disabled_switches_everything_off(monkeypatch: pytest.MonkeyPatch, ingest: IngestServer) -> None:
    runtime.configure(disabled=True)
    engine = sa.create_engine("sqlite://")
    assert ryft_instrument.instrument(engine) is engine
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    runtime.configure(disabled=False)
    assert ryft_instrument.flush(2)
    assert ingest.records == []


def test_the_integration_names_are_the_automatic_switchs() -> None:
    from ryft_instrument.bootstrap import TARGETS
    from ryft_instrument.config import INTEGRATIONS

    assert set(INTEGRATIONS) == set(TARGETS.values())
