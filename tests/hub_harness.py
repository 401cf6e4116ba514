"""A real JupyterHub for end-to-end tests: its proxy, the chatkit service, users' servers.

::

    with Hub.start(tmp_path, users={"ann": [NOTEBOOK]}) as hub:
        hub.url                      # http://127.0.0.1:<port>, the proxy's public address
        hub.log.read_text()          # the hub's, the proxy's and the service's output

Everything listens on free ports of 127.0.0.1: the proxy (public and API), the
hub, the chatkit service. DummyAuthenticator (one password for all),
SimpleLocalProcessSpawner (each user's home under the temporary folder, holding
copies of the given notebooks and a JupyterLab setting that stops the news
toast), sqlite and the cookie secret in the temporary folder. The chatkit service
is README's snippet itself, docs/jupyterhub_config.py, moved to a free port.

``stop()`` ends the hub and everything it started (its proxy, the service, the
users' servers and their kernels, each in a session of its own): their PIDs are
collected first, the hub gets SIGTERM, leftovers get SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from kernel_support import free_port

__all__ = ["Hub", "PASSWORD", "proxy_command"]

PASSWORD = "class-password"
ROOT = Path(__file__).resolve().parent.parent


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

    def __init__(self, process: subprocess.Popen, folder: Path, ports: dict[str, int]) -> None:
        self.process = process
        self.folder = folder
        self.ports = ports
        self.log = folder / "jupyterhub.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['public']}"

    @classmethod
    def start(cls, folder: Path, users: dict[str, list[Path]], timeout: float = 30) -> Hub:
        ports = {name: free_port() for name in ("public", "hub", "proxy_api", "service")}
        for user, notebooks in users.items():
            home = folder / "home" / user
            settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / \
                "apputils-extension"
            settings.mkdir(parents=True)
            (settings / "notification.jupyterlab-settings").write_text(
                json.dumps({"fetchNews": "false", "checkForUpdates": False})
            )
            for notebook in notebooks:
                shutil.copy(notebook, home / notebook.name)
        config = folder / "jupyterhub_config.py"
        config.write_text(CONFIG.format(
            folder=folder, proxy=proxy_command(), password=PASSWORD, python=sys.executable,
            snippet=str(ROOT / "docs" / "jupyterhub_config.py"),
            spawner_args=["--allow-root"] if os.getuid() == 0 else [], **ports,
        ))
        env = {**os.environ, "HOME": str(folder)}
        for variable in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                         "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):
            env.pop(variable, None)
        with open(folder / "jupyterhub.log", "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        hub = cls(process, folder, ports)
        try:
            hub._wait_ready(timeout)
        except BaseException:
            hub.stop()
            raise
        return hub

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        """Until the hub's API answers through the proxy, and the service answers too."""
        deadline = time.monotonic() + timeout
        for url in (f"{self.url}/hub/api/", f"{self.url}/services/chatkit/_static/chat.css"):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"jupyterhub exited ({self.process.returncode}):\n"
                                       + self.log.read_text()[-3000:])
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer from {url} within {timeout} s:\n"
                                       + self.log.read_text()[-3000:])
                time.sleep(0.1)

    # -- in the browser ------------------------------------------------------------

    def log_in(self, page: Any, user: str) -> None:
        """Fill the hub's login form; the hub then spawns the user's server."""
        page.goto(f"{self.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")

    # -- stopping ------------------------------------------------------------------

    def stop(self, timeout: float = 15) -> None:
        """Stop the hub and every process it started, by PID."""
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        gone, alive = psutil.wait_procs(family, timeout=5)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
