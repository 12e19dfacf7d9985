"""``ryft-instrument check``: the effective configuration (token masked), validated, and the endpoint tested.

DNS, TCP and TLS are tried step by step so that a failure names the layer that failed (a proxy-less egress rule, a
TLS-intercepting middlebox, a typo in the host); through a proxy, DNS and TCP to the proxy. Nothing reaches the
Ingest API unless ``--send-test-record`` asks for one record, which then shows the API's own answer (a refused token,
for instance).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import threading
import time
from dataclasses import fields
from typing import Any, Callable, Optional
from urllib.parse import SplitResult, urlsplit

from ._version import __version__
from .config import Config, env_name, from_env, mask_token
from .context import make_context, user_agent
from .record import RecordBuilder
from .schema import validate_record
from .transport import NetworkRoute, mask_url, network_route

TEST_TAG = "ryft-instrument:check"
TEST_QUERY = "SELECT 1 /* ryft-instrument check */"
_LIBRARIES = ("sqlalchemy", "psycopg", "psycopg2", "pymysql", "asyncpg", "aiosqlite", "duckdb", "trino", "wrapt",
              "requests")


class Checks:
    """Collects ``ok`` / ``WARN`` / ``FAIL`` / ``skip`` lines and counts the failures."""

    def __init__(self) -> None:
        self.failures = 0

    def line(self, status: str, text: str) -> None:
        if status == "FAIL":
            self.failures += 1
        print("  %-4s  %s" % (status, text))


def run_check(*, send_test_record: bool = False, timeout: float = 5.0) -> int:
    """Print the configuration and the checks; the exit status (1 if anything failed)."""
    config = from_env()
    print("ryft-instrument %s, Python %s; %s" % (__version__, sys.version.split()[0], _installed()))
    print("\nConfiguration (RYFT_* environment variables; * = set)")
    for name, shown, is_set in describe_config(config):
        print("  %s %-26s %s" % ("*" if is_set else " ", name, shown))
    print("\nChecks")
    checks = Checks()
    checks.line("ok", "configuration is valid")
    _destinations(config, checks)
    reached = _reachability(config.ingest_url, network_route(config.ingest_url), timeout, checks)
    if not send_test_record:
        checks.line("skip", "no record sent (--send-test-record sends one)")
    elif not config.ingest_token:
        checks.line("FAIL", "--send-test-record needs RYFT_INGEST_TOKEN")
    elif reached:
        _send_test_record(config, timeout, checks)
    else:
        checks.line("skip", "test record not sent: the endpoint is not reachable")
    print("\n%s" % ("all checks passed" if not checks.failures else "%d problem%s found" % (
        checks.failures, "" if checks.failures == 1 else "s")))
    return 1 if checks.failures else 0


def describe_config(config: Config) -> list[tuple[str, str, bool]]:
    """``(variable, value as shown, set in the environment)`` for every setting; the token is masked."""
    rows = []
    for f in fields(config):
        if f.name == "before_send":
            continue
        name = env_name(f.name)
        value = getattr(config, f.name)
        if f.name == "ingest_token":
            shown = mask_token(value) if value else "(not set)"
        elif f.name == "service" and value is None:
            shown = "(not set: the tag service:<script name> is used)"
        elif isinstance(value, (tuple, frozenset)):
            shown = ",".join(sorted(value) if isinstance(value, frozenset) else value) or "(none)"
        elif value is None:
            shown = "(not set)"
        elif isinstance(value, bool):
            shown = "on" if value else "off"
        else:
            shown = str(value)
        rows.append((name, shown, name in os.environ))
    return rows


def _installed() -> str:
    from importlib import metadata

    found = []
    for name in _LIBRARIES:
        for dist in (name, name + "-binary"):
            try:
                found.append("%s %s" % (name, metadata.version(dist)))
                break
            except metadata.PackageNotFoundError:
                continue
            except Exception:
                break
    return "installed: " + (", ".join(found) if found else "no database libraries")


def _destinations(config: Config, checks: Checks) -> None:
    if config.disabled:
        checks.line("WARN", "RYFT_DISABLED is set: nothing is recorded or sent")
    if config.ingest_token:
        checks.line("ok", "records go to the Ingest API at %s" % config.ingest_url)
    elif config.output:
        checks.line("WARN", "RYFT_INGEST_TOKEN is not set: records go only to RYFT_OUTPUT")
    else:
        checks.line("FAIL", "neither RYFT_INGEST_TOKEN nor RYFT_OUTPUT is set: statements would be counted and "
                    "dropped; set the token (or RYFT_OUTPUT=path.jsonl to keep records locally)")
    if config.output and config.output != "-":
        _writable_file(config.output, "RYFT_OUTPUT", checks)
    if config.spool_dir:
        _writable_dir(config.spool_dir, "RYFT_SPOOL_DIR", checks)


def _writable_file(path: str, name: str, checks: Checks) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        checks.line("FAIL", "%s %s is a directory; it must be a file path" % (name, path))
    elif os.path.exists(path) and not os.access(path, os.W_OK):
        checks.line("FAIL", "%s %s is not writable" % (name, path))
    elif not os.path.exists(path) and not os.access(directory, os.W_OK):
        checks.line("FAIL", "%s %s: cannot create files in %s" % (name, path, directory))
    else:
        checks.line("ok", "%s %s is writable (records are appended)" % (name, path))


def _writable_dir(path: str, name: str, checks: Checks) -> None:
    if os.path.isdir(path):
        ok = os.access(path, os.W_OK | os.X_OK)
    else:
        parent = os.path.dirname(os.path.abspath(path))
        ok = os.path.isdir(parent) and os.access(parent, os.W_OK)
    if ok:
        checks.line("ok", "%s %s is usable" % (name, path))
    else:
        checks.line("FAIL", "%s %s is not a writable directory (nor can it be created)" % (name, path))


def _in_thread(work: Callable[[], Any], timeout: float) -> Any:
    """Run ``work`` with a deadline (``getaddrinfo`` has none of its own); TimeoutError when it passes."""
    result: list[Any] = []

    def target() -> None:
        try:
            result.append((True, work()))
        except Exception as exc:
            result.append((False, exc))

    thread = threading.Thread(target=target, name="ryft-instrument-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        raise TimeoutError("no answer within %g s" % timeout)
    ok, value = result[0]
    if not ok:
        raise value
    return value


def _ms(started: float) -> str:
    return "%.0f ms" % ((time.monotonic() - started) * 1000)


def _reachability(url: str, route: NetworkRoute, timeout: float, checks: Checks) -> bool:
    """DNS, TCP and TLS to the endpoint, or DNS and TCP to the proxy (the tunnel is tested by the test record)."""
    if route.ca_bundle is not None and not os.path.exists(route.ca_bundle):
        checks.line("FAIL", "CA bundle: %s names %s, which does not exist" % (route.ca_bundle_variable,
                                                                             route.ca_bundle))
        return False
    if route.ca_bundle is not None:
        checks.line("ok", "CA bundle: %s (from %s)" % (route.ca_bundle, route.ca_bundle_variable))
    parts = urlsplit(url)
    host = parts.hostname or ""
    if route.proxy is not None:
        proxy = urlsplit(route.proxy if "://" in route.proxy else "http://" + route.proxy)
        checks.line("ok", "proxy: %s (from %s; NO_PROXY can exempt %s)" % (
            mask_url(route.proxy), route.proxy_variable, host))
        sock = _connect(proxy.hostname or "", _port(proxy), "the proxy ", timeout, checks)
        if sock is None:
            return False
        sock.close()
        checks.line("skip", "TLS: to %s through the proxy's tunnel; --send-test-record tests it" % host)
        return True
    sock = _connect(host, _port(parts), "", timeout, checks)
    if sock is None:
        return False
    try:
        if parts.scheme != "https":
            checks.line("skip", "TLS: not used (http:// is accepted for loopback hosts only)")
            return True
        return _tls(sock, host, route.ca_bundle, checks)
    finally:
        sock.close()


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _connect(host: str, port: int, what: str, timeout: float, checks: Checks) -> Optional[socket.socket]:
    """A connected socket, or None after a FAIL line; ``what`` leads the host in the lines ("the proxy ")."""
    started = time.monotonic()
    try:
        infos = _in_thread(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError) as exc:
        checks.line("FAIL", "DNS: cannot resolve %s%s: %s" % (what, host, _reason(exc)))
        return None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    checks.line("ok", "DNS: %s → %s (%s)" % (host, ", ".join(addresses[:4]), _ms(started)))
    errors = []
    for info in infos:
        started = time.monotonic()
        sock = socket.socket(info[0], info[1], info[2])
        try:
            sock.settimeout(timeout)
            sock.connect(info[4])
        except OSError as exc:
            errors.append("%s: %s" % (info[4][0], _reason(exc)))
            sock.close()
            continue
        checks.line("ok", "TCP: connected to %s%s port %d (%s)" % (what, info[4][0], port, _ms(started)))
        return sock
    checks.line("FAIL", "TCP: cannot connect to %s%s port %d (%s); check the URL, and that outbound "
                "connections to this port are allowed" % (what, host, port, "; ".join(errors[:3])))
    return None


def _tls(sock: socket.socket, host: str, ca_bundle: Optional[str], checks: Checks) -> bool:
    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    started = time.monotonic()
    # The CA bundle the transport verifies against, so this check agrees with sending.
    if ca_bundle is not None and os.path.isdir(ca_bundle):
        context = ssl.create_default_context(capath=ca_bundle)
    else:
        context = ssl.create_default_context(cafile=ca_bundle or DEFAULT_CA_BUNDLE_PATH)
    bundle = "the CA bundle %s" % ca_bundle if ca_bundle else "the CA bundle of requests (certifi)"
    try:
        with context.wrap_socket(sock, server_hostname=host) as secure:
            cert = secure.getpeercert() or {}
            version = secure.version() or "TLS"
    except ssl.SSLCertVerificationError as exc:
        checks.line("FAIL", "TLS: the certificate of %s is not trusted by %s: %s; a TLS-inspecting proxy on the "
                    "way? Point REQUESTS_CA_BUNDLE at its CA" % (host, bundle, exc.verify_message))
        return False
    except (OSError, ValueError) as exc:
        checks.line("FAIL", "TLS: handshake with %s failed: %s" % (host, _reason(exc)))
        return False
    expires = cert.get("notAfter", "")
    checks.line("ok", "TLS: %s, certificate for %s verified%s (%s)" % (
        version, host, ", valid until %s" % expires if expires else "", _ms(started)))
    return True


def _send_test_record(config: Config, timeout: float, checks: Checks) -> None:
    from .transport import HttpTransport

    builder = RecordBuilder(config.all_tags())
    context = make_context(userAgent=user_agent([]))
    record = builder.build((context, TEST_QUERY, time.perf_counter(), 0.0, None, None, None, (TEST_TAG,)))
    problems = validate_record(record)
    if problems:
        checks.line("FAIL", "test record: built an invalid record (a bug, please report it): %s" % problems)
        return
    transport = HttpTransport(config.ingest_url, config.ingest_token or "", config.compression)
    started = time.monotonic()
    try:
        answer = transport.post(json.dumps([record]).encode("utf-8"), timeout=timeout)
    finally:
        transport.close()
    status = answer.status
    if status is None:
        checks.line("FAIL", "test record: no answer: %s" % answer.error)
    elif answer.ok:
        checks.line("ok", "test record accepted (HTTP %d, %s): queryId %s, tag %s"
                    % (status, _ms(started), record["queryId"], TEST_TAG))
    elif status in (401, 403):
        checks.line("FAIL", "test record: the Ingest API refused the token (HTTP %d): check RYFT_INGEST_TOKEN" % status)
    else:
        checks.line("FAIL", "test record: HTTP %d: %s" % (status, " ".join(answer.body.split())[:300]))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
