"""Headless Chromium (Debian's, driven by Playwright) and the chat page's two moves.

::

    browser = launch(playwright)                 # what the ``chromium`` fixture does
    join(page, "Ada", url=server.page_url("people"))
    say(page, "hello")
    expect(last_line(page, "li.chat")).to_have_text("Ada: hello")
    assert page_errors(page) == []               # the ``page`` fixture records the console
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from playwright.sync_api import Page, expect

__all__ = ["CHROMIUM_ARGS", "chromium_path", "launch", "join", "say", "last_line", "page_errors"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Milliseconds a browser wait may take (Playwright's default is 5 s: short under load).
TIMEOUT_MS = 15_000


def chromium_path() -> str:
    """Debian's chromium (Playwright's own download does not work on our machines)."""
    for candidate in (os.environ.get("CHATKIT_CHROMIUM"), "/usr/lib/chromium/chromium",
                      "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no chromium found: run `make test-setup` (installs Debian's chromium)")


def launch(playwright: Any, *extra_args: str) -> Any:
    """A headless Chromium with our flags (and ``extra_args``); its waits default to 15 s."""
    expect.set_options(timeout=TIMEOUT_MS)
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                      args=[*CHROMIUM_ARGS, *extra_args])


def join(page: Page, name: str, url: str | None = None) -> None:
    """Join the room page as ``name`` (opening ``url`` first); wait for the join note."""
    if url is not None:
        page.goto(url)
    page.fill("#name", name)
    page.click("#join")
    expect(page.locator("#messages li.note").first).to_contain_text(f"{name} joined")


def say(page: Page, text: str) -> None:
    """Type ``text`` into the page's message box and press Send."""
    page.fill("#m", text)
    page.click("#send")


def last_line(page: Page, selector: str = "li") -> Any:
    """The last line of the page's message list matching ``selector`` (``li.chat``, ...)."""
    return page.locator(f"#messages {selector}").last


def page_errors(page: Page) -> list[str]:
    """The console errors and uncaught exceptions the ``page`` fixture recorded."""
    return [line for line in page.console_lines if line.startswith(("error", "pageerror"))]
