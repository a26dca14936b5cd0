"""The document commands of ``tea-studio``: validate, export and layout (no Qt, no running)."""

from __future__ import annotations

import sys
from typing import TextIO

from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.model import Workflow
from tea_studio.workflow.validation import WARNING, Problem, problem_from_error, validate


def load_or_problem(path: str) -> tuple[Workflow | None, Problem | None]:
    """The workflow at ``path``, or the one located problem that stops it loading."""
    from tea_studio.workflow.yaml_io import WorkflowError, load_workflow

    try:
        return load_workflow(path), None
    except WorkflowError as exc:
        return None, problem_from_error(exc)
    except OSError as exc:  # the loader reports its own read errors; this is a last resort
        return None, Problem("FILE_READ", "error", None, f"cannot read the file: {exc.strerror or exc}", 1, 1)


def route_count(workflow: Workflow) -> int:
    """Connections drawn between nodes: goto rules plus one per target of each ``edges`` entry."""
    return sum(len(node.goto_rules) for node in workflow.nodes) + sum(len(e.targets) for e in workflow.edges)


def validate_command(args) -> int:
    """``tea-studio validate FILE...``: one ``FILE:LINE:COL: severity [CODE]: message`` line per problem."""
    failed = False
    for path in args.files:
        workflow, problem = load_or_problem(path)
        problems = [problem] if problem else validate(workflow)
        for item in problems:
            print(item.format(path))
        errors = sum(p.is_error for p in problems)
        warnings = sum(p.severity == WARNING for p in problems)
        if errors:
            failed = True
            print(f"FAIL: {path} ({_plural(errors, 'error')}{', ' + _plural(warnings, 'warning') if warnings else ''})")
        else:
            extra = f", {_plural(warnings, 'warning')}" if warnings else ""
            print(f"OK: {path} ({_plural(len(workflow.nodes), 'node')}, {_plural(route_count(workflow), 'edge')}"
                  f"{extra})")
    return 1 if failed else 0


def export_command(args) -> int:
    """``tea-studio export FILE -o OUT``: the workflow without ``x-tea-studio``; validation errors only warn."""
    from tea_studio.workflow.yaml_io import export_text

    workflow, problem = load_or_problem(args.file)
    if problem:
        print(problem.format(args.file), file=sys.stderr)
        return 1
    errors = [p for p in validate(workflow) if p.is_error]
    if errors:
        print(f"warning: {args.file} has {_plural(len(errors), 'validation error')}; exporting anyway",
              file=sys.stderr)
        for item in errors:
            print(item.format(args.file), file=sys.stderr)
    return _emit(export_text(workflow), args.output, sys.stdout)


def layout_command(args) -> int:
    """``tea-studio layout FILE [-o OUT]``: auto-layout positions under ``x-tea-studio``; nothing else changes."""
    from tea_studio.workflow.layout import auto_layout
    from tea_studio.workflow.yaml_io import dump_workflow

    workflow, problem = load_or_problem(args.file)
    if problem:
        print(problem.format(args.file), file=sys.stderr)
        return 1
    workflow.layout.positions = auto_layout(workflow)
    output = args.output or args.file
    code = _emit(dump_workflow(workflow), output, sys.stdout)
    if code == 0 and output != "-":
        print(f"laid out {_plural(len(workflow.layout.positions), 'node')}: {output}", file=sys.stderr)
    return code


def _emit(text: str, output: str, stdout: TextIO) -> int:
    if output == "-":
        stdout.write(text)
        stdout.flush()
        return 0
    try:
        write_atomic(output, text)
    except OSError as exc:
        print(f"{output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
