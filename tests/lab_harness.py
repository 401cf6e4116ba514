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
would cover the page. ``stop()`` shuts the kernels down and ends the server.
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

from kernel_support import free_port

__all__ = ["JupyterLab", "KERNEL_IDLE"]

#: The status bar once the kernel is ready (the notebook's own indicator says idle too early).
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"

NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}


class JupyterLab:
    """A ``jupyter lab`` server process serving ``root`` on ``http://127.0.0.1:<port>``."""

    def __init__(self, process: subprocess.Popen, port: int, root: Path, log: Path) -> None:
        self.process = process
        self.port = port
        self.root = root
        self.log = log

    @classmethod
    def start(cls, workdir: Path, notebooks: list[Path] = (), timeout: float = 30) -> JupyterLab:
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
        settings = home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps(NOTIFICATION_SETTINGS)
        )
        port = free_port()
        log = workdir / "jupyterlab.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                 "--IdentityProvider.token=", "--ServerApp.password=",
                 "--ServerApp.ip=127.0.0.1", f"--port={port}", "--port-retries=0",
                 f"--ServerApp.root_dir={root}"],
                cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        lab = cls(process, port, root, log)
        try:
            lab._wait_ready(timeout)
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

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.process.returncode}):\n"
                                   + self.log.read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"jupyter lab did not answer within {timeout} s:\n"
                           + self.log.read_text()[-3000:])

    # -- in the browser ------------------------------------------------------------

    def open_notebook(self, page: Any, name: str, timeout: float = 30) -> None:
        """Open a notebook of the root folder and wait until its kernel is idle."""
        page.goto(f"{self.url}/lab/tree/{name}")
        page.get_by_text(KERNEL_IDLE).wait_for(timeout=timeout * 1000)

    def run_all(self, page: Any) -> None:
        """Run > Run All Cells (there is no default shortcut)."""
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    # -- stopping ------------------------------------------------------------------

    def stop(self, timeout: float = 10) -> None:
        """Stop the server; on SIGTERM it shuts its kernels down first. Kill it if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
