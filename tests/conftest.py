"""Fixtures shared by the whole suite: real servers on 127.0.0.1, a real browser, a real Redis.

- ``live_server``: the reference chat server, live on a free port, stopped after;
- ``chromium``: a headless Debian Chromium driven by Playwright (one per test module);
- ``page``: a fresh browser page (its own context) per test, its console recorded;
- ``redis_server``: a ``redis-server`` of the test's own on a free port, persistence off;
- ``artifacts``: a folder of the test's own under ``test-artifacts/`` for screenshots.

Helpers (functions and classes) live in ``tests/helpers/``; fixtures used by one
folder only live in that folder's ``conftest.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import chatkit
from chatkit.redis.local import redis_installed, start_redis
from tests.helpers import ROOT, browser
from tests.helpers.sockets import free_port

ARTIFACTS = ROOT / "test-artifacts"

#: The modules that take longest (a fixture of a minute or more), run first: in a parallel
#: run (pytest-xdist) the other workers share out the rest meanwhile, instead of the run
#: ending with one worker still grading the course. Their order in a plain run is the same.
SLOWEST_FIRST = ["tests/course/test_nbgrader.py", "tests/hub/test_jupyterhub.py",
                 "tests/course/test_notebooks.py", "tests/course/test_lab.py"]

#: Modules whose tests share a costly module or session fixture (the graded course, the
#: executed notebooks, a JupyterLab, three servers on one Redis): a parallel run gives
#: each to one worker, whole, so that the fixture is made once.
SHARED_FIXTURE_MODULES = {"tests/course/test_nbgrader.py", "tests/course/test_notebooks.py",
                          "tests/notebook/test_panel_lab.py", "tests/redis/test_hub.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the slowest modules first, each kept whole and in its own order."""
    rank = {path: number for number, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """``pytest -n N``: tests are dealt out to the workers one by one, as xdist's own
    ``--dist load`` does, except each of SHARED_FIXTURE_MODULES, which goes to one worker whole.

    (xdist's ``--dist loadgroup`` would do it with marks, but it reads the group from a
    suffix it writes into node ids, which pytest 9.2 no longer lets it write: pytest-xdist
    issue #1386. The other ``--dist`` modes are xdist's, untouched.)
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WholeWhereShared(LoadScopeScheduling):
        """LoadScopeScheduling where a scope is a module listed above, or a single test."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_FIXTURE_MODULES else nodeid

    return WholeWhereShared(config, log)


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
        launched = browser.launch(playwright)
        yield launched
        launched.close()


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
def redis_server():
    """A real Redis of the test's own on a free port of 127.0.0.1, persistence off."""
    if not redis_installed():
        pytest.fail("redis-server is not installed: run `make test-setup` (scripts/install-redis)")
    server = start_redis(port=free_port())
    yield server
    server.stop()


@pytest.fixture
def artifacts(request) -> Path:
    """A folder for this test's screenshots, kept after the run: ``test-artifacts/<test id>/``.

    Named after the test, so tests running in parallel never write the same file.
    """
    test_id = request.node.nodeid.removeprefix("tests/").replace(".py::", ".")
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_id.replace("/", "."))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
