#!/usr/bin/env python3
"""Make (or refresh) an nbgrader course directory from instructor/: one assignment per notebook.

    python scripts/nbgrader_course.py ~/chatkit-course

writes ``~/chatkit-course/source/<name>/<name>.ipynb`` for every instructor
notebook that carries nbgrader's metadata (``01-the-client`` ... ``05-further-study``)
and, unless one is there already, ``~/chatkit-course/nbgrader_config.py`` (a copy
of ``grading/nbgrader_config.py``). Then, in that directory::

    nbgrader generate_assignment 03-chat-user    # release/03-chat-user/: solutions stubbed

(docs/instructors.md, "Grading with nbgrader".)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def is_graded(path: Path) -> bool:
    """Does this notebook have nbgrader's graded cells?"""
    notebook = nbformat.read(path, as_version=4)
    return any(cell.metadata.get("nbgrader", {}).get("grade") for cell in notebook.cells)


def make_course(course: Path, instructor: Path = ROOT / "instructor") -> list[str]:
    """Copy each graded instructor notebook to ``course/source/<name>/``; the assignment names."""
    names = []
    for path in sorted(instructor.glob("*.ipynb")):
        if not is_graded(path):
            continue
        target = course / "source" / path.stem
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.name)
        names.append(path.stem)
    config = course / "nbgrader_config.py"
    if not config.exists():
        shutil.copyfile(ROOT / "grading" / "nbgrader_config.py", config)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("course", type=Path, help="the course directory (made if missing)")
    parser.add_argument("--instructor", type=Path, default=ROOT / "instructor")
    args = parser.parse_args(argv)
    names = make_course(args.course, args.instructor)
    if not names:
        print(f"no notebook in {args.instructor} has nbgrader's graded cells:"
              " run scripts/nbgrader_metadata.py (make students) first", file=sys.stderr)
        return 1
    print(f"{args.course}/source/: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
