"""pytest plugin: the ``ryft_ingest_server`` fixture (always available)."""

from __future__ import annotations

from typing import Iterator

import pytest

from .testing import IngestServer


@pytest.fixture
def ryft_ingest_server() -> Iterator[IngestServer]:
    """A loopback Ingest API, with ryft_instrument configured to deliver to it; restored afterwards."""
    from . import runtime

    previous = runtime.get_config()
    with IngestServer() as server:
        runtime.configure(token=server.token, url=server.url, flush_interval=0.05)
        try:
            yield server
        finally:
            runtime.shutdown(2.0)
            runtime.apply(previous)
