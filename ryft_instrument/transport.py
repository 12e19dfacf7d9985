"""HTTP transport to the Ingest API: one POST of a JSON array, one answer. Retrying is the exporter's job.

``requests`` is imported here, lazily, so ``import ryft_instrument`` stays cheap. Redirects are never followed (a
redirect could carry the token elsewhere) and urllib3's own retries are off (one retry layer, PRIOR_ART 21).
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Optional

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


class HttpTransport:
    """POSTs bodies to the Ingest API with the token header. Not thread-safe: one per sending thread."""

    def __init__(self, url: str, token: str, compression: Optional[str] = None) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.url = url
        self.compression = compression
        self._requests = requests
        self._session = requests.Session()
        self._session.trust_env = False
        adapter = HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=1)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._headers = {
            "X-Ryft-Token": token,
            "Content-Type": "application/json",
            "User-Agent": "ryft-instrument/%s" % __version__,
        }

    def __repr__(self) -> str:
        return "HttpTransport(url=%r)" % self.url

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


def _reason(exc: Any) -> str:
    """A short reason without headers (the token travels in a header; it must not reach a log line)."""
    text = str(exc)
    return text[:300]
