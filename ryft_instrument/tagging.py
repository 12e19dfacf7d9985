"""Tags scoped to a block of code: ``with ryft_instrument.tags("job:nightly"): ...``.

A ``ContextVar`` gives each thread and each asyncio task its own view, and tasks inherit the tags of the code that
created them.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

current_tags: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("ryft_tags", default=())
# False until tags are first set (``push``) or their reader is replaced (the pytest plugin): until then every
# statement's block-scoped tags are (), and the short paths do not read the ContextVar (~0.3 µs a statement).
scoped = False


def push(added: tuple[str, ...]) -> contextvars.Token[tuple[str, ...]]:
    """Add ``added`` to the current tags; returns the token that ``current_tags.reset`` takes to undo it."""
    global scoped
    scoped = True
    return current_tags.set(current_tags.get() + added)


@contextmanager
def tags(*names: str) -> Iterator[tuple[str, ...]]:
    """Add ``names`` to the tags of every statement recorded inside the block (nested blocks add up)."""
    token = push(tuple(str(n) for n in names if str(n)))
    try:
        yield current_tags.get()
    finally:
        current_tags.reset(token)
