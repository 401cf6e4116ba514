"""The class's chat room on JupyterHub: one chat server, run by the hub as a service.

On a hub every student's kernel is in a container of its own: classmates cannot
reach each other's ``chatkit.start()``. The instructor adds one chat server for
the whole class to ``jupyterhub_config.py``; the hub starts it, routes
``/services/chatkit/`` to it, and lets in only people logged in to the hub::

    import sys
    c.JupyterHub.services = [{
        "name": "chatkit",
        "url": "http://127.0.0.1:10101",            # where the service listens
        "command": [sys.executable, "-m", "chatkit.server.jupyterhub"],
        "oauth_no_confirm": True,                   # no "authorize chatkit?" page
    }]
    # Every user may use the service, in the browser and from their notebooks:
    c.JupyterHub.extra_user_scopes = ["access:services!service=chatkit"]
    c.Spawner.server_token_scopes = [
        "users:activity!user", "access:servers!server", "access:services!service=chatkit",
    ]
    # Where notebooks reach it (chatkit.class_room): the service's own address.
    c.Spawner.environment = {"CHATKIT_CLASS_URL": "http://127.0.0.1:10101/services/chatkit/"}

Students open ``https://<hub>/services/chatkit/people``: the page, the same as
everywhere, under the service's prefix. From a notebook, a panel or a Python
client joins the same room with the server's own API token::

    room = chatkit.class_room("people")
    ChatPanel(room, name="ann")                     # your hub login: the only name you may use
    ws = chatkit.WebSocket(room.ws_url(), headers=room.headers)

Logins are JupyterHub's own service OAuth (:class:`jupyterhub.services.auth.HubOAuth`),
not a login of ours: a browser without a hub session is sent to the hub's login
page and back; a WebSocket without one is refused (HTTP 403). Every request
through the hub's proxy comes from 127.0.0.1, so the service knows each
connection by its hub user (:func:`client_key`), not by its address.

The hub login is the chat name: a join or ``/name`` that claims any other name is
refused with an ``error`` (:mod:`chatkit.core.identity`). Hub admins, and the members
of the group named by ``$CHATKIT_INSTRUCTOR_GROUP``, are instructors
(``connection.instructor``): the service asks the hub (a role in the config gives it
``read:users`` and ``read:users:groups``; docs/jupyterhub_config.py).
"""

from __future__ import annotations

import asyncio
import http
import http.cookies
import logging
import os
import secrets
import signal
import sys
import time
import urllib.parse
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .app import ChatServer
from .pages import is_public_file, wants_websocket

__all__ = ["HubLogin", "make_server", "ClassRoom", "class_room", "client_key", "main"]

logger = logging.getLogger("chatkit.server.jupyterhub")


def client_key(connection: ServerConnection) -> str:
    """Who a connection is, for per-client limits: its hub user, else its address.

    Behind the hub's proxy every peer address is 127.0.0.1; the hub user name
    that :class:`HubLogin` found is the person.
    """
    user = getattr(connection, "hub_user", None)
    if user:
        return f"hub-user:{user}"
    address = connection.remote_address
    return str(address[0]) if address else "unknown"


