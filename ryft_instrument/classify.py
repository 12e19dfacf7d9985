"""Statement classification (SPEC §2). Placeholder until the full tokenizer lands."""

from __future__ import annotations

from functools import lru_cache
from typing import Hashable, Optional, Union

_FIRST = {
    "SELECT": "SELECT", "WITH": "SELECT", "VALUES": "SELECT", "TABLE": "SELECT",
    "INSERT": "INSERT", "REPLACE": "INSERT", "UPDATE": "UPDATE", "DELETE": "DELETE",
    "MERGE": "MERGE", "EXPLAIN": "EXPLAIN", "DESCRIBE": "DESCRIBE", "SHOW": "DESCRIBE",
    "ANALYZE": "ANALYZE",
}


@lru_cache(maxsize=4096)
def _classify(sql: str) -> Optional[str]:
    text = sql.strip()
    while text.startswith(("--", "/*")):
        if text.startswith("--"):
            _, _, text = text.partition("\n")
        else:
            _, _, text = text.partition("*/")
        text = text.strip()
    if not text:
        return None
    word = text.split(None, 1)[0].upper().rstrip(";(")
    return _FIRST.get(word, "DATA_DEFINITION")


def query_type(sql: Union[str, bytes, None]) -> Optional[str]:
    """Return the Trino ``QueryType`` of ``sql``, or None when it is not a statement. Never raises."""
    try:
        if isinstance(sql, bytes):
            sql = sql.decode("utf-8", "replace")
        if not isinstance(sql, str):
            return None
        return _classify(sql)
    except Exception:
        return None


def classify_statement(sql: Union[str, bytes, None], session: Optional[Hashable] = None) -> Optional[str]:
    """Classify ``sql`` as run on ``session`` (a connection key), remembering prepared statements."""
    return query_type(sql)
