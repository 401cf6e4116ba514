"""Fixtures shared by the whole suite: real servers on 127.0.0.1, a real browser.

Helpers kept here so no test file grows its own copy:

- ``live_server``: the reference chat server, live on a free port, stopped after.
- ``chromium``: a headless Debian Chromium driven by Playwright (one per test module).
- ``page``: a fresh browser page (its own context) per test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import chatkit

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium (Playwright's own download does not work on our machines)."""
    for candidate in (os.environ.get("CHATKIT_CHROMIUM"), "/usr/lib/chromium/chromium",
                      "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no chromium found: run `make test-setup` (installs Debian's chromium)")


@pytest.fixture
def live_server():
    """The reference chat server on a free port of 127.0.0.1."""
    server = chatkit.start(port=0, show=False, random_every=0.05)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium, for one test module.

    Not session-wide: while a sync Playwright runs, the main thread looks as if
    an event loop were running in it, and ``asyncio.run`` in any later module
    fails ("cannot be called from a running event loop").
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh page in a context of its own; its console is kept in ``page.console_lines``."""
    context = chromium.new_context()
    page = context.new_page()
    page.console_lines = []
    page.on("console", lambda message: page.console_lines.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console_lines.append(f"pageerror: {error}"))
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    """A folder for screenshots and other test artifacts (kept after the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
