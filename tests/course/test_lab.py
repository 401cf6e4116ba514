"""A course notebook as a student runs it: in a real JupyterLab, in headless Chromium.

nbclient already runs every notebook top to bottom (tests/course/test_notebooks.py); this
runs notebook 4 -- the whole chat live, a plot, two chat panels -- through
JupyterLab's own front end: Run All from the menu, widgets rendered by the real
ipywidgets manager. JupyterLab stops Run All at the first cell that raises, so
"every code cell has run" means "nothing raised". Then the room's page, in a
second browser tab, chats with the notebook's panels: the course's goal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, browser
from tests.helpers.lab import KERNEL_IDLE, JupyterLab

NOTEBOOK = ROOT / "instructor" / "04-room-and-broadcast.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CLEAN_UP = "server.stop()"  # the notebook's last code cell stops everything


def without_clean_up(source: Path, folder: Path) -> Path:
    """A copy of the notebook without its final clean-up cell, so the room stays live."""
    notebook = json.loads(source.read_text())
    cells = notebook["cells"]
    clean_up = [cell for cell in cells if CLEAN_UP in "".join(cell["source"])]
    assert len(clean_up) == 1, "notebook 4 should end with one cell that stops the server"
    cells.remove(clean_up[0])
    copy = folder / source.name
    copy.write_text(json.dumps(notebook))
    return copy

pytestmark = pytest.mark.timeout(120)


def saved_notebook(page, lab: JupyterLab, name: str) -> dict:
    """Save the open notebook (Ctrl+S) and read it back from disk, outputs and all."""
    page.keyboard.press("Control+s")
    path = lab.root / name
    before = path.stat().st_mtime_ns
    for _ in range(100):
        if path.stat().st_mtime_ns != before:
            break
        time.sleep(0.05)
    # The mtime changes when the save starts: on a loaded machine the file can still be
    # half written, so read until it parses (bounded).
    for _ in range(100):
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            time.sleep(0.05)
    return json.loads(path.read_text())


def run_all_and_wait(page, lab: JupyterLab, name: str, timeout: float = 60) -> dict:
    """Run All Cells; return the saved notebook once every code cell has run."""
    lab.run_all(page)
    deadline = time.monotonic() + timeout
    while True:
        page.get_by_text(KERNEL_IDLE).wait_for(timeout=timeout * 1000)
        notebook = saved_notebook(page, lab, name)
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        if all(cell.get("execution_count") for cell in code):
            return notebook
        assert time.monotonic() < deadline, "Run All did not reach the last cell: " + ", ".join(
            str(cell.get("execution_count")) for cell in code
        )
        time.sleep(0.5)


def test_notebook_4_runs_in_jupyterlab_and_its_panels_chat_with_the_browser_page(
    chromium, tmp_path, artifacts
):
    source = without_clean_up(NOTEBOOK, tmp_path)
    with JupyterLab.start(tmp_path / "lab", [source]) as lab:
        context = chromium.new_context(viewport={"width": 1200, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(browser.TIMEOUT_MS)
        lab.open_notebook(page, source.name)
        notebook = run_all_and_wait(page, lab, source.name)

        outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
        errors = [o for o in outputs if o["output_type"] == "error"]
        assert not errors, errors
        stderr = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stderr")
        assert "Traceback" not in stderr, stderr
        text = "".join("".join(o.get("text", "")) for o in outputs)
        assert 'Colt joined "people".' in text and "Colt left people." in text
        assert "Bob: hi Ann, I am a panel too" in text
        assert any("image/png" in o.get("data", {}) for o in outputs), "the plot is missing"
        widgets = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
        assert len(widgets) >= 3, "the server's panel and the two chat panels"
        room_page = text.split("The room in your browser: ")[1].split()[0]

        # The two chat panels, drawn by JupyterLab's widget manager, and the room's page.
        ann = page.locator(".chatkit-panel").nth(0)
        ann.scroll_into_view_if_needed()
        ann.locator(".chatkit-messages", has_text="I am a panel too").wait_for()
        browser_tab = context.new_page()
        browser.join(browser_tab, "Dee", room_page)
        ann.locator(".chatkit-messages", has_text='Dee joined "people".').wait_for()
        browser.say(browser_tab, "hello panels, from the page")
        ann.locator(".chatkit-messages", has_text="Dee: hello panels, from the page").wait_for()
        box = ann.locator(".chatkit-message input")
        box.fill("hello page, from Ann's panel")
        box.press("Enter")
        browser_tab.locator("#messages li.chat", has_text="Ann: hello page, from Ann's panel") \
            .wait_for()
        page.screenshot(path=artifacts / "notebook-4-jupyterlab.png")
        context.close()
