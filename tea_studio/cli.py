"""The ``tea-studio`` command: run | validate | export | layout | open.

``tea-studio`` with no command, or with a file, opens the studio. Usage errors exit 2.
"""

from __future__ import annotations

import argparse
import sys

from tea_studio import __version__
from tea_studio.workflow.model import STRATEGIES

COMMANDS = ("run", "validate", "export", "layout", "open")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tea-studio",
        description="Design, run and debug The Edge Agent (TEA) YAML workflows.",
    )
    parser.add_argument("--version", action="version", version=f"tea-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a workflow headless and print the final state as JSON")
    run.add_argument("file", help="workflow YAML file")
    run.add_argument("--input", "-i", default=None,
                     help="initial state: a JSON object, or @state.json / @state.yaml")
    run.add_argument("-o", "--output", default=None, help="also write the final state to this JSON file")
    run.add_argument("--stream", action="store_true", help="print every run event as one JSON object per line")
    run.add_argument("--strategy", choices=STRATEGIES, default=None,
                     help="executor for parallel branches (default: settings.parallel.strategy or thread)")
    run.add_argument("--dask-scheduler", metavar="ADDRESS", default=None, type=_scheduler,
                     help="Dask scheduler for dask branches, e.g. tcp://127.0.0.1:8786 (default: "
                          "settings.parallel.dask.scheduler, else a local cluster for this run)")
    run.add_argument("--auto-continue", action="store_true",
                     help="continue at breakpoints without asking (implied when stdin is not a terminal)")
    run.add_argument("--pins", action="store_true",
                     help="use the pinned node outputs saved in the file (x-tea-studio pins) instead of running "
                          "those nodes")
    start = run.add_mutually_exclusive_group()
    start.add_argument("--from", dest="from_node", metavar="NODE", default=None,
                       help="start at NODE with --input as the whole state (e.g. a state saved from a past run)")
    start.add_argument("--only", dest="only_node", metavar="NODE", default=None,
                       help="run NODE alone with --input as its state, and print the state after it")
    run.add_argument("--max-timeout", type=_positive, default=None, metavar="S",
                     help="cap on settings.lua.timeout: no node runs longer than S seconds, whatever the file asks")
    run.add_argument("--max-memory-mb", type=_positive, default=None, metavar="M",
                     help="cap on settings.lua.max_memory_mb: no Lua VM gets more than M MiB")
    run.add_argument("--max-state-mb", type=_positive, default=None, metavar="B",
                     help="memory budget of the run's states and results outside the Lua VMs (default 1024 MiB)")

    validate = sub.add_parser("validate", help="check workflows and print FILE:LINE:COL problems")
    validate.add_argument("files", nargs="+", metavar="FILE")

    export = sub.add_parser("export", help="write clean YAML for headless use (without x-tea-studio)")
    export.add_argument("file")
    export.add_argument("-o", "--output", required=True, help="output file, or - for stdout")

    layout = sub.add_parser("layout", help="write auto-layout positions under x-tea-studio")
    layout.add_argument("file")
    layout.add_argument("-o", "--output", default=None, help="output file (default: rewrite FILE in place)")

    open_ = sub.add_parser("open", help="open the studio (optionally on a file)")
    open_.add_argument("file", nargs="?", default=None)
    open_.add_argument("--screenshot", metavar="OUT.png", default=None,
                       help="render the window (fitted, after --run if given) to a PNG and exit")
    open_.add_argument("--run", action="store_true", help="run the workflow once it is open (trusts the file)")
    open_.add_argument("--input", "-i", default=None, help="initial state for --run (JSON or @file)")
    return parser


def _positive(text: str) -> float:
    """A limit given on the command line: a finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number above zero")
    return value


def _scheduler(text: str) -> str:
    """``--dask-scheduler``: an address that cannot name a scheduler is a usage error, not a 10 s wait."""
    from tea_studio.engine.plan import scheduler_problem

    problem = scheduler_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text.strip()


def _normalise_argv(argv: list[str]) -> list[str]:
    """``tea-studio`` and ``tea-studio FILE ...`` mean ``tea-studio open ...``."""
    if not argv:
        return ["open"]
    first = argv[0]
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return argv
    return ["open", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(_normalise_argv(argv))
    try:
        if args.command == "run":
            from tea_studio.engine.headless import run_command

            return run_command(args)
        if args.command == "validate":
            from tea_studio.workflow.headless import validate_command

            return validate_command(args)
        if args.command == "export":
            from tea_studio.workflow.headless import export_command

            return export_command(args)
        if args.command == "layout":
            from tea_studio.workflow.headless import layout_command

            return layout_command(args)
        from tea_studio.studio.app import run_studio

        return run_studio(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
