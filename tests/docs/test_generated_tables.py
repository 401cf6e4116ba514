"""The docs' generated tables are what their scripts print from the code, now.

docs/security.md's limits and options (``scripts/limits_table.py``, from ``ChatServer``'s
defaults, ``RateLimit``, ``ClientLimit``, the message limits) and docs/instructors.md's
graded cells (``scripts/grading_table.py``, from ``GRADED``). Change a limit or a grade in
the code and this fails until the page is regenerated::

    .venv/bin/python scripts/limits_table.py --write
    .venv/bin/python scripts/grading_table.py --write
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import markdown_blocks as blocks  # scripts/ (conftest.py puts it on sys.path)
import nbgrader_metadata

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
#: Each generator script and the page it writes.
GENERATORS = {"limits_table": ROOT / "docs" / "security.md",
              "grading_table": ROOT / "docs" / "instructors.md"}


def load(name: str):
    """A script of scripts/, imported."""
    return importlib.import_module(name)


@pytest.mark.parametrize("script, table", [("limits_table", "limits"),
                                           ("limits_table", "options"),
                                           ("grading_table", "grading")])
def test_the_page_holds_the_table_the_code_gives_now(script, table):
    page = GENERATORS[script]
    match = blocks.block(table).search(page.read_text(encoding="utf-8"))
    assert match, f"{page.name} has no <!-- begin {table} --> ... <!-- end {table} --> block"
    assert match.group(2) == load(script).TABLES[table](), (
        f"{page.name}'s {table} table differs from the code:"
        f" run `.venv/bin/python scripts/{script}.py --write`"
    )


def test_the_limits_follow_the_constants_not_a_copy():
    from chatkit.core import messages

    script = load("limits_table")
    assert f"| name | {messages.MAX_NAME_LENGTH} characters" in script.limits_table()
    saved = messages.MAX_NAME_LENGTH
    messages.MAX_NAME_LENGTH = saved + 1
    try:
        assert f"| name | {saved + 1} characters" in script.limits_table()
    finally:
        messages.MAX_NAME_LENGTH = saved


def test_the_grading_table_follows_graded():
    script = load("grading_table")
    graded = nbgrader_metadata.GRADED
    saved = graded["03"]
    graded["03"] = {"check_chat_user": {"join": 5}}
    try:
        assert "| [03-chat-user](../notebooks/03-chat-user.ipynb) | join (5) | 5 |" in (
            script.grading_table())
    finally:
        graded["03"] = saved


def test_replace_blocks_rewrites_only_the_marked_blocks():
    page = ("# Page\nbefore\n<!-- begin a: generated -->\nstale\n<!-- end a -->\n"
            "between\n<!-- begin b -->\n<!-- end b -->\nafter\n")
    tables = {"a": lambda: "| x |\n", "b": lambda: "| y |\n"}
    new = blocks.replace_blocks(page, tables)
    assert new == ("# Page\nbefore\n<!-- begin a: generated -->\n| x |\n<!-- end a -->\n"
                   "between\n<!-- begin b -->\n| y |\n<!-- end b -->\nafter\n")
    assert blocks.replace_blocks(new, tables) == new
    with pytest.raises(ValueError, match="begin b"):
        blocks.replace_blocks("<!-- begin a -->\n<!-- end a -->\n", tables)


@pytest.mark.parametrize("script", GENERATORS)
def test_the_script_runs_as_the_page_says(script):
    # `.venv/bin/python scripts/<script>.py` from the checkout's root prints its tables.
    result = subprocess.run([sys.executable, str(SCRIPTS / f"{script}.py")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for table in load(script).TABLES:
        assert f"{table}:\n| " in result.stdout
