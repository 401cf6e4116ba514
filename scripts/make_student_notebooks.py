#!/usr/bin/env python3
"""Make the students' notebooks from the instructor's: the one command that regenerates them.

    python scripts/make_student_notebooks.py            # writes notebooks/NN-*.ipynb
    python scripts/make_student_notebooks.py --check    # exit 1 if notebooks/ has drifted

It also writes ``chatkit/checks/solutions.py``: each exercise's solution, as the
instructor's cell holds it (markers dropped), for ``reference.solution(name)`` --
what a stuck student pastes into the exercise cell.

Every ``instructor/*.ipynb`` becomes ``notebooks/<same name>``: each solution,
between the nbgrader markers ``### BEGIN SOLUTION`` and ``### END SOLUTION``,
becomes nbgrader's stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``)
at the marker's indentation (the ``def``
line stays, so the stub is valid Python), and every output and execution count
is dropped. The instructor's notebooks lose their outputs too (in place), so a
notebook saved after a run in JupyterLab is fit to commit. Notebooks with no
instructor source (e.g. 06-how-many-students) are left alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from chatkit.reference import SOLUTION_MARKERS

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = SOLUTION_MARKERS  # nbgrader's markers; chatkit.reference strips them too
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # nbgrader's own code stub


def strip_solutions(source: str) -> str:
    """Replace each marked solution with a stub at the marker's indentation."""
    out, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{BEGIN} inside a solution")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in STUB)
        elif marker == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(out)


def clean(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop outputs, execution counts and run-time metadata (in place)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("scrolled", None)
    notebook.metadata.pop("widgets", None)
    # A run fills in the kernel's version details: keep only the language's name.
    language = notebook.metadata.get("language_info")
    if language:
        notebook.metadata["language_info"] = {"name": language.get("name", "python")}
    return notebook


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The students' version of an instructor notebook (a new notebook)."""
    student = nbformat.from_dict(clean(nbformat.from_dict(notebook)))
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
    return student


def render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


SOLUTIONS = ROOT / "chatkit" / "checks" / "solutions.py"


def solution_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The exercise cells of a notebook, by the name each defines, without the markers."""
    cells = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            lines = [line for line in cell.source.splitlines() if line.strip() not in (BEGIN, END)]
            first = next(line for line in lines if line.startswith(("def ", "async def ", "class ")))
            name = first.replace("async def ", "def ").split()[1].split("(")[0].rstrip(":")
            cells[name] = "\n".join(lines) + "\n"
    return cells


def solutions_module(instructor: Path) -> str:
    """The text of chatkit/checks/solutions.py, made from the instructor's notebooks."""
    found: dict[str, tuple[str, str]] = {}
    for source in sorted(instructor.glob("*.ipynb")):
        for name, text in solution_cells(nbformat.read(source, as_version=4)).items():
            found[name] = (source.name, text)
    entries = "".join(
        f"    # {notebook}\n    {name!r}: {text!r},\n" for name, (notebook, text) in found.items()
    )
    return (
        '"""Each exercise\'s solution, as pasted into its cell: ``reference.solution(name)``.\n\n'
        "Generated from instructor/*.ipynb by scripts/make_student_notebooks.py (make students):\n"
        'do not edit here."""\n\n__all__ = ["SOLUTIONS"]\n\n'
        f"SOLUTIONS = {{\n{entries}}}\n"
    )


def build(instructor: Path, out: Path) -> dict[Path, str]:
    """Student notebook path -> its text, for every instructor notebook."""
    return {
        out / source.name: render(student_version(nbformat.read(source, as_version=4)))
        for source in sorted(instructor.glob("*.ipynb"))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instructor", type=Path, default=ROOT / "instructor")
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a student notebook differs")
    args = parser.parse_args(argv)
    built = build(args.instructor, args.out)
    if not built:
        print(f"no notebooks in {args.instructor}", file=sys.stderr)
        return 1
    stale = [path for path, text in built.items()
             if not path.exists() or path.read_text() != text]
    # The instructor's notebooks are committed without outputs too: clean them in place.
    unclean = {path: render(clean(nbformat.read(path, as_version=4)))
               for path in sorted(args.instructor.glob("*.ipynb"))}
    unclean = {path: text for path, text in unclean.items() if path.read_text() != text}
    solutions = solutions_module(args.instructor)
    if args.instructor.resolve() != (ROOT / "instructor").resolve():
        solutions = None  # only the course's own notebooks make the package's solutions
    elif SOLUTIONS.exists() and SOLUTIONS.read_text() == solutions:
        solutions = None
    if args.check:
        if solutions is not None:
            print(f"out of date: {SOLUTIONS} (run scripts/make_student_notebooks.py)",
                  file=sys.stderr)
            return 1
        for path in stale:
            print(f"out of date: {path} (run scripts/make_student_notebooks.py)", file=sys.stderr)
        for path in unclean:
            print(f"has outputs: {path} (run scripts/make_student_notebooks.py)", file=sys.stderr)
        return 1 if stale or unclean else 0
    for path, text in unclean.items():
        path.write_text(text)
        print(f"cleaned {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(built[path])
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if solutions is not None:
        SOLUTIONS.write_text(solutions)
        print(f"wrote {SOLUTIONS.relative_to(ROOT)}")
    print(f"{len(built)} student notebooks up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
