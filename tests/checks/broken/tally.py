"""How many of the wrong solutions each notebook's checks catch, and which right ones pass.

    .venv/bin/python tests/checks/broken/tally.py        # one line per notebook, then the totals
    .venv/bin/python tests/checks/broken/tally.py -v     # and a line per mistake

Run it against another version of chatkit (``PYTHONPATH=<that tree>``) to compare.
"""

from __future__ import annotations

import collections
import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # the repository: where ``tests`` is a package
sys.path.insert(0, str(ROOT))

from chatkit import checks  # noqa: E402

MODULES = ["nb1_client", "nb2_route", "nb3_chat_user", "nb4_room", "nb5_further", "correct"]


def main(argv: list[str]) -> int:
    for module in MODULES:
        importlib.import_module(f"tests.checks.broken.{module}")
    from tests.checks.broken.cases import RIGHT, WRONG

    checks.sockets.TIMEOUT = 0.3
    if hasattr(checks, "limits"):  # one time limit for checks and grading
        checks.limits.LIMIT = 1.0
    elif hasattr(checks, "report") and hasattr(checks.report, "LIMIT"):  # an older tree
        checks.report.LIMIT = 1.0
    caught: collections.Counter[int] = collections.Counter()
    total: collections.Counter[int] = collections.Counter()
    for case in WRONG:
        start = time.monotonic()
        report = getattr(checks, f"run_{case.check}")(case.subject)
        total[case.notebook] += 1
        caught[case.notebook] += not report.passed
        if report.passed or "-v" in argv:
            print(f"{'caught' if not report.passed else 'MISSED'} notebook {case.notebook}"
                  f" {case.id}: {case.kind} ({time.monotonic() - start:.1f} s)")
    for notebook in sorted(total):
        print(f"notebook {notebook}: {caught[notebook]} of {total[notebook]} mistakes caught")
    print(f"all: {sum(caught.values())} of {sum(total.values())} mistakes caught")
    accepted = sum(getattr(checks, f"run_{case.check}")(case.subject).passed for case in RIGHT)
    print(f"right solutions in other styles: {accepted} of {len(RIGHT)} pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
