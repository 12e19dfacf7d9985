"""Configuration from ``RYFT_*`` environment variables and ``configure()`` keywords (SPEC §5).

Every value is checked here, once, so that a bad setting is a one-line ``ConfigError`` naming the variable at
configuration time and never a traceback inside the user's query later.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

DEFAULT_URL = "https://ingest.ryft.io/ingest/push/queries"
# The names RYFT_INSTRUMENT_DISABLED takes: the integrations the automatic switch turns on.
INTEGRATIONS = ("sqlalchemy", "sqlite3", "psycopg", "psycopg2", "pymysql", "duckdb", "trino")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable and what it accepts."""


BeforeSend = Callable[[dict], Optional[dict]]


@dataclass(frozen=True)
class Config:
    """The effective configuration. Field names are the ``RYFT_*`` variables in lower case."""

    ingest_token: Optional[str] = None
    ingest_url: str = DEFAULT_URL
    instrument: bool = False
    output: Optional[str] = None
    tags: tuple[str, ...] = ()
    service: Optional[str] = None
    sample_rate: float = 1.0
    max_query_length: int = 65536
    min_duration_ms: float = 0.0
    redact_literals: bool = False
    instrument_disabled: frozenset[str] = frozenset()
    shutdown_timeout: float = 2.0
    compression: Optional[str] = None
    batch_size: int = 500
    flush_interval: float = 1.0
    queue_size: int = 10000
    spool_dir: Optional[str] = None
    disabled: bool = False
    before_send: Optional[BeforeSend] = field(default=None, compare=False)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "ingest_token" and value:
                value = mask_token(value)
            shown.append("%s=%r" % (f.name, value))
        return "Config(%s)" % ", ".join(shown)

    def all_tags(self) -> tuple[str, ...]:
        """The tags every record carries: ``RYFT_TAGS`` plus ``service:<name>``."""
        service = self.service if self.service is not None else default_service()
        return self.tags + (("service:" + service,) if service else ())


def mask_token(token: str) -> str:
    """Enough of a token to tell two apart in a support ticket, never enough to use it."""
    return "****" + token[-4:] if len(token) >= 12 else "****"


