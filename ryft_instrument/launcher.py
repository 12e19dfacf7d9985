"""``ryft-instrument [--tags …] [--service …] [--sitecustomize] COMMAND [ARGS…]``: run COMMAND instrumented.

The launcher only sets the environment (``RYFT_INSTRUMENT=1`` and friends) and replaces itself with COMMAND
(``os.execvp``): the process the user asked for keeps its pid, signals and exit status, and every Python process it
starts inherits the switch. The work is done in each Python process by the ``.pth`` line that the wheel installs
(``ryft_instrument.bootstrap``), or, with ``--sitecustomize``, by a ``sitecustomize`` module put on ``PYTHONPATH``
for environments that do not process ``.pth`` files (packages installed with ``pip --target`` or on
``PYTHONPATH``); it runs the application's own ``sitecustomize`` after itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping, Optional, Sequence

SITECUSTOMIZE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sitecustomize")


def environment(
    environ: Mapping[str, str],
    *,
    tags: Sequence[str] = (),
    service: Optional[str] = None,
    sitecustomize: bool = False,
) -> dict[str, str]:
    """The variables to set for COMMAND: the switch, the tags added to any already in ``RYFT_TAGS``, the service,
    and for ``--sitecustomize`` our directory in front of ``PYTHONPATH``."""
    changes = {"RYFT_INSTRUMENT": "1"}
    added = [tag for tag in tags if tag]
    if added:
        existing = [environ["RYFT_TAGS"]] if environ.get("RYFT_TAGS") else []
        changes["RYFT_TAGS"] = ",".join(existing + added)
    if service:
        changes["RYFT_SERVICE"] = service
    if sitecustomize:
        path = environ.get("PYTHONPATH", "")
        changes["PYTHONPATH"] = SITECUSTOMIZE_DIR + (os.pathsep + path if path else "")
    return changes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ryft-instrument",
        usage="ryft-instrument [--tags TAGS] [--service NAME] [--sitecustomize] COMMAND [ARGS...]",
        description="Run COMMAND with every SQL statement of its Python processes recorded (RYFT_INSTRUMENT=1). "
        "Configure the destination with RYFT_INGEST_TOKEN (or RYFT_OUTPUT) in the environment.",
    )
    parser.add_argument("--tags", action="append", default=[], metavar="TAGS",
                        help="comma-separated tags added to every record (added to RYFT_TAGS); repeatable")
    parser.add_argument("--service", metavar="NAME", help="the service:<NAME> tag (RYFT_SERVICE)")
    parser.add_argument("--sitecustomize", action="store_true",
                        help="activate through a sitecustomize module on PYTHONPATH, for installs whose .pth files "
                        "are not processed (pip --target, PYTHONPATH); not effective under python -I or -E")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the program to run, and its arguments")
    return parser


def main(argv: list[str]) -> int:
    """Parse ``argv`` (without the program name), set the environment and exec COMMAND; returns only on error."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.print_usage(sys.stderr)
        sys.stderr.write("ryft-instrument: error: a COMMAND to run is required\n")
        return 2
    tags = [tag.strip() for value in args.tags for tag in value.split(",")]
    os.environ.update(environment(os.environ, tags=tags, service=args.service, sitecustomize=args.sitecustomize))
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        sys.stderr.write("ryft-instrument: command not found: %s\n" % command[0])
        return 127
    except OSError as exc:
        sys.stderr.write("ryft-instrument: cannot run %s: %s\n" % (command[0], exc.strerror or exc))
        return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
