"""One module per integration: each turns a driver call into ``recorder.record(...)``.

``UNWRAP`` lets integrations cooperate so that a statement seen by two of them gives one record (SPEC PRIOR_ART 5):
a DB-API integration that hands out proxy cursors registers ``{ProxyType: function returning the raw cursor}``,
and the SQLAlchemy hook, which records the statement itself, calls the driver through the raw cursor.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

UNWRAP: dict[type, Callable[[Any], Any]] = {}

QUERY_IDS: dict[type, Callable[[Any, Optional[BaseException]], Optional[str]]] = {}
"""Cursor type → function giving the engine's own query id after a statement (Trino's), for hooks that call the
driver through that cursor without a proxy of ours around it (SQLAlchemy's ``trino://`` dialect)."""
