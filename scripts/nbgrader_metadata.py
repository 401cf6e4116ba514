#!/usr/bin/env python3
"""Give the instructor's notebooks nbgrader's metadata and graded cells: run by ``make students``.

    python scripts/nbgrader_metadata.py            # rewrites instructor/NN-*.ipynb in place
    python scripts/nbgrader_metadata.py --check    # exit 1 if a notebook is not up to date

What it does to every notebook listed in ``GRADED`` (and nothing else):

- a code cell holding ``### BEGIN SOLUTION`` becomes an *answer cell*
  (``solution: true``, not locked);
- every other cell becomes *read-only* (``locked: true``): during ``nbgrader
  autograde`` it is put back as the instructor wrote it, so the prose, the live
  cells (servers on port 0, always stopped) and the check cells run as written;
- after each check cell named in ``GRADED`` (found by its call, e.g.
  ``checks.check_chat_user(ChatUser)``) come the *graded cells*, one per behaviour
  group, each worth its points: ``grading.score(run_chat_user, ChatUser, "join",
  points=2)`` prints that group's ✓/✗ lines and ends with the points earned.

The graded cells are this script's own (``metadata.chatkit.graded``): each run
removes them and inserts them afresh, so running it twice changes nothing, and
cells may be edited, added or moved around them freely. A check cell or an
answer cell it cannot find is an error that names the notebook and what is
missing. After editing a notebook (or adding one: give it a line in ``GRADED``),
run ``make students``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from make_student_notebooks import BEGIN, render  # noqa: E402  (the same markers and layout)

#: The graded cells of each notebook (by its number): after the cell that calls
#: ``check_x``, one graded cell per behaviour group, with its points.
GRADED: dict[str, dict[str, dict[str, float]]] = {
    "01": {"check_client": {"callbacks": 3, "onerror": 1}},
    "02": {"check_route": {"route": 2, "bye": 2, "disconnect": 1}},
    "03": {"check_chat_user": {"join": 2, "chat": 2, "close": 2}},
    "04": {"check_room": {"registry": 2, "join": 1, "leave": 2, "broadcast": 2}},
    "05": {"check_errors": {"frames": 2, "fields": 2, "join-first": 1},
           "check_commands": {"joke": 1, "members": 1, "priv": 2, "name": 1, "commands": 1},
           "check_render": {"render": 1, "escape": 2, "as-typed": 1}},
    "07": {"check_redis_room": {"listen": 1, "publish": 1, "across-servers": 2}},
    "08": {"check_backoff": {"backoff": 1, "jitter": 1},
           "check_history": {"ids": 1, "replay": 1, "bounded": 1, "missed": 1},
           "check_reconnecting": {"reconnect": 2, "resume": 1, "duplicates": 2, "epoch": 1}},
}

SCHEMA_VERSION = 3  # nbgrader 0.9's cell metadata
OWNER = "chatkit"   # metadata.chatkit.graded marks the cells this script makes

GRADED_CELL = '''\
# Graded by nbgrader: {group} ({points:g} points). The checks above, this part only.
from chatkit.checks import grading, {run}

grading.score({run}, {subject}, "{group}", points={points:g}{args})'''


class MetadataError(Exception):
    """A notebook lacks what the spec expects (an answer cell, a check cell)."""


def nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False,
             locked: bool = False, points: float | None = None) -> dict:
    """One cell's ``metadata.nbgrader``."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def _check_call(check: str) -> re.Pattern:
    # checks.check_room(Room) or, with more arguments, checks.check_redis_room(SharedRoom, URL)
    return re.compile(rf"^\s*(?:checks\.)?{check}\(\s*(\w+)((?:\s*,\s*\w+)*)\s*\)", re.M)


def _answer_name(source: str) -> str:
    match = re.search(r"^(?:class|def|async def)\s+(\w+)", source, re.M)
    return match.group(1).lower() if match else "answer"


