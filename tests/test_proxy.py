"""Delivery through an HTTPS proxy and with a CA bundle of the user's: the standard variables (HTTPS_PROXY,
ALL_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE), a real CONNECT proxy and a real HTTPS Ingest API on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import trustme
from proxy_server import ConnectProxy

import ryft_instrument
from ryft_instrument import runtime
from ryft_instrument.testing import IngestServer
from ryft_instrument.transport import NetworkRoute, mask_url, network_route

TOKEN = "proxy-test-token-0123456789"
SECRET = "pr0xy-s3cret"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: the developer's own proxy variables would change every answer here."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, str]]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    yield authority, str(path)


@pytest.fixture
def https_server(ca: tuple[trustme.CA, str]) -> Iterator[IngestServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca[0].issue_cert("127.0.0.1").configure_cert(context)
    with IngestServer(TOKEN, ssl_context=context) as server:
        yield server


def run_statements(server: IngestServer, tag: str, count: int = 3) -> bool:
    """Statements on an instrumented SQLite engine, delivered to ``server``; whether flush saw them all out."""
    runtime.configure(token=server.token, url=server.url, flush_interval=0.05)
    engine = ryft_instrument.instrument(sa.create_engine("sqlite://"))
    with engine.connect() as conn:
        for i in range(count):
            conn.execute(sa.text("SELECT %d /* %s */" % (i, tag)))
    delivered = ryft_instrument.flush(2)
    runtime.shutdown(1.0)
    return delivered


def queries(server: IngestServer, tag: str) -> list[str]:
    return sorted(r["query"] for r in server.records if tag in r["query"])


def test_records_go_through_the_proxy_with_its_credentials(
        https_server: IngestServer, ca: tuple[trustme.CA, str], monkeypatch: pytest.MonkeyPatch) -> None:
    with ConnectProxy(credentials="ryft:" + SECRET) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url("ryft:" + SECRET))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca[1])
        assert run_statements(https_server, "via-proxy")
    assert queries(https_server, "via-proxy") == ["SELECT %d /* via-proxy */" % i for i in range(3)]
    assert proxy.connects() and set(proxy.connects()) == {"127.0.0.1:%s" % urlsplit(https_server.url).port}
    # The proxy sees where we go, never the token: it travels inside the TLS tunnel.
    assert all(TOKEN.encode() not in head for head in proxy.heads)


def test_without_the_ca_bundle_the_endpoint_is_not_trusted(
        https_server: IngestServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ryft_instrument")
    assert not run_statements(https_server, "untrusted", count=1)
    assert https_server.records == []
    assert "delivery failed (TLS: [SSL: CERTIFICATE_VERIFY_FAILED]" in caplog.text
    assert "no REQUESTS_CA_BUNDLE set" in caplog.text


def test_no_proxy_exempts_the_endpoint(
        https_server: IngestServer, ca: tuple[trustme.CA, str], monkeypatch: pytest.MonkeyPatch) -> None:
    with ConnectProxy() as proxy:
        monkeypatch.setenv("https_proxy", proxy.url())
        monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca[1])
        assert run_statements(https_server, "exempt")
    assert len(queries(https_server, "exempt")) == 3
    assert proxy.heads == []


def test_plain_http_to_loopback_never_goes_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``http://`` endpoint (loopback only) would show the token to a proxy: proxy variables do not apply."""
    with ConnectProxy() as proxy, IngestServer(TOKEN) as server:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url())
        assert run_statements(server, "loopback")
    assert len(queries(server, "loopback")) == 3
    assert proxy.heads == []


