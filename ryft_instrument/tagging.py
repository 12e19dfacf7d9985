"""Tags scoped to a block of code: ``with ryft_instrument.tags("job:nightly"): ...``.

A ``ContextVar`` gives each thread and each asyncio task its own view, and tasks inherit the tags of the code that
created them.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

current_tags: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("ryft_tags", default=())


@contextmanager
def tags(*names: str) -> Iterator[tuple[str, ...]]:
    """Add ``names`` to the tags of every statement recorded inside the block (nested blocks add up)."""
    added = tuple(str(n) for n in names if str(n))
    token = current_tags.set(current_tags.get() + added)
    try:
        yield current_tags.get()
    finally:
        current_tags.reset(token)
