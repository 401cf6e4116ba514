"""The peers to beat, each run as a bench kind: the classic exercise's express-ws server (Node),
and the same chat in FastAPI's usual style (uvicorn).

The seed (``server.js``, ``package.json``, ``package-lock.json``) lives in a read-only
folder shared by the project (``../shared/peers/express-ws-seed`` beside the repo, or
``$CHATKIT_SEED_DIR``). Node needs a writable ``node_modules``, so :func:`install` copies
the seed into a cache folder (``$CHATKIT_CACHE``, default ``~/.cache/chatkit``) and runs
``npm ci`` there once; ``make test-setup`` calls it (``scripts/install-seed``), and the
benchmark calls it lazily::

    python -m chatkit.bench.peers          # install (or check) the seed; prints where
    python -m chatkit.bench --kinds seed chatkit --sizes 200

Where ``node`` is missing, :func:`unavailable` says so in one sentence and the
benchmark skips the ``seed`` kind.

The FastAPI peer (``benchmarks/fastapi_peer/chat_app.py``: a ``ConnectionManager`` that
awaits ``send_json`` per member, as FastAPI's docs show) runs in a virtual
environment of its own, as the original has its own ``node_modules``:
:func:`install_fastapi` makes it once in the same cache folder (``python -m venv`` and
``pip install -r benchmarks/fastapi_peer/requirements.txt``, i.e. ``fastapi[standard]``);
kinds ``fastapi`` (uvicorn's defaults: it negotiates permessage-deflate) and
``fastapi-off`` (``--ws-per-message-deflate false``)::

    python -m chatkit.bench.peers          # also makes the FastAPI peer's environment
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["install", "seed_source", "unavailable", "node_command", "SeedUnavailable",
           "install_fastapi", "fastapi_command", "fastapi_unavailable", "peer_unavailable",
           "FASTAPI_PEER"]

SEED_FILES = ("server.js", "package.json", "package-lock.json")
REPO = Path(__file__).resolve().parents[2]
#: The FastAPI peer's app and requirements (not a chatkit module: it imports fastapi).
FASTAPI_PEER = REPO / "benchmarks" / "fastapi_peer"
INSTALLED = ".chatkit-installed"  # written last into a peer's install: it is complete


class SeedUnavailable(RuntimeError):
    """The express-ws seed cannot run here (no node, no seed folder, npm ci failed)."""


def seed_source() -> Path | None:
    """The read-only seed folder, or None when none is found."""
    candidates = [os.environ.get("CHATKIT_SEED_DIR"),
                  REPO.parent / "shared" / "peers" / "express-ws-seed",
                  "/work/shared/peers/express-ws-seed"]
    for candidate in candidates:
        if candidate and all((Path(candidate) / name).is_file() for name in SEED_FILES):
            return Path(candidate)
    return None


def unavailable() -> str | None:
    """Why the seed cannot run here (one sentence), or None when it can."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed: the express-ws original (kind 'seed') is skipped"
    if seed_source() is None:
        return ("the express-ws seed folder was not found (set CHATKIT_SEED_DIR):"
                " kind 'seed' is skipped")
    return None


def _cache_dir(name: str, files: list[Path]) -> Path:
    """``<cache>/<name>-<digest of files>``: a new folder whenever those files change."""
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()
    base = Path(os.environ.get("CHATKIT_CACHE") or Path.home() / ".cache" / "chatkit")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: the temporary folder will do
        base = Path(tempfile.gettempdir()) / "chatkit-cache"
    return base / f"{name}-{digest[:12]}"