class HubLogin:
    """A gate for :class:`chatkit.server.ChatServer`: people logged in to the hub only.

    ``auth`` is a :class:`jupyterhub.services.auth.HubOAuth` (made from the
    environment the hub gives its services); ``prefix`` the service's path,
    ``/services/chatkit``. A request gets in with a hub token: the cookie this
    gate sets after the hub's OAuth login, or ``Authorization: token <token>``
    (a notebook's ``JUPYTERHUB_API_TOKEN``). The user's name is put on the
    connection as ``connection.hub_user``. What ``python -m chatkit.server.jupyterhub`` runs::

        auth = HubOAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"])
        server = ChatServer(prefix="/services/chatkit", gate=HubLogin(auth, "/services/chatkit"))
    """

    def __init__(self, auth: Any, prefix: str, instructor_group: str | None = None) -> None:
        self.auth = auth
        self.prefix = prefix.rstrip("/")
        self.cookie = "chatkit-hub-token"
        self.state_cookie = "chatkit-oauth-state"
        self._logins = _Logins()
        #: Hub admins are instructors, and members of this hub group if one is named.
        self.instructor_group = instructor_group
        self._roles: dict[str, tuple[float, bool]] = {}  # name -> (when asked, instructor?)

    async def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        if url.path == f"{self.prefix}/oauth_callback":
            return await self._callback(connection, request, url)
        if is_public_file(request):
            return None  # styles, script, icon, as plain HTTP: nothing of the class in them
        cookies = _cookies(request)
        token = self._bearer(request) or (cookies[self.cookie].value
                                          if self.cookie in cookies else None)
        user = await self._user(connection, token) if token else None
        if isinstance(user, Response):  # the hub did not answer
            return user
        if user is not None:
            # The hub login decides the chat name (chatkit.core.identity).
            connection.hub_user = connection.login = user["name"]
            connection.instructor = await self.is_instructor(user["name"])
            if wants_websocket(request):
                logger.info("%r joins %s as %s (Host: %s, Origin: %s)", user["name"], url.path,
                            "instructor" if connection.instructor else "student",
                            request.headers.get("Host"), request.headers.get("Origin"))
            return None
        if wants_websocket(request):
            return connection.respond(
                http.HTTPStatus.FORBIDDEN, "log in to the hub first, then open the room's page\n"
            )
        return self._to_login(connection, request)

    # -- who is it ---------------------------------------------------------------

    @staticmethod
    def _bearer(request: Request) -> str | None:
        words = request.headers.get("Authorization", "").split()
        if len(words) == 2 and words[0].lower() in ("token", "bearer"):
            return words[1]
        return None

    async def _user(
        self, connection: ServerConnection, token: str
    ) -> dict[str, Any] | Response | None:
        """The hub's user model for ``token`` if it may use this service, else None."""
        try:
            user = await self.auth.user_for_token(token, sync=False)
        except Exception as exc:  # the hub is down or restarting
            logger.warning("could not ask the hub who this is: %s", exc)
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                      "the hub did not answer; try again in a moment\n")
        if user is None or not self.auth.check_scopes(self.auth.access_scopes, user):
            return None
        return user

    async def is_instructor(self, name: str) -> bool:
        """True if the hub says ``name`` is an admin, or in :attr:`instructor_group`.

        The service asks the hub's API with its own token (it needs the scopes
        ``read:users`` and ``read:users:groups``: a role in the hub's config, see
        docs/jupyterhub_config.py); answers are kept a minute. If the hub will not
        say, the user is a student.
        """
        now = time.monotonic()
        asked = self._roles.get(name)
        if asked is not None and now - asked[0] < 60:
            return asked[1]
        url = f"{self.auth.api_url}/users/{urllib.parse.quote(name, safe='')}"
        try:
            model = await asyncio.to_thread(_hub_api_get, url, self.auth.api_token)
        except Exception as exc:
            logger.warning("the hub would not say whether %r is an instructor (%s):"
                           " a student, then", name, exc)
            return False
        groups = model.get("groups") or []
        instructor = bool(model.get("admin")) or (
            self.instructor_group is not None and self.instructor_group in groups)
        if len(self._roles) >= 10_000:
            self._roles.clear()
        self._roles[name] = (now, instructor)
        return instructor

    # -- the hub's OAuth login -----------------------------------------------------

    def _to_login(self, connection: ServerConnection, request: Request) -> Response:
        """Send the browser to the hub's login, to come back to the page it asked for."""
        state, params = secrets.token_urlsafe(16), {}
        verifier = None
        if hasattr(self.auth, "generate_pkce_code_challenge"):  # JupyterHub 6+: PKCE
            verifier, challenge, method = self.auth.generate_pkce_code_challenge()
            params = {"code_challenge": challenge, "code_challenge_method": method}
        self._logins.purge(time.monotonic())
        self._logins.add(state, request.path, verifier)
        query = urllib.parse.urlencode({"state": state, **params})
        response = _redirect(connection, f"{self.auth.login_url}&{query}")
        # A cookie per login under way: two tabs logging in at once do not clash.
        response.headers["Set-Cookie"] = (
            f"{self.state_cookie}-{state}=1; Path={self.prefix}/; HttpOnly; Max-Age=600;"
            " SameSite=Lax" + _secure(request.headers)
        )
        return response

    async def _callback(
        self, connection: ServerConnection, request: Request, url: urllib.parse.SplitResult
    ) -> Response:
        """``/oauth_callback?code=...&state=...``: trade the code for a token; set our cookie."""
        query = urllib.parse.parse_qs(url.query)
        code, state = query.get("code", [""])[0], query.get("state", [""])[0]
        cookies = _cookies(request)
        login = self._logins.take(state, time.monotonic())
        if not code or f"{self.state_cookie}-{state}" not in cookies or login is None:
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST, "login expired or not started here: open the room again\n"
            )
        next_url, verifier = login
        try:
            extra = {"code_verifier": verifier} if verifier else {}
            token = await self.auth.token_for_code(code, sync=False, **extra)
        except Exception as exc:
            logger.warning("the hub refused the login code: %s", exc)
            return connection.respond(http.HTTPStatus.FORBIDDEN, "the hub refused this login\n")
        if not next_url.startswith(f"{self.prefix}/"):  # only back into this service
            next_url = f"{self.prefix}/"
        response = _redirect(connection, next_url)
        secure = _secure(request.headers)
        response.headers["Set-Cookie"] = (
            f"{self.cookie}={token}; Path={self.prefix}/; HttpOnly; SameSite=Lax{secure}"
        )
        response.headers["Set-Cookie"] = (
            f"{self.state_cookie}-{state}=; Path={self.prefix}/; Max-Age=0{secure}"
        )
        return response


