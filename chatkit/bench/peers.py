"""The original to beat: the classic exercise's express-ws server, run by Node as a bench kind.

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
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["install", "seed_source", "unavailable", "node_command", "SeedUnavailable"]

SEED_FILES = ("server.js", "package.json", "package-lock.json")
REPO = Path(__file__).resolve().parents[2]


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


def _cache_dir(source: Path) -> Path:
    digest = hashlib.sha256(b"".join((source / n).read_bytes() for n in SEED_FILES)).hexdigest()
    base = Path(os.environ.get("CHATKIT_CACHE") or Path.home() / ".cache" / "chatkit")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: the temporary folder will do
        base = Path(tempfile.gettempdir()) / "chatkit-cache"
    return base / f"express-ws-seed-{digest[:12]}"


def install(quiet: bool = True, timeout: float = 300) -> Path:
    """Copy the seed to a writable cache folder and ``npm ci`` it (once); return that folder."""
    reason = unavailable()
    if reason:
        raise SeedUnavailable(reason)
    source = seed_source()
    assert source is not None
    target = _cache_dir(source)
    if (target / "node_modules" / ".chatkit-installed").is_file():
        return target
    # Installed beside, then renamed into place: two benchmarks starting at once never
    # run a half-installed copy.
    work = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in SEED_FILES:
        shutil.copyfile(source / name, work / name)
    command = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        subprocess.run(command, cwd=work, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL if quiet else None)
        (work / "node_modules" / ".chatkit-installed").write_text("npm ci done\n")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(work, target)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise SeedUnavailable(f"`npm ci` for the express-ws seed failed in {work}: {exc}") from exc
    except OSError:
        if not (target / "node_modules" / ".chatkit-installed").is_file():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def node_command() -> tuple[list[str], Path]:
    """The command that runs the seed's server (``PORT`` from the environment) and its folder."""
    folder = install()
    return ["node", "server.js"], folder


def main() -> int:
    reason = unavailable()
    if reason:
        print(f"chatkit.bench.peers: {reason}")
        return 0  # not an error: the seed kind is optional
    try:
        folder = install(quiet=False)
    except SeedUnavailable as exc:
        print(f"chatkit.bench.peers: {exc}", file=sys.stderr)
        return 1
    print(f"express-ws seed ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
