"""The README's performance table, in Markdown, from the harness's JSON:
``python -m benchmarks --json bench.json && python -m benchmarks.readme_table bench.json``."""

from __future__ import annotations

import json
import sys
from typing import Any


def _value(value: Any, unit: str) -> str:
    if value is None:
        return "not measured"
    text = f"{value:,.0f}" if abs(value) >= 1000 else "%.2f" % value
    return "%s %s" % (text, unit)


def table(report: dict[str, Any]) -> str:
    """One row per SPEC §8 target: target, measured value, met or not, and OpenTelemetry's figure for scale."""
    meta = report.get("meta", {})
    lines = [
        "| what | target | measured | met | OpenTelemetry, same run |",
        "|---|---|---|---|---|",
    ]
    for row in report["targets"]:
        met = {True: "yes", False: "**no**", None: "—"}[row["met"]]
        otel = row.get("opentelemetry")
        lines.append("| %s | %s | %s | %s | %s |" % (
            row["what"], row["target"], _value(row["measured"], row["unit"]), met,
            "—" if otel is None else _value(otel, row["unit"])))
    lines.append("")
    lines.append("Measured %s with Python %s on %s (%s, %s CPUs)%s: `python -m benchmarks --json bench.json`." % (
        meta.get("date", "?"), meta.get("python", "?"), meta.get("platform", "?"), meta.get("cpu", "CPU not recorded"),
        meta.get("cpus", "?"),
        ", quick mode" if meta.get("quick") else ""))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.readme_table RESULTS.json", file=sys.stderr)
        return 2
    with open(argv[0]) as handle:
        print(table(json.load(handle)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
