"""Where the notebook runs, and so which link to a chat page works from its browser.

A server started in the kernel (``chatkit.start()``) listens on 127.0.0.1 of the
machine the kernel runs on. Whether a browser can open its page depends on
where that is:

- **your own machine** (``make course``): ``http://127.0.0.1:3000/people``, as always;
- **JupyterHub or Binder**: the kernel is in a container; the page is reached
  through jupyter-server-proxy, beside the notebook:
  ``/user/ann/proxy/3000/people`` -- a link relative to the notebook's own
  address (the kernel cannot know the hub's public name, unless the hub says it
  in ``JUPYTERHUB_PUBLIC_URL``);
- **Google Colab**: Colab's port proxy (``google.colab.kernel.proxyPort``) carries
  plain HTTP but not WebSockets (a known limitation: googlecolab/colabtools
  issues 2529 and 4270), so the page would load and never connect. The chat
  panel (``ChatPanel``), which talks from the kernel, works there.

>>> where({})
'local'
>>> where({"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/"})
'hub'
>>> page_link(3000, "people", {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/"})
'/user/ann/proxy/3000/people'
>>> page_link(3000, "people", {})
'http://127.0.0.1:3000/people'
"""

from __future__ import annotations

import importlib.util
import os
import sys
import urllib.parse
from collections.abc import Mapping

__all__ = ["where", "page_link", "proxy_installed", "COLAB_NOTE", "NO_PROXY_NOTE"]

COLAB_NOTE = (
    "On Google Colab the chat page cannot be opened from your browser: Colab's port"
    " proxy does not carry WebSockets. Chat from this notebook with a panel instead:"
    " chatkit.ChatPanel(server, name=\"Ann\")."
)
NO_PROXY_NOTE = (
    "This hub has no jupyter-server-proxy, so the page cannot be reached from your"
    " browser: ask for `jupyter-server-proxy>=4.2` in the hub's image, or chat from"
    " this notebook with chatkit.ChatPanel(server, name=\"Ann\")."
)


def where(environ: Mapping[str, str] | None = None) -> str:
    """``"local"``, ``"hub"`` (JupyterHub, Binder) or ``"colab"``: where this kernel runs."""
    environ = os.environ if environ is None else environ
    if environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        return "hub"
    if environ.get("COLAB_RELEASE_TAG") or (environ is os.environ and "google.colab" in sys.modules):
        return "colab"
    return "local"


def proxy_installed() -> bool:
    """Is jupyter-server-proxy installed beside this kernel (so, most likely, in its server)?"""
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def page_link(
    port: int, room: str, environ: Mapping[str, str] | None = None, host: str = "127.0.0.1"
) -> str:
    """The address of a live server's room page, as the notebook's browser can open it.

    On a hub: ``<JUPYTERHUB_SERVICE_PREFIX>proxy/<port>/<room>``, made absolute
    with ``JUPYTERHUB_PUBLIC_URL`` when the hub sets it. Elsewhere (Colab too,
    where no link works): ``http://<host>:<port>/<room>``.
    """
    environ = os.environ if environ is None else environ
    room = urllib.parse.quote(room, safe="")
    if where(environ) == "hub":
        prefix = environ["JUPYTERHUB_SERVICE_PREFIX"].rstrip("/") + "/"
        path = f"{prefix}proxy/{port}/{room}"
        public = environ.get("JUPYTERHUB_PUBLIC_URL", "")
        if public.startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(public)
            return f"{parts.scheme}://{parts.netloc}{path}"
        return path
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/{room}"
