"""Child side of the harness: ``python -m benchmarks._one NAME quick|full OUT.json``.

Writes ``run(quick)``'s dict to OUT.json, or ``{"status": "not available"}`` when ``benchmarks.bench_NAME`` does
not exist yet or needs a package that is not installed (a skipped column, not a failure)."""

from __future__ import annotations

import importlib
import json
import sys


def main(name: str, mode: str, out: str) -> None:
    module_name = "benchmarks.bench_%s" % name
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name and not (exc.name or "").startswith(("opentelemetry", "psycopg", "pyinstrument")):
            raise
        result = {"status": "not available", "error": "%s: %s" % (type(exc).__name__, exc)}
    else:
        result = module.run(mode == "quick")
    with open(out, "w") as handle:
        json.dump(result, handle, default=str)


if __name__ == "__main__":
    main(*sys.argv[1:4])
