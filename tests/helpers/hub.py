"""A real JupyterHub for end-to-end tests: its proxy, the chatkit service, users' servers.

::

    with Hub.start(tmp_path, users={"ann": [NOTEBOOK]}) as hub:
        hub.url                      # http://127.0.0.1:<port>, the proxy's public address
        hub.output                   # what the hub, its proxy and the service printed

Everything listens on free ports of 127.0.0.1: the proxy (public and API), the
hub, the chatkit service. DummyAuthenticator (one password for all),
SimpleLocalProcessSpawner (each user's home under the temporary folder, holding
copies of the given notebooks and a JupyterLab setting that stops the news
toast), sqlite and the cookie secret in the temporary folder. The chatkit service
is README's snippet itself, docs/jupyterhub_config.py, moved to a free port.

``stop()`` ends the hub and everything it started (its proxy, the service, the
users' servers and their kernels, each in a session of its own): ``Process(tree=True)``
collects their PIDs first, the hub gets SIGTERM, leftovers get SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from . import ROOT
from .http import wait_http_ok
from .lab import quiet_news
from .processes import Process
from .sockets import free_port

__all__ = ["Hub", "PASSWORD", "proxy_command"]

PASSWORD = "class-password"


def proxy_command() -> str:
    """configurable-http-proxy, as scripts/install-hub-test installs it into the venv."""
    venv = Path(sys.executable).parent.parent
    for candidate in (venv / "node" / "node_modules" / ".bin" / "configurable-http-proxy",
                      shutil.which("configurable-http-proxy")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError("no configurable-http-proxy: run `make test-setup`")


CONFIG = """
import sys
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{public}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/home/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {spawner_args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

# -- the chatkit service: docs/jupyterhub_config.py, as README says, on a free port --
exec(open({snippet!r}).read())
c.JupyterHub.services[0]["url"] = "http://127.0.0.1:{service}"
c.Spawner.environment = {{"CHATKIT_CLASS_URL": "http://127.0.0.1:{service}/services/chatkit/"}}
"""


class Hub:
    """A running ``jupyterhub`` process and the folder it lives in."""

    def __init__(self, process: Process, folder: Path, ports: dict[str, int]) -> None:
        self.process = process
        self.folder = folder
        self.ports = ports

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['public']}"

    @property
    def output(self) -> str:
        """What the hub, its proxy and its services printed so far."""
        return self.process.output

    @classmethod
    def start(cls, folder: Path, users: dict[str, list[Path]], timeout: float = 60,
              extra_config: str = "") -> Hub:
        """Start the hub; ``extra_config``: lines of ``jupyterhub_config.py`` added at the end."""
        ports = {name: free_port() for name in ("public", "hub", "proxy_api", "service")}
        for user, notebooks in users.items():
            home = folder / "home" / user
            quiet_news(home / ".jupyter" / "lab" / "user-settings")
            for notebook in notebooks:
                shutil.copy(notebook, home / notebook.name)
        config = folder / "jupyterhub_config.py"
        config.write_text(CONFIG.format(
            folder=folder, proxy=proxy_command(), password=PASSWORD, python=sys.executable,
            snippet=str(ROOT / "docs" / "jupyterhub_config.py"),
            spawner_args=["--allow-root"] if os.getuid() == 0 else [], **ports,
        ) + extra_config)
        env = {**os.environ, "HOME": str(folder)}
        for variable in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                         "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):
            env.pop(variable, None)
        process = Process.python("-m", "jupyterhub", "-f", str(config), name="jupyterhub",
                                 cwd=folder, env=env, tree=True)
        hub = cls(process, folder, ports)
        try:  # the hub's API through the proxy, then the service through the proxy too
            for url in (f"{hub.url}/hub/api/", f"{hub.url}/services/chatkit/_static/chat.css"):
                wait_http_ok(url, process, timeout)
        except BaseException:
            hub.stop()
            raise
        return hub

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- in the browser ------------------------------------------------------------

    def log_in(self, page: Any, user: str) -> None:
        """Fill the hub's login form; the hub then spawns the user's server."""
        page.goto(f"{self.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")

    # -- through the API --------------------------------------------------------------

    #: A test-only service whose token may make users and their tokens (see ``API_CONFIG``).
    API_TOKEN = "tests-api-token-" + "0" * 16
    API_CONFIG = f"""
c.JupyterHub.services.append({{"name": "tests", "api_token": {API_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "tests", "services": ["tests"],
    "scopes": ["admin:users", "tokens", "access:services!service=chatkit"]}})
"""

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the hub's REST API as the ``tests`` service (start with ``extra_config=Hub.API_CONFIG``)."""
        import json
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/hub/api{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.API_TOKEN}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return json.load(response)

    def token_for(self, user: str) -> str:
        """A new API token of ``user`` (made if need be) that may use the chatkit service."""
        import urllib.error

        try:
            self.api("POST", f"/users/{user}")
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # 409: the user exists already
                raise
        made = self.api("POST", f"/users/{user}/tokens",
                        {"scopes": ["access:services!service=chatkit"], "note": "tests"})
        return made["token"]

    # -- stopping ------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the hub and every process it started, by PID."""
        self.process.stop()
