"""Shared benchmark helpers: interleaved rounds with medians, a loopback endpoint in a child process, and the
configuration switches the benchmarks need."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

# A timed body runs an operation ``n`` times and returns the elapsed seconds (it times itself, so its setup is not
# counted).
Timed = Callable[[int], float]


def compare(variants: dict[str, Timed], n: int, rounds: int, baseline: Optional[str] = None,
            between: Optional[Callable[[], None]] = None) -> dict[str, dict[str, float]]:
    """Run the variants in interleaved rounds (the order rotates each round) after one warm-up round.

    Returns, per variant, the median µs per operation and, when ``baseline`` names a variant, the median of the
    per-round differences from it (``added_us``) and the ratio of medians: pairing each round with the baseline's
    round of the same moment cancels most of the noise a shared machine adds."""
    names = list(variants)
    per_round: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds + 1):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            if between is not None:
                between()
            gc.collect() if gc.isenabled() else None
            elapsed = variants[name](n)
            if index:
                per_round[name].append(elapsed / n * 1e6)
    result: dict[str, dict[str, float]] = {}
    for name in names:
        samples = per_round[name]
        row = {"us": round(statistics.median(samples), 3), "min_us": round(min(samples), 3)}
        if baseline is not None and name != baseline:
            base = per_round[baseline]
            row["added_us"] = round(statistics.median(s - b for s, b in zip(samples, base)), 3)
            row["ratio"] = round(statistics.median(samples) / statistics.median(base), 2)
        result[name] = row
    return result


_ENDPOINT = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else the headers/body writes wait on the client's delayed ACK (40 ms)
    bodies = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Handler.bodies += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("http://127.0.0.1:%d/ingest/push/queries" % server.server_address[1], flush=True)
server.serve_forever()
"""

_INGEST = r"""
import sys
from ryft_instrument.testing import IngestServer

with IngestServer() as server:
    print(server.url, flush=True)
    for line in sys.stdin:
        print("%d %d" % (len(server.records), len(server.invalid)), flush=True)
        server.records.clear()
"""


class Endpoint:
    """A loopback Ingest API in a child process, so its CPU is not counted as ours, driven through its stdin.

    ``validating=False``: a bare HTTP server that reads each body and answers 200 (measures our exporter, not a
    server). ``validating=True``: ``ryft_instrument.testing.IngestServer``, which checks every record against the
    schema; ``received()`` returns (accepted, invalid) since the last call. ``script``: another child program that
    prints its URL, then answers each command line with two numbers (see ``command``)."""

    token = "test-token-0123456789"

    def __init__(self, validating: bool = False, script: Optional[str] = None) -> None:
        program = script if script is not None else _INGEST if validating else _ENDPOINT
        self.process = subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the loopback endpoint did not start")

    def command(self, what: str) -> tuple[int, int]:
        """Send one command line to the child; returns the two numbers it answers with."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(what + "\n")
        self.process.stdin.flush()
        first, second = self.process.stdout.readline().split()
        return int(first), int(second)

    def received(self) -> tuple[int, int]:
        return self.command("count")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@contextmanager
def endpoint(validating: bool = False) -> Iterator[Endpoint]:
    server = Endpoint(validating)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def delivering_to(server: Endpoint, **options: Any) -> Iterator[None]:
    """ryft_instrument configured to deliver to ``server`` (extra SPEC §5 options allowed); reset afterwards."""
    import ryft_instrument
    from ryft_instrument import runtime

    runtime.reset_for_tests()
    ryft_instrument.configure(token=server.token, url=server.url, **options)
    try:
        yield
    finally:
        runtime.reset_for_tests()


# Recording on, but the exporter idle while a round is timed: it wakes only for a full batch, and a batch this big
# never fills within a round (the benchmark flushes between rounds, untimed). This isolates the application thread.
IDLE_EXPORTER = {"batch_size": 100000, "queue_size": 10_000_000, "flush_interval": 3600.0}


def installed(*modules: str) -> bool:
    """Whether every module can be imported (optional comparison columns are skipped otherwise)."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None for name in modules)
    except (ImportError, ValueError):
        return False


def otel_provider() -> Any:
    """An OpenTelemetry TracerProvider with a BatchSpanProcessor and an exporter that drops every span."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NullExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            """Nothing to release."""

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter()))
    return provider
