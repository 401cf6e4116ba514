"""docs/security.md's tables are what scripts/limits_table.py prints from the code, now.

Change a limit in the code (``MAX_NAME_LENGTH``, ``RateLimit``'s burst, ``ChatServer``'s
``join_timeout`` ...) and this fails until the page is regenerated::

    .venv/bin/python scripts/limits_table.py --write
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "limits_table.py"
PAGE = ROOT / "docs" / "security.md"


def load_script():
    spec = importlib.util.spec_from_file_location("limits_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


@pytest.mark.parametrize("name", ["limits", "options"])
def test_the_page_holds_the_table_the_code_gives_now(script, name):
    text = PAGE.read_text(encoding="utf-8")
    match = script._block(name).search(text)
    assert match, f"docs/security.md has no <!-- begin {name} --> ... <!-- end {name} --> block"
    assert match.group(2) == script.TABLES[name](), (
        f"docs/security.md's {name} table differs from the code's defaults:"
        " run `.venv/bin/python scripts/limits_table.py --write`"
    )


def test_the_tables_show_the_code_s_figures_not_copies(script):
    # The generated text follows the constants: a changed constant shows up in it.
    from chatkit.core import messages

    table = script.limits_table()
    assert f"| name | {messages.MAX_NAME_LENGTH} characters" in table
    saved = messages.MAX_NAME_LENGTH
    messages.MAX_NAME_LENGTH = saved + 1
    try:
        assert f"| name | {saved + 1} characters" in script.limits_table()
    finally:
        messages.MAX_NAME_LENGTH = saved


def test_replace_tables_rewrites_only_the_marked_blocks(script):
    page = ("# Page\nprose before\n<!-- begin limits: generated -->\nstale\n<!-- end limits -->\n"
            "between\n<!-- begin options -->\n<!-- end options -->\nafter\n")
    new = script.replace_tables(page)
    assert new.startswith("# Page\nprose before\n<!-- begin limits: generated -->\n| limit |")
    assert "stale" not in new
    assert "\nbetween\n" in new and new.endswith("<!-- end options -->\nafter\n")
    assert script.replace_tables(new) == new
    with pytest.raises(ValueError, match="begin options"):
        script.replace_tables("<!-- begin limits -->\n<!-- end limits -->\n")


def test_the_script_runs_as_the_page_says():
    # `.venv/bin/python scripts/limits_table.py` from the checkout's root: prints both tables.
    result = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("limits:\n| limit | value | on breach |")
    assert "\noptions:\n| option | CLI flag | default |" in result.stdout
