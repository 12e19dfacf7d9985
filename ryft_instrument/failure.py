"""Exception → ``failureInfo`` (SPEC §3). Placeholder mapping by PEP 249 class."""

from __future__ import annotations

from typing import Any, Union

_MAX_MESSAGE = 4096
_BY_CLASS = {
    "ProgrammingError": "USER_ERROR", "IntegrityError": "USER_ERROR", "DataError": "USER_ERROR",
    "NotSupportedError": "USER_ERROR", "InterfaceError": "USER_ERROR", "InternalError": "INTERNAL_ERROR",
    "OperationalError": "EXTERNAL", "MemoryError": "INSUFFICIENT_RESOURCES", "TimeoutError": "EXTERNAL",
    "ConnectionError": "EXTERNAL", "OSError": "EXTERNAL",
}
_GENERIC = {
    "USER_ERROR": (0, "GENERIC_USER_ERROR"),
    "INTERNAL_ERROR": (65536, "GENERIC_INTERNAL_ERROR"),
    "INSUFFICIENT_RESOURCES": (131072, "GENERIC_INSUFFICIENT_RESOURCES"),
    "EXTERNAL": (196608, "GENERIC_EXTERNAL"),
}


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:_MAX_MESSAGE]
    except Exception:
        return "<unprintable %s>" % type(exc).__name__


def describe_failure(exc: BaseException) -> Union[dict[str, Any], list[dict[str, Any]]]:
    """Describe ``exc`` as a SPEC §1.1 ``failureInfo``. Never raises."""
    kind = "INTERNAL_ERROR"
    for cls in type(exc).__mro__:
        if cls.__name__ in _BY_CLASS:
            kind = _BY_CLASS[cls.__name__]
            break
    code, name = _GENERIC[kind]
    cls = type(exc)
    return {
        "errorCode": {"type": kind, "code": code, "name": name},
        "failureMessage": _safe_str(exc),
        "failureType": "%s.%s" % (cls.__module__, cls.__qualname__),
    }
