"""What the tests share, one module per kind of thing (import from the module itself).

- ``waiting``: ``DEADLINE``, ``run`` (an async test body under a deadline), bounded polls;
- ``sockets``: ``free_port`` (per pytest-xdist worker), raw TCP sockets and HTTP upgrade bytes;
- ``http``: ``http_get``, ``wait_http_ok``, ``serve_page`` (a throwaway page server);
- ``chat``: chat clients -- ``chat_server`` and its asyncio clients, ``Outside`` (sync),
  ``handshake_status``;
- ``processes``: the one subprocess launcher (``Process``) and ``ChatkitServe``;
- ``browser``: headless Chromium (Playwright) and the chat page's join, say, last line;
- ``kernel``: a real Jupyter kernel, run cell by cell;
- ``lab``: a real JupyterLab; ``hub``: a real JupyterHub;
- ``redis``: chat servers sharing rooms through a real Redis.

Fixtures live in the ``conftest.py`` files (``tests/conftest.py`` for the whole suite).
"""

from pathlib import Path

__all__ = ["ROOT"]

#: The repository's root folder (notebooks, instructor/, scripts/, docs/ are under it).
ROOT = Path(__file__).resolve().parents[2]
