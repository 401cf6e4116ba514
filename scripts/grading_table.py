"""Print docs/instructors.md's table of graded cells and points, from ``GRADED``.

``GRADED`` in ``scripts/nbgrader_metadata.py`` says which graded cells each notebook gets
(one per behaviour group) and their points; ``make students`` writes the cells from it.
This prints the same as a table, so the page cannot drift from it; a test fails when it has::

    .venv/bin/python scripts/grading_table.py            # print the table
    .venv/bin/python scripts/grading_table.py --write    # rewrite it in docs/instructors.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown_blocks import ROOT, markdown_table, run  # noqa: E402  (scripts/, beside this one)

__all__ = ["grading_table", "TABLES", "main"]

PAGE = ROOT / "docs" / "instructors.md"


def grading_table() -> str:
    """One row per graded notebook: its title, its graded cells (points), the total."""
    from nbgrader_metadata import GRADED

    rows = []
    for number, checks in GRADED.items():
        paths = sorted((ROOT / "instructor").glob(f"{number}-*.ipynb"))
        if len(paths) != 1:
            raise LookupError(f"GRADED names notebook {number}: instructor/ has {len(paths)}")
        cells = "; ".join(", ".join(f"{group} ({points:g})" for group, points in groups.items())
                          for groups in checks.values())
        total = sum(sum(groups.values()) for groups in checks.values())
        rows.append((f"[{paths[0].stem}](../notebooks/{paths[0].name})", cells, f"{total:g}"))
    return markdown_table(("notebook", "graded cells (points)", "total"), rows)


#: The generated table by its block name in docs/instructors.md.
TABLES = {"grading": grading_table}


def main(argv: list[str]) -> int:
    return run(argv, PAGE, TABLES, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