def default_service() -> str:
    """The script's name, as a user would call the service when nothing else is said."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    name = os.path.basename(argv0)
    if name in ("", "-c", "-m", "__main__.py"):
        return "python"
    return name[:-3] if name.endswith(".py") else name


def _bool(var: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError("%s must be 1/true or 0/false, got %r" % (var, raw))


def _number(var: str, raw: Any, *, low: float, high: float = float("inf"), integer: bool = False) -> Any:
    try:
        value = int(str(raw).strip()) if integer else float(str(raw).strip())
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise ConfigError("%s must be %s, got %r" % (var, kind, raw)) from None
    if not (low <= value <= high) or value != value:
        bound = "between %g and %g" % (low, high) if high != float("inf") else "at least %g" % low
        raise ConfigError("%s must be %s, got %r" % (var, bound, raw))
    return value


def _positive(var: str, raw: Any) -> float:
    value: float = _number(var, raw, low=0.0, high=3600.0)
    if value <= 0:
        raise ConfigError("%s must be a positive number of seconds, got %r" % (var, raw))
    return value


def _list(raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(str(item).strip() for item in items if str(item).strip())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(var: str, raw: Any) -> str:
    url = str(raw).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("%s must be an http(s) URL, got %r" % (var, url))
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError("%s must use https:// for a remote host (http:// only for loopback), got %r" % (var, url))
    if parts.username or parts.password:
        raise ConfigError("%s must not carry credentials; set RYFT_INGEST_TOKEN instead" % var)
    return url


def _compression(var: str, raw: Any) -> Optional[str]:
    text = str(raw or "").strip().lower()
    if text in ("", "0", "off", "none", "false"):
        return None
    if text == "gzip":
        return "gzip"
    raise ConfigError("%s must be 'gzip' or off, got %r" % (var, raw))


def _text(var: str, raw: Any) -> Optional[str]:
    text = "" if raw is None else str(raw).strip()
    return text or None


def _before_send(var: str, raw: Any) -> Optional[BeforeSend]:
    if raw is not None and not callable(raw):
        raise ConfigError("%s must be a callable taking a record and returning it (or None to drop it)" % var)
    return raw


def _token(var: str, raw: Any) -> Optional[str]:
    token = _text(var, raw)
    if token is not None and any(c.isspace() or ord(c) < 32 for c in token):
        raise ConfigError("%s contains whitespace or control characters; check how it was pasted" % var)
    if token is not None and not (token.isascii() and token.isprintable()):
        raise ConfigError("%s contains characters outside ASCII (a typographic quote, dash or ellipsis?); check how "
                          "it was pasted" % var)
    return token


def _integrations(var: str, raw: Any) -> frozenset[str]:
    names = frozenset(name.lower() for name in _list(raw))
    unknown = sorted(names - set(INTEGRATIONS))
    if unknown:
        raise ConfigError("%s names unknown integration(s) %s; known: %s" % (
            var, ", ".join(unknown), ",".join(INTEGRATIONS)))
    return names


def _output(var: str, raw: Any) -> Optional[str]:
    """A JSONL file we can append to (checked now, so that records are not lost later), or ``-`` for stderr."""
    path = _text(var, raw)
    if path is None or path == "-":
        return path
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        problem = "it is a directory"
    elif not os.path.isdir(directory):
        problem = "directory %s does not exist" % directory
    elif not os.access(path if os.path.exists(path) else directory, os.W_OK):
        problem = "permission denied"
    else:
        return path
    raise ConfigError("%s: cannot write %s: %s" % (var, path, problem))


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "ingest_token": _token,
    "ingest_url": _url,
    "instrument": _bool,
    "output": _output,
    "tags": lambda var, raw: _list(raw),
    "service": _text,
    "sample_rate": lambda var, raw: _number(var, raw, low=0.0, high=1.0),
    "max_query_length": lambda var, raw: _number(var, raw, low=64, integer=True),
    "min_duration_ms": lambda var, raw: _number(var, raw, low=0.0),
    "redact_literals": _bool,
    "instrument_disabled": _integrations,
    "shutdown_timeout": lambda var, raw: _number(var, raw, low=0.0, high=3600.0),
    "compression": _compression,
    "batch_size": lambda var, raw: _number(var, raw, low=1, high=100000, integer=True),
    "flush_interval": _positive,
    "queue_size": lambda var, raw: _number(var, raw, low=1, high=10_000_000, integer=True),
    "spool_dir": _text,
    "disabled": _bool,
    "before_send": _before_send,
}
_ALIASES = {"token": "ingest_token", "url": "ingest_url"}
_NOT_FROM_ENV = {"before_send"}


def env_name(key: str) -> str:
    return "RYFT_" + key.upper()


def from_env(environ: Optional[Mapping[str, str]] = None) -> Config:
    """Build the configuration from ``RYFT_*`` variables; raises ``ConfigError`` on a bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, parse in _PARSERS.items():
        var = env_name(key)
        if key not in _NOT_FROM_ENV and var in env:
            values[key] = parse(var, env[var])
    return Config(**values)


def updated(base: Config, **options: Any) -> Config:
    """``base`` with ``options`` (the §5 names in lower case; ``token``/``url`` accepted) applied and checked."""
    values: dict[str, Any] = {}
    for name, raw in options.items():
        key = _ALIASES.get(name, name)
        if key.startswith("ryft_"):
            key = key[5:]
        parse = _PARSERS.get(key)
        if parse is None:
            raise ConfigError("configure() got an unknown option %r; known: %s" % (name, ", ".join(sorted(_PARSERS))))
        values[key] = _DEFAULTS[key] if raw is None else parse("%s (%s)" % (name, env_name(key)), raw)
    return replace(base, **values)


_DEFAULTS = {f.name: f.default for f in fields(Config)}