class _Logins:
    """Logins under way (OAuth state -> the page to return to, PKCE verifier), for 10 minutes.

    Bounded: a flood of unfinished logins forgets the oldest, never grows past ``limit``.
    """

    def __init__(self, max_age: float = 600, limit: int = 10_000) -> None:
        self.max_age, self.limit = max_age, limit
        self._pending: dict[str, tuple[float, str, str | None]] = {}

    def add(self, state: str, next_url: str, verifier: str | None) -> None:
        while len(self._pending) >= self.limit:
            del self._pending[next(iter(self._pending))]  # the oldest
        self._pending[state] = (time.monotonic(), next_url, verifier)

    def take(self, state: str, now: float) -> tuple[str, str | None] | None:
        """The login started with ``state`` (once), if it has not expired."""
        if state not in self._pending:
            return None
        started, next_url, verifier = self._pending.pop(state)
        return (next_url, verifier) if now - started < self.max_age else None

    def purge(self, now: float) -> None:
        for state in [s for s, (t, _, _) in self._pending.items() if now - t >= self.max_age]:
            del self._pending[state]


class ClassRoom:
    """The class service's room, as a notebook on the hub reaches it.

    Made by :func:`class_room`. Like a live server, it has ``ws_url(room)`` and
    ``page_url(room)``, so ``ChatPanel(class_room("people"), name="Ann")`` works;
    ``headers`` carry the notebook server's hub token.
    """

    def __init__(self, url: str, room: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.room = room
        self.headers = {"Authorization": f"token {token}"}

    def ws_url(self, room: str | None = None) -> str:
        """``ws://127.0.0.1:10101/services/chatkit/chat/people``."""
        base = "ws" + self.url[4:] if self.url.startswith("http") else self.url
        return f"{base}/chat/{urllib.parse.quote(room or self.room, safe='')}"

    def page_url(self, room: str | None = None) -> str:
        """The room's page, as a browser on the hub opens it: ``/services/chatkit/people``."""
        path = urllib.parse.urlsplit(self.url).path
        return f"{path}/{urllib.parse.quote(room or self.room, safe='')}"

    def __repr__(self) -> str:
        return f"<ClassRoom {self.ws_url()}>"


def class_room(room: str = "people", url: str | None = None) -> ClassRoom:
    """The class's room on this hub's chatkit service, for panels and Python clients.

    ``url`` is where the service listens, as seen from this notebook (default:
    ``$CHATKIT_CLASS_URL``, which the hub's config sets); the token is the
    notebook server's own ``$JUPYTERHUB_API_TOKEN``.
    """
    url = url or os.environ.get("CHATKIT_CLASS_URL")
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not url or not token:
        raise RuntimeError(
            "class_room() works in a notebook on a JupyterHub whose config runs the chatkit"
            " service and sets CHATKIT_CLASS_URL (see chatkit.server.jupyterhub); here"
            + ("" if token else " there is no JUPYTERHUB_API_TOKEN")
            + ("" if url else " CHATKIT_CLASS_URL is not set")
        )
    return ClassRoom(url, room, token)


# -- the service -------------------------------------------------------------------


def _cookies(request: Request) -> http.cookies.SimpleCookie:
    cookies = http.cookies.SimpleCookie()
    try:
        cookies.load(request.headers.get("Cookie", ""))
    except http.cookies.CookieError:
        pass
    return cookies


def _secure(request_headers: Any) -> str:
    return "; Secure" if request_headers.get("X-Forwarded-Proto", "") == "https" else ""


def _hub_api_get(url: str, token: str) -> dict[str, Any]:
    """GET a JSON object from the hub's API with ``token`` (blocking: run it in a thread)."""
    import json
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (the hub's URL)
        model = json.load(response)
    if not isinstance(model, dict):
        raise ValueError("the hub's answer is not a user model")
    return model


def _redirect(connection: ServerConnection, location: str) -> Response:
    response = connection.respond(http.HTTPStatus.FOUND, "")
    response.headers["Location"] = location
    return response


def make_server(
    auth: Any, prefix: str, instructor_group: str | None = None, **options: Any
) -> ChatServer:
    """The class's chat server behind the hub: its prefix, the hub's login, ``options``.

    Hub admins are instructors, and the members of ``instructor_group`` if given.

    The one place to wire options for this service, e.g. per-client limits
    keyed by :func:`client_key`.
    """
    # Behind the hub's proxy every connection comes from 127.0.0.1: caps and budgets
    # count per hub user, or the whole class would share one address's 64 connections.
    options.setdefault("client_key", client_key)
    gate = HubLogin(auth, prefix, instructor_group=instructor_group)
    return ChatServer(prefix=prefix.rstrip("/"), gate=gate, **options)


async def serve_service(environ: Any = os.environ) -> None:
    """Run the service as the hub asked (its environment), until SIGINT or SIGTERM."""
    from jupyterhub.services.auth import HubOAuth

    prefix = environ["JUPYTERHUB_SERVICE_PREFIX"]
    where = urllib.parse.urlsplit(environ["JUPYTERHUB_SERVICE_URL"])
    auth = HubOAuth(api_token=environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    server = make_server(auth, prefix,
                         instructor_group=environ.get("CHATKIT_INSTRUCTOR_GROUP") or None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # the hub stops services with SIGINT
        loop.add_signal_handler(sig, stop.set)
    host = where.hostname or "127.0.0.1"
    # Every plain HTTP reply says "Connection: close" (websockets' respond() does):
    # behind the hub's proxy, replies kept alive were answered 503 "socket hang up".
    async with server.serve(host, where.port or 80):
        print(f"chatkit hub service: serving {prefix}<room> on {host}:{where.port}", flush=True)
        await stop.wait()
    print("chatkit hub service: stopped", flush=True)


def main() -> int:
    """``python -m chatkit.server.jupyterhub``: what the hub's ``services`` entry runs."""
    # The chat server's activity, in the hub's log; not every library's chatter.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s chatkit %(message)s", "%H:%M:%S"))
    chatkit_logger = logging.getLogger("chatkit")
    chatkit_logger.addHandler(handler)
    chatkit_logger.setLevel(logging.INFO)
    asyncio.run(serve_service())
    return 0


if __name__ == "__main__":
    sys.exit(main())
