"""The ``context`` object shared by every record of one engine or connection (SPEC §4), and the userAgent."""

from __future__ import annotations

import platform
from typing import Any, Iterable, Optional

from ._version import __version__

_PYTHON = "python/%s" % platform.python_version()


def user_agent(parts: Iterable[tuple[str, Optional[str]]]) -> str:
    """``ryft-instrument/<ver> <driver>/<ver> sqlalchemy/<ver> python/<ver>``, leaving out unknown parts."""
    text = ["ryft-instrument/%s" % __version__]
    text += ["%s/%s" % (name, version) for name, version in parts if name and version]
    text.append(_PYTHON)
    return " ".join(text)


def module_version(module_name: str) -> Optional[str]:
    """A module's version without importing anything new, or None. PyMySQL's own is ``VERSION_STRING``: its
    ``__version__`` is the mysqlclient version it pretends to be."""
    import sys

    module = sys.modules.get(module_name.split(".")[0])
    version = (getattr(module, "VERSION_STRING", None) or getattr(module, "__version__", None)
               or getattr(module, "version", None))
    return str(version) if isinstance(version, (str, int, float)) else None


def make_context(**fields: Any) -> dict[str, str]:
    """A context object with only the fields that are known, each a non-empty string."""
    return {key: str(value) for key, value in fields.items() if value is not None and str(value) != ""}


def version_text(info: Any) -> Optional[str]:
    """``(15, 4)`` → ``"15.4"``; a string passes through; anything else is unknown."""
    if isinstance(info, str):
        return info or None
    if isinstance(info, tuple) and info:
        return ".".join(str(part) for part in info)
    return None


def search_path_head(options: Any) -> Optional[str]:
    """The first schema of a libpq ``options`` value: ``-csearch_path=app,public`` → ``app``."""
    if isinstance(options, (tuple, list)):
        options = " ".join(options)
    if not isinstance(options, str):
        return None
    for part in options.replace("-c ", "-c").split():
        if part.startswith("-csearch_path="):
            head = part.split("=", 1)[1].split(",")[0].strip().strip('"')
            return head or None
    return None
