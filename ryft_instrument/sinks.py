"""Local sinks: ``RYFT_OUTPUT`` as a JSONL file (appended) or ``-`` for stderr."""

from __future__ import annotations

import os
import sys
import threading


class JsonlSink:
    """Appends one JSON record per line. Each batch is one ``write`` so concurrent processes interleave lines, not
    halves of lines."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "JsonlSink(%r)" % self.target

    def write(self, lines: list[str]) -> None:
        if not lines:
            return
        text = "\n".join(lines) + "\n"
        with self._lock:
            if self.target == "-":
                sys.stderr.write(text)
                sys.stderr.flush()
                return
            fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                data = memoryview(text.encode("utf-8", "surrogatepass"))
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