def _install_once(target: Path, build: Callable[[Path], None], marker: str,
                  what: str) -> Path:
    """Make ``target`` with ``build(folder)`` once: built beside, then renamed into place,
    so two benchmarks starting at once never run a half-made copy. ``marker`` (a path
    inside the folder) is written last; where it exists, the folder is complete."""
    if (target / marker).is_file():
        return target
    work = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        build(work)
        (work / marker).write_text("installed\n")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(work, target)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise SeedUnavailable(f"installing {what} failed in {work}: {exc}") from exc
    except OSError:
        if not (target / marker).is_file():  # another process won the rename: fine
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def install(quiet: bool = True, timeout: float = 300) -> Path:
    """Copy the seed to a writable cache folder and ``npm ci`` it (once); return that folder."""
    reason = unavailable()
    if reason:
        raise SeedUnavailable(reason)
    source = seed_source()
    assert source is not None

    def build(work: Path) -> None:
        for name in SEED_FILES:
            shutil.copyfile(source / name, work / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work,
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL if quiet else None)

    target = _cache_dir("express-ws-seed", [source / name for name in SEED_FILES])
    return _install_once(target, build, f"node_modules/{INSTALLED}", "the express-ws seed (npm ci)")


def node_command() -> tuple[list[str], Path]:
    """The command that runs the seed's server (``PORT`` from the environment) and its folder."""
    folder = install()
    return ["node", "server.js"], folder


def fastapi_unavailable() -> str | None:
    """Why the FastAPI peer cannot run here (one sentence), or None when it can."""
    if not (FASTAPI_PEER / "chat_app.py").is_file():
        return f"the FastAPI peer's app was not found in {FASTAPI_PEER}: kinds fastapi* are skipped"
    return None


def install_fastapi(quiet: bool = True, timeout: float = 600) -> Path:
    """Make the FastAPI peer's virtual environment (once); return its folder.

    ``python -m venv`` with this Python, then ``pip install -r requirements.txt``
    (``fastapi[standard]``: uvicorn, uvloop, httptools, websockets), through pip as
    this machine is set up. Its scripts are never called by path (the folder is
    renamed into place): the peer runs as ``<venv>/bin/python -m uvicorn``.
    """
    reason = fastapi_unavailable()
    if reason:
        raise SeedUnavailable(reason)
    requirements = FASTAPI_PEER / "requirements.txt"

    def build(work: Path) -> None:
        out = subprocess.DEVNULL if quiet else None
        subprocess.run([sys.executable, "-m", "venv", str(work)], check=True, timeout=timeout,
                       stdout=out)
        subprocess.run([str(work / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(requirements)],
                       check=True, timeout=timeout, stdout=out, stderr=out)

    target = _cache_dir(f"fastapi-peer-py{sys.version_info[0]}.{sys.version_info[1]}",
                        [requirements])
    return _install_once(target, build, INSTALLED, "the FastAPI peer (pip install)")


def fastapi_command(port: int, compression: bool = True) -> tuple[list[str], Path]:
    """The command that runs the FastAPI peer on ``127.0.0.1:port``, and its folder.

    ``compression=False`` adds ``--ws-per-message-deflate false``; otherwise
    uvicorn's defaults stand (it accepts the deflate browsers offer).
    """
    venv = install_fastapi()
    command = [str(venv / "bin" / "python"), "-m", "uvicorn", "chat_app:app",
               "--app-dir", str(FASTAPI_PEER), "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning"]
    if not compression:
        command += ["--ws-per-message-deflate", "false"]
    return command, FASTAPI_PEER


def peer_unavailable(kind: str) -> str | None:
    """Install the peer that bench ``kind`` needs (``seed``, ``fastapi``, ``fastapi-off``) if
    it is not yet; return why it cannot run here (one sentence), or None when it can."""
    unavailable_here, make = ((unavailable, install) if kind == "seed"
                              else (fastapi_unavailable, install_fastapi))
    reason = unavailable_here()
    if reason is None:
        try:
            make()
        except SeedUnavailable as exc:
            reason = str(exc)
    return reason


def main() -> int:
    code = 0
    reason = unavailable()
    if reason:
        print(f"chatkit.bench.peers: {reason}")  # not an error: the seed kind is optional
    else:
        try:
            print(f"express-ws seed ready in {install(quiet=False)}")
        except SeedUnavailable as exc:
            print(f"chatkit.bench.peers: {exc}", file=sys.stderr)
            code = 1
    try:
        print(f"FastAPI peer ready in {install_fastapi(quiet=False)}")
    except SeedUnavailable as exc:
        print(f"chatkit.bench.peers: {exc}", file=sys.stderr)
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
