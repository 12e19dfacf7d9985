"""The ``ryft-instrument`` command."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from ._version import __version__


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ryft-instrument", description=__doc__)
    parser.add_argument("--version", action="version", version="ryft-instrument %s" % __version__)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run a small workload on SQLite and report what was recorded")
    demo.add_argument("--output", default="ryft-demo.jsonl", help="JSONL file for the records")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.output)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