def graded_cell(number: str, check: str, subject: str, group: str, points: float,
                extra: str = ""):
    run = "run_" + check.removeprefix("check_")
    more = [arg.strip() for arg in extra.split(",") if arg.strip()]
    args = f", args=({', '.join(more)},)" if more else ""
    cell = nbformat.v4.new_code_cell(
        GRADED_CELL.format(group=group, points=points, run=run, subject=subject, args=args))
    cell.id = f"{number}-graded-{group}"
    cell.metadata = {
        OWNER: {"graded": {"check": check, "group": group}},
        "nbgrader": nbgrader(f"{number}-graded-{group}", grade=True, locked=True, points=points),
    }
    return cell


def with_metadata(notebook: nbformat.NotebookNode, number: str) -> nbformat.NotebookNode:
    """The notebook with nbgrader's metadata and fresh graded cells (a new notebook)."""
    spec = GRADED[number]
    notebook = nbformat.from_dict(notebook)
    cells = [c for c in notebook.cells if "graded" not in c.metadata.get(OWNER, {})]
    out, answers, anchors, ids = [], 0, {}, set()
    for index, cell in enumerate(cells):
        base = cell.get("id") or f"{number}-cell-{index:02d}"
        if cell.cell_type == "code" and any(line.strip() == BEGIN
                                            for line in cell.source.splitlines()):
            answers += 1
            grade_id = f"{number}-answer-{_answer_name(cell.source)}"
            grade_id = grade_id if grade_id not in ids else f"{grade_id}-{base}"
            cell.metadata["nbgrader"] = nbgrader(grade_id, solution=True)
        else:
            grade_id = base
            cell.metadata["nbgrader"] = nbgrader(grade_id, locked=True)
        ids.add(grade_id)
        out.append(cell)
        if cell.cell_type != "code":
            continue
        for check, groups in spec.items():
            match = _check_call(check).search(cell.source)
            if not match:
                continue
            if check in anchors:
                raise MetadataError(f"notebook {number}: two cells call {check}(...);"
                                    " the graded cells go after one: make it one")
            anchors[check] = match.group(1)
            out.extend(graded_cell(number, check, match.group(1), group, points, match.group(2))
                       for group, points in groups.items())
    missing = [f"a cell calling checks.{check}(...)" for check in spec if check not in anchors]
    if not answers:
        missing.insert(0, f"an answer cell (a code cell with {BEGIN})")
    if missing:
        raise MetadataError(f"notebook {number}: cannot find {' nor '.join(missing)};"
                            f" update GRADED in {Path(__file__).name} to match the notebook")
    notebook.cells = out
    return notebook


def build(instructor: Path) -> dict[Path, str]:
    """Notebook path -> its text with the metadata, for every instructor notebook."""
    built = {}
    for path in sorted(instructor.glob("*.ipynb")):
        number = path.name[:2]
        notebook = nbformat.read(path, as_version=4)
        has_answers = any(BEGIN in cell.source for cell in notebook.cells
                          if cell.cell_type == "code")
        if number not in GRADED:
            if has_answers:
                raise MetadataError(f"{path.name} has exercises but no entry in GRADED"
                                    f" ({Path(__file__).name}): say which checks grade it")
            continue
        built[path] = render(with_metadata(notebook, number))
    missing = sorted(set(GRADED) - {path.name[:2] for path in built})
    if missing:
        raise MetadataError(f"GRADED names notebooks {', '.join(missing)} but {instructor}"
                            " has no such notebook")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instructor", type=Path, default=ROOT / "instructor")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook is not up to date")
    args = parser.parse_args(argv)
    try:
        built = build(args.instructor)
    except MetadataError as exc:
        print(f"nbgrader_metadata: {exc}", file=sys.stderr)
        return 2
    stale = {path: text for path, text in built.items() if path.read_text() != text}
    if args.check:
        for path in stale:
            print(f"no nbgrader metadata: {path} (run scripts/nbgrader_metadata.py)",
                  file=sys.stderr)
        return 1 if stale else 0
    for path, text in stale.items():
        path.write_text(text)
        print(f"nbgrader metadata: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"{len(built)} instructor notebooks carry nbgrader metadata")
    return 0


if __name__ == "__main__":
    sys.exit(main())