def test_a_proxy_refusing_our_credentials_is_logged_without_them(
        https_server: IngestServer, ca: tuple[trustme.CA, str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ryft_instrument")
    with ConnectProxy(credentials="ryft:" + SECRET) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url("ryft:wrong-" + SECRET))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca[1])
        assert not run_statements(https_server, "refused", count=1)
    assert https_server.records == []
    assert "delivery failed (proxy http://***@127.0.0.1:%d (from HTTPS_PROXY): Tunnel connection failed: 407" \
        % proxy.port in caplog.text
    assert SECRET not in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize(("environ", "proxy", "variable"), [
    ({"HTTPS_PROXY": "http://p:1"}, "http://p:1", "HTTPS_PROXY"),
    ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "http://lower:1", "https_proxy"),
    ({"ALL_PROXY": "http://all:1"}, "http://all:1", "ALL_PROXY"),
    ({"HTTPS_PROXY": "http://p:1", "ALL_PROXY": "http://all:1"}, "http://p:1", "HTTPS_PROXY"),
    ({"HTTP_PROXY": "http://p:1"}, None, None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".ryft.io"}, None, None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, None, None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.example"}, "http://p:1", "HTTPS_PROXY"),
])
def test_network_route_reads_the_standard_variables(environ: dict[str, str], proxy: str, variable: str) -> None:
    route = network_route("https://ingest.ryft.io/ingest/push/queries", environ)
    assert (route.proxy, route.proxy_variable) == (proxy, variable)


def test_network_route_ca_bundle_and_plain_http() -> None:
    environ = {"HTTPS_PROXY": "http://p:1", "CURL_CA_BUNDLE": "/curl.pem", "REQUESTS_CA_BUNDLE": "/requests.pem"}
    assert network_route("http://127.0.0.1:9/x", environ) == NetworkRoute(
        ca_bundle="/requests.pem", ca_bundle_variable="REQUESTS_CA_BUNDLE")
    assert network_route("https://h/x", {"CURL_CA_BUNDLE": "/curl.pem"}).ca_bundle == "/curl.pem"


def test_mask_url_hides_credentials() -> None:
    assert mask_url("http://user:pa%40ss@proxy:3128") == "http://***@proxy:3128"
    assert mask_url("connect to http://u:p@h:1 failed; http://v@k:2") == "connect to http://***@h:1 failed; http://***@k:2"
    assert mask_url("http://proxy:3128") == "http://proxy:3128"


def check(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES and k not in PROXY_VARIABLES}
    return subprocess.run([sys.executable, "-m", "ryft_instrument.cli", "check", *args], env=dict(environ, **env),
                          capture_output=True, text=True, timeout=60)


def test_check_names_the_proxy_and_sends_through_it(https_server: IngestServer, ca: tuple[trustme.CA, str]) -> None:
    with ConnectProxy(credentials="ryft:" + SECRET) as proxy:
        result = check("--send-test-record", env={
            "RYFT_INGEST_TOKEN": TOKEN, "RYFT_INGEST_URL": https_server.url,
            "HTTPS_PROXY": proxy.url("ryft:" + SECRET), "REQUESTS_CA_BUNDLE": ca[1]})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    CA bundle: %s (from REQUESTS_CA_BUNDLE)" % ca[1] in result.stdout
    assert "ok    proxy: http://***@127.0.0.1:%d (from HTTPS_PROXY" % proxy.port in result.stdout
    assert "ok    TCP: connected to the proxy 127.0.0.1 port %d" % proxy.port in result.stdout
    assert "test record accepted (HTTP 200" in result.stdout
    assert SECRET not in result.stdout + result.stderr and TOKEN not in result.stdout + result.stderr
    assert len(https_server.records) == 1


def test_check_verifies_tls_against_the_ca_bundle(https_server: IngestServer, ca: tuple[trustme.CA, str],
                                                 tmp_path: Path) -> None:
    env = {"RYFT_INGEST_TOKEN": TOKEN, "RYFT_INGEST_URL": https_server.url}
    trusted = check(env=dict(env, REQUESTS_CA_BUNDLE=ca[1]))
    assert trusted.returncode == 0, trusted.stdout
    assert "ok    TLS: " in trusted.stdout and "certificate for 127.0.0.1 verified" in trusted.stdout
    untrusted = check(env=env)
    assert untrusted.returncode == 1
    assert "FAIL  TLS: the certificate of 127.0.0.1 is not trusted by the CA bundle of requests" in untrusted.stdout
    missing = check(env=dict(env, REQUESTS_CA_BUNDLE=str(tmp_path / "absent.pem")))
    assert missing.returncode == 1
    assert "FAIL  CA bundle: REQUESTS_CA_BUNDLE names %s, which does not exist" % (tmp_path / "absent.pem") \
        in missing.stdout
