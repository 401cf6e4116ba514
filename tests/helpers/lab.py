"""A real JupyterLab for end-to-end tests, driven by Playwright in headless Chromium.

::

    with JupyterLab.start(tmp_path, notebooks=[NOTEBOOK]) as lab:
        page = chromium.new_page()
        lab.open_notebook(page, "panel_demo.ipynb")   # waits for the kernel to be idle
        lab.run_all(page)                             # Run menu > Run All Cells

It starts ``jupyter lab`` on 127.0.0.1 on a free port, with no token, and with
every Jupyter folder (config, data, runtime, settings, workspaces, IPython) and
HOME inside a temporary folder, so nothing of the machine's own setup leaks in
and nothing of the test leaks out. A settings file stops the news toast that
would cover the page. ``stop()`` ends the server, its kernels with it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .http import wait_http_ok
from .processes import Process
from .sockets import free_port

__all__ = ["JupyterLab", "KERNEL_IDLE", "quiet_news"]

#: The status bar once the kernel is ready (the notebook's own indicator says idle too early).
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"


def quiet_news(settings: Path) -> None:
    """Write the JupyterLab setting that stops the news toast, under the ``settings`` folder."""
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))


class JupyterLab:
    """A ``jupyter lab`` server process serving ``root`` on ``http://127.0.0.1:<port>``."""

    def __init__(self, process: Process, port: int, root: Path) -> None:
        self.process = process
        self.port = port
        self.root = root

    @classmethod
    def start(cls, workdir: Path, notebooks: list[Path] = (), timeout: float = 60) -> JupyterLab:
        """Start JupyterLab in ``workdir`` (a fresh folder), serving copies of ``notebooks``."""
        root, home = workdir / "root", workdir / "home"
        root.mkdir(parents=True)
        for notebook in notebooks:
            shutil.copy(notebook, root / notebook.name)
        env = {**os.environ, "HOME": str(home), "IPYTHONDIR": str(home / "ipython")}
        for variable, folder in [
            ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ]:
            env[variable] = str(home / folder)
            (home / folder).mkdir(parents=True)
        quiet_news(home / "settings")
        port = free_port()
        process = Process.python(
            "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.ip=127.0.0.1", f"--port={port}", "--port-retries=0",
            f"--ServerApp.root_dir={root}", name="jupyter lab", cwd=root, env=env, tree=True)
        lab = cls(process, port, root)
        try:
            wait_http_ok(f"{lab.url}/api/status", process, timeout)
        except BaseException:
            lab.stop()
            raise
        return lab

    def __enter__(self) -> JupyterLab:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- in the browser ------------------------------------------------------------

    def open_notebook(self, page: Any, name: str, timeout: float = 60) -> None:
        """Open a notebook of the root folder and wait until its kernel is idle."""
        page.goto(f"{self.url}/lab/tree/{name}")
        page.get_by_text(KERNEL_IDLE).wait_for(timeout=timeout * 1000)

    @staticmethod
    def run_all(page: Any) -> None:
        """Run > Run All Cells (there is no default shortcut); in any JupyterLab's page."""
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    # -- stopping ------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server; on SIGTERM it shuts its kernels down first. Kill what is left."""
        self.process.stop()
