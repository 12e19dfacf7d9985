"""HTTP transport to the Ingest API: one POST of a JSON array, one answer. Retrying is the exporter's job.

``requests`` is imported here, lazily, so ``import ryft_instrument`` stays cheap. Redirects are never followed (a
redirect could carry the token elsewhere) and urllib3's own retries are off (one retry layer, PRIOR_ART 21).

The environment is read once, by ``network_route``: the standard proxy variables (``HTTPS_PROXY``, ``ALL_PROXY``,
``NO_PROXY``) for ``https://`` URLs only, since a plain-HTTP proxy would see the token, and the CA bundle variables of
``requests`` (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``). ``~/.netrc`` is never read: it could add another service's
credentials to our requests.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Optional
from urllib.parse import urlsplit

from ._version import __version__

log = logging.getLogger("ryft_instrument")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


@dataclass
class Answer:
    """What came back: an HTTP status, or ``status=None`` and an ``error`` when no answer arrived."""

    status: Optional[int]
    error: Optional[str] = None
    retry_after: Optional[float] = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import time

        when = parsedate_to_datetime(value).timestamp()
        return max(0.0, when - (time.time() if now is None else now))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class NetworkRoute:
    """How requests to the Ingest API leave the process: straight or through a proxy, verified against which CAs."""

    proxy: Optional[str] = None  # the proxy's URL as configured, credentials included: show it with mask_url
    proxy_variable: Optional[str] = None
    ca_bundle: Optional[str] = None  # None: the bundle requests ships (certifi)
    ca_bundle_variable: Optional[str] = None


def network_route(url: str, environ: Optional[Mapping[str, str]] = None) -> NetworkRoute:
    """The route for ``url`` under the environment's proxy and CA bundle variables (see the module docstring)."""
    environ = os.environ if environ is None else environ
    ca_bundle = ca_variable = None
    for name in _CA_BUNDLE_VARIABLES:
        if environ.get(name):
            ca_bundle, ca_variable = environ[name], name
            break
    if urlsplit(url).scheme != "https":
        return NetworkRoute(ca_bundle=ca_bundle, ca_bundle_variable=ca_variable)
    proxy = variable = None
    for name in ("https_proxy", "all_proxy"):
        found = _first(environ, name)
        if found is not None:
            proxy, variable = found
            break
    if proxy is not None and _bypassed(url, _first(environ, "no_proxy")):
        proxy = variable = None
    return NetworkRoute(proxy, variable, ca_bundle, ca_variable)


def mask_url(url: str) -> str:
    """A URL with any ``user:password@`` replaced by ``***@``: proxy URLs may carry credentials."""
    return _CREDENTIALS.sub("***@", url)


def _first(environ: Mapping[str, str], lower: str) -> Optional[tuple[str, str]]:
    """(value, variable name) of ``lower`` or its upper-case form, lower case first as curl and urllib do."""
    for name in (lower, lower.upper()):
        value = environ.get(name)
        if value:
            return value.strip(), name
    return None


def _bypassed(url: str, no_proxy: Optional[tuple[str, str]]) -> bool:
    """Whether ``NO_PROXY`` names the URL's host (requests' rules: ``*``, host suffixes, IP addresses and CIDRs)."""
    if no_proxy is None:
        return False
    from requests.utils import should_bypass_proxies

    try:
        return bool(should_bypass_proxies(url, no_proxy=no_proxy[0]))
    except Exception:
        return False


class HttpTransport:
    """POSTs bodies to the Ingest API with the token header. Not thread-safe: one per sending thread."""

    def __init__(self, url: str, token: str, compression: Optional[str] = None) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.url = url
        self.compression = compression
        self.route = network_route(url)
        self._requests = requests
        self._session = requests.Session()
        self._session.trust_env = False  # the route is read once; netrc never
        if self.route.proxy is not None:
            self._session.proxies = {"https": self.route.proxy}
        if self.route.ca_bundle is not None:
            self._session.verify = self.route.ca_bundle
        adapter = HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=1)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._headers = {
            "X-Ryft-Token": token,
            "Content-Type": "application/json",
            "User-Agent": "ryft-instrument/%s" % __version__,
        }

    def __repr__(self) -> str:
        via = "" if self.route.proxy is None else ", proxy=%r" % mask_url(self.route.proxy)
        return "HttpTransport(url=%r%s)" % (self.url, via)

    def post(self, body: bytes, timeout: Optional[float] = None) -> Answer:
        headers = self._headers
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=1)
            headers = dict(headers, **{"Content-Encoding": "gzip"})
        # The caller's time left bounds every socket wait (connect, send, each read): exit is never held longer.
        read = READ_TIMEOUT if timeout is None else max(0.01, min(READ_TIMEOUT, timeout))
        connect = min(CONNECT_TIMEOUT, read)
        try:
            response = self._session.post(
                self.url, data=body, headers=headers, timeout=(connect, read), allow_redirects=False
            )
        except self._requests.Timeout:
            return Answer(None, "timeout")
        except self._requests.exceptions.ProxyError as exc:
            proxy = self.route.proxy or "?"
            return Answer(None, "proxy %s (from %s): %s" % (mask_url(proxy), self.route.proxy_variable, _cause(exc)))
        except self._requests.exceptions.SSLError as exc:
            return Answer(None, "TLS: %s (%s)" % (_cause(exc), "the CA bundle %s" % self.route.ca_bundle
                                                  if self.route.ca_bundle else "no REQUESTS_CA_BUNDLE set"))
        except self._requests.ConnectionError as exc:
            return Answer(None, "connection error: %s" % _reason(exc))
        except Exception as exc:
            return Answer(None, "%s: %s" % (type(exc).__name__, _reason(exc)))
        try:
            text = response.text[:2000]
        except Exception:
            text = ""
        finally:
            response.close()
        return Answer(response.status_code, None, parse_retry_after(response.headers.get("Retry-After")), text)

    def close(self) -> None:
        try:
            self._session.close()
        except Exception:
            log.debug("ryft_instrument: closing the HTTP session failed", exc_info=True)


def _cause(exc: BaseException) -> str:
    """The innermost reason in the chain requests and urllib3 build (``MaxRetryError.reason``, wrapped ``args``)."""
    try:
        for _ in range(6):
            inner = getattr(exc, "reason", None)
            if not isinstance(inner, BaseException):
                inner = next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
            if inner is None:
                break
            exc = inner
        return _reason(exc)
    except Exception:
        return type(exc).__name__


def _reason(exc: Any) -> str:
    """A short reason without headers (the token travels in a header; it must not reach a log line) or the proxy's
    credentials."""
    return mask_url(str(exc))[:300]
