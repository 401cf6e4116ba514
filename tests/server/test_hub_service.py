"""The chatkit service for JupyterHub (``chatkit.server.jupyterhub``), without a hub.

What it does on its own: sends browsers to the hub's login, refuses WebSockets without
a login, says so when no hub answers, stops on SIGINT as the hub stops it; and
``chatkit.class_room`` reads the hub's environment. tests/hub/ runs it on a real hub.
"""

from __future__ import annotations

import pytest

from tests.helpers.chat import handshake_status
from tests.helpers.http import http_get
from tests.helpers.processes import Process
from tests.helpers.sockets import free_port


def test_class_room_from_a_notebook_needs_the_hub_environment(monkeypatch):
    import chatkit

    monkeypatch.delenv("CHATKIT_CLASS_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(RuntimeError, match="CHATKIT_CLASS_URL"):
        chatkit.class_room("people")
    monkeypatch.setenv("CHATKIT_CLASS_URL", "http://127.0.0.1:10101/services/chatkit/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t0ken")
    room = chatkit.class_room("people")
    assert room.ws_url() == "ws://127.0.0.1:10101/services/chatkit/chat/people"
    assert room.page_url("a b") == "/services/chatkit/a%20b"
    assert room.headers == {"Authorization": "token t0ken"}


def test_the_service_alone_sends_browsers_to_the_hub_login_refuses_websockets_and_stops_on_sigint():
    """``python -m chatkit.server.jupyterhub`` as the hub starts it (its environment), with no hub there."""
    import os
    import signal

    port, hub_port = free_port(), free_port()
    env = {
        **os.environ,
        "JUPYTERHUB_SERVICE_PREFIX": "/services/chatkit/",
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_API_TOKEN": "service-token",
        "JUPYTERHUB_CLIENT_ID": "service-chatkit",
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub_port}/hub/api",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": '["access:services!service=chatkit"]',
    }
    with Process.python("-m", "chatkit.server.jupyterhub", env=env) as service:
        service.wait_for(r"serving /services/chatkit/<room>")
        status, headers, _ = http_get(port, "/services/chatkit/_static/chat.css")
        assert status == 200 and headers["Connection"] == "close"
        status, login, _ = http_get(port, "/services/chatkit/people")
        assert status == 302 and login["Connection"] == "close"
        assert login["Location"].startswith(  # the hub's page, on the same host
            "/hub/api/oauth2/authorize?client_id=service-chatkit&redirect_uri="
            "%2Fservices%2Fchatkit%2Foauth_callback"
        )
        assert "code_challenge=" in login["Location"]
        assert "HttpOnly" in login["Set-Cookie"]
        # A callback that this service did not start is refused.
        assert http_get(port, "/services/chatkit/oauth_callback?code=x&state=y")[0] == 400
        ws_room = f"ws://127.0.0.1:{port}/services/chatkit/chat/people"
        assert handshake_status(ws_room) == 403
        # A token, but no hub to vouch for it: the service says so, and goes on.
        assert handshake_status(ws_room, {"Authorization": "token abc"}) == 503
        assert service.stop(signal.SIGINT) == 0  # as the hub stops its services
    assert "stopped" in service.output
