"""The ``ryft-instrument`` command: ``demo``, ``send``, ``report``, ``check``, and the zero-code launcher.

``ryft-instrument [--tags T] [--service S] COMMAND [ARGS…]`` (anything that is not one of the subcommands below)
runs COMMAND with every SQL statement recorded; that part lives in ``launcher.py``. Errors a user can fix are one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn, Optional

from ._version import __version__

PROG = "ryft-instrument"
SUBCOMMANDS = ("demo", "send", "report", "check")
DESCRIPTION = """\
Every SQL statement your Python program runs, in Ryft's Query Explorer.

Start with:  ryft-instrument demo
Then:        RYFT_INGEST_TOKEN=... ryft-instrument [--tags T,...] [--service NAME] [--sitecustomize] python app.py
             (runs any command with the SQL statements of its Python processes recorded, no code change)
"""
EPILOG = "Configuration comes from RYFT_* environment variables; `ryft-instrument check` shows what is in effect."


class UsageError(Exception):
    """A mistake on the command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (naming ``--help``) rather than the usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError("%s: error: %s (see %s --help)" % (self.prog, message, self.prog))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="%s %s" % (PROG, __version__))
    sub = parser.add_subparsers(dest="command", metavar="{demo,send,report,check}")

    demo = sub.add_parser("demo", help="run a small workload on SQLite (and DuckDB), record it, print the report",
                          description="Run a realistic workload on embedded databases (SQLite; DuckDB when the "
                          "DB-API integration and duckdb are installed), record every statement to a local JSONL "
                          "file (and to Ryft when RYFT_INGEST_TOKEN is set), then print the report. No server, no "
                          "network.")
    demo.add_argument("--output", default="ryft-demo.jsonl", metavar="FILE",
                      help="JSONL file for the records, overwritten (default: %(default)s)")
    demo.add_argument("--html", metavar="PATH", help="also write the report as a self-contained HTML page")

    send = sub.add_parser("send", help="validate a JSONL file of records and upload it to Ryft",
                          description="Validate every line of a JSONL file of records against the record schema "
                          "(bad lines are listed with their line numbers and never sent) and upload the rest "
                          "through the library's delivery engine (batches, retries). Needs RYFT_INGEST_TOKEN "
                          "(and RYFT_INGEST_URL for another endpoint). Exit status 1 if any record was not "
                          "delivered.")
    send.add_argument("file", metavar="FILE.jsonl", help="records, one JSON object a line ('-' for stdin)")
    send.add_argument("--dry-run", action="store_true", help="validate only; send nothing (no token needed)")
    send.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                      help="progress line on stderr (default: %(default)s, i.e. when stderr is a terminal)")

    rep = sub.add_parser("report", help="summarise a JSONL file of records (text, or an HTML page)",
                         description="Totals by queryType and state, the top statement groups (by fingerprint) by "
                         "total time and by count, the slowest statements, failures grouped by error, and a "
                         "histogram of durations.")
    rep.add_argument("file", metavar="FILE.jsonl", help="records, one JSON object a line ('-' for stdin)")
    rep.add_argument("--html", metavar="PATH", help="write a self-contained HTML page (no network resources)")
    rep.add_argument("--width", type=int, default=70, metavar="N",
                     help="characters of SQL shown per statement in the text report (default: %(default)s)")

    check = sub.add_parser("check", help="show the effective configuration and test the endpoint",
                           description="Print the effective configuration (token masked), validate it, and test "
                           "that the endpoint is reachable (DNS, TCP, TLS). No record is sent unless "
                           "--send-test-record is given. Exit status 1 if a problem was found.")
    check.add_argument("--send-test-record", action="store_true",
                       help="also POST one record (query 'SELECT 1', tag ryft-instrument:check) with the token")
    check.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                       help="for each network step (default: %(default)s)")
    return parser


def _run_launcher(argv: list[str]) -> int:
    from .launcher import main as launch

    return launch(argv)


def _dispatch(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": _demo, "send": _send, "report": _report, "check": _check,
    }
    return commands[args.command](args)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.output, args.html)


def _send(args: argparse.Namespace) -> int:
    from .sendfile import send_file

    return send_file(args.file, dry_run=args.dry_run, progress=args.progress)


def _report(args: argparse.Namespace) -> int:
    from . import report

    if args.width < 10:
        raise UsageError("%s report: error: --width must be at least 10" % PROG)
    if args.file == "-":
        summary = report.summarise(sys.stdin, "<stdin>")
    else:
        summary = report.summarise_file(args.file)
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(report.render_html(summary))
        print("%s: %d records; report written to %s" % (summary.source, summary.records, args.html))
    else:
        sys.stdout.write(report.render_text(summary, args.width))
    return 0


def _check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(send_test_record=args.send_test_record, timeout=args.timeout)


def main(argv: Optional[list[str]] = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list and args_list[0] not in SUBCOMMANDS and args_list[0] not in ("-h", "--help", "--version"):
        return _run_launcher(args_list)
    from .config import ConfigError

    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        return _dispatch(args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ConfigError as exc:
        print("%s: configuration error: %s" % (PROG, exc), file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except OSError as exc:
        name = " %s" % exc.filename if getattr(exc, "filename", None) else ""
        print("%s: error:%s: %s" % (PROG, name, exc.strerror or exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        return 130


def _quiet_stdout() -> None:
    """After ``… | head`` closed the pipe: point stdout at devnull so the interpreter's final flush is silent."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
