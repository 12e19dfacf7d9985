"""Statement fingerprints for grouping repeats. Placeholder until the tokenizer lands."""

from __future__ import annotations

import re
from typing import Union

_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")


def fingerprint(sql: Union[str, bytes]) -> str:
    """Return ``sql`` with literals replaced by ``?`` and whitespace folded."""
    if isinstance(sql, bytes):
        sql = sql.decode("utf-8", "replace")
    return _SPACE.sub(" ", _LITERAL.sub("?", sql)).strip()


def redact_literals(sql: str) -> str:
    """Mask string and number literals in ``sql``."""
    return _LITERAL.sub("?", sql)
