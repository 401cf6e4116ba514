"""Where the notebook runs (``chatkit.notebook.hosting``): the link to the room page fits it.

On your own machine the link is the server's; on JupyterHub or Binder it goes through
jupyter-server-proxy beside the notebook (the real one, in a local Jupyter server, here);
on Colab the page cannot be reached and the panel is offered instead.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import chatkit
from tests.helpers.browser import join, last_line, page_errors, say
from tests.helpers.chat import Outside
from tests.helpers.lab import JupyterLab

pytestmark = pytest.mark.timeout(60)


def test_the_link_chatkit_prints_fits_where_the_notebook_runs(monkeypatch, capsys):
    for variable in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_PUBLIC_URL", "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(variable, raising=False)
    with chatkit.start(port=0, show=False) as server:  # on your own machine
        assert server.page_url("a b") == f"http://127.0.0.1:{server.port}/a%20b"
        assert server.page_note() == ""
        # JupyterHub or Binder: beside the notebook, through jupyter-server-proxy
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/")
        assert server.page_url() == f"/user/ann/proxy/{server.port}/people"
        assert server.page_note() == ""  # jupyter-server-proxy is installed here
        monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/user/ann/")
        assert server.page_url() == f"https://hub.example.org/user/ann/proxy/{server.port}/people"
        # The kernel's own clients still go straight to 127.0.0.1.
        assert server.ws_url() == f"ws://127.0.0.1:{server.port}/chat/people"
    capsys.readouterr()
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    with chatkit.start(port=0, show=False):
        printed = capsys.readouterr().out
    assert "cannot be opened from your browser" in printed and "ChatPanel" in printed


def test_the_page_works_behind_jupyter_server_proxy_at_the_link_chatkit_gives(
    page, tmp_path, monkeypatch, artifacts
):
    """The real jupyter-server-proxy, in a local Jupyter server: /proxy/<port>/ is stripped."""
    seen = []

    async def record(connection, request):  # what reaches the server through the proxy
        seen.append((request.path, request.headers.get("Host"), request.headers.get("Origin")))

    # As on a hub whose user prefix is this server's base URL, "/".
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/")
    with JupyterLab.start(tmp_path) as lab, \
            chatkit.start(port=0, show=False, gate=record) as server:
        link = server.page_url("people")
        assert link == f"/proxy/{server.port}/people"
        join(page, "Ann", f"{lab.url}{link}")
        assert page.evaluate("address") == f"ws://127.0.0.1:{lab.port}/proxy/{server.port}/chat/people"
        with Outside(server.ws_url("people"), "Bob") as bob:
            say(page, "through the proxy")
            bob.expect(type="chat", name="Ann", text="through the proxy")
            bob.say("and back")
            expect(last_line(page, "li.chat")).to_have_text("Bob: and back")
        page.screenshot(path=artifacts / "page-behind-jupyter-server-proxy.png")
    print("through jupyter-server-proxy, the server saw (path, Host, Origin):", seen)
    handshake = next(entry for entry in seen if entry[0] == "/chat/people")
    # The browser's Host and Origin pass unchanged: an Origin check (Origin host == Host) holds.
    assert handshake[1:] == (f"127.0.0.1:{lab.port}", lab.url)
    assert page_errors(page) == []
