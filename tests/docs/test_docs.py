"""README.md and docs/*.md cite only what exists, and their commands run as written.

For every page:

- a path it cites (``chatkit/...``, ``scripts/...``, ``tests/...``, ``docs/...``,
  ``notebooks/...``, ``benchmarks/...``, ...) exists in the checkout (a ``*`` must match);
- ``python -m <module>`` names a module that runs (a package needs its ``__main__``);
- a dotted name (``chatkit.server.ChatServer``, ``from chatkit.checks import grading``)
  imports or is an attribute of what imports;
- a relative link reaches a file, and its ``#anchor`` a heading of that file;
- a shell command runs Python from the venv: ``.venv/bin/python ...``, or after the page
  said ``. .venv.../bin/activate``;
- the project's own command lines (``-m chatkit ...``, ``-m benchmarks...``,
  ``scripts/*.py``, ``benchmarks/*.py``) know every flag the pages give them: each is
  asked for its ``--help``.
"""

from __future__ import annotations

import importlib
import os
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IDS = [str(page.relative_to(ROOT)) for page in PAGES]

#: Folders of the checkout whose paths the pages cite (relative to the checkout's root).
FOLDERS = ("chatkit", "scripts", "tests", "docs", "benchmarks", "notebooks", "instructor",
           "grading", "binder")
PATH = re.compile(rf"(?<![\w./~<-])((?:{'|'.join(FOLDERS)})/[\w./*-]*)")
MODULE = re.compile(r"\bpython3? -m ([\w.]+)")
DOTTED = re.compile(r"(?<![\w./@:-])(chatkit(?:\.[A-Za-z_]\w*)+)")
FROM_IMPORT = re.compile(r"\bfrom (chatkit(?:\.\w+)*) import ([\w, ]+)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELLS = ("bash", "sh", "shell", "console")
#: Commands that must come from the venv (or after activating it).
VENV_COMMANDS = ("python", "python3", "pip", "pip3", "pytest", "jupyter", "nbgrader")
ACTIVATE = re.compile(r"^(?:\.|source) \.venv[\w-]*/bin/activate\b", re.M)


def text_of(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def outside_fences(text: str) -> str:
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: ``"Who is "a client""`` -> ``"who-is-a-client"``."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", outside_fences(text_of(page)),
                                                  re.M)}


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted``, then get the rest as attributes.

    A ``__main__`` module is found, not imported: importing it would run it.
    """
    parts = dotted.split(".")
    if "__main__" in parts:
        spec = importlib.util.find_spec(dotted)
        if spec is None:
            raise ModuleNotFoundError(dotted)
        return spec
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)  # AttributeError: the page names what is not there
        return obj
    raise ModuleNotFoundError(dotted)


def commands(page: Path, inline: bool = False) -> list[str]:
    """The shell commands of a page: lines of its bash blocks, and ``$ `` lines anywhere;
    with ``inline``, also code spans in the prose that start with ``.venv/bin/``."""
    found = []
    for lang, body in FENCE.findall(text_of(page)):
        body = body.replace("\\\n", " ")
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append(line[2:])
            elif lang in SHELLS and line.strip() and not line.lstrip().startswith("#"):
                found.append(line)
    if inline:
        found += re.findall(r"`(\.venv/bin/[^`]+)`", outside_fences(text_of(page)))
    parts = []
    for line in found:
        line = re.split(r"\s+#\s", line)[0].strip().rstrip("&").strip()
        parts += [part.strip() for part in re.split(r"&&|;|\|", line) if part.strip()]
    return parts


def words(command: str) -> list[str]:
    """A command's words, without leading ``NAME=value`` assignments."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    while tokens and re.match(r"^[A-Z_]+=", tokens[0]):
        tokens.pop(0)
    return tokens


# -- what each check finds on one page ---------------------------------------------------------


def missing_paths(page: Path) -> list[str]:
    missing = []
    for match in PATH.finditer(text_of(page)):
        path = match.group(1).rstrip(".,;:")
        if not (list(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()):
            missing.append(path)
    return sorted(set(missing))


def missing_modules(page: Path) -> list[str]:
    missing = []
    for name in sorted(set(MODULE.findall(text_of(page)))):
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(f"{name}.__main__")  # a package runs its __main__
        if spec is None:
            missing.append(name)
    return missing


def missing_names(page: Path) -> list[str]:
    text = text_of(page)
    names = set(DOTTED.findall(text))
    for module, imported in FROM_IMPORT.findall(text):
        names.update(f"{module}.{name.strip()}" for name in imported.split(",") if name.strip())
    missing = []
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name} ({type(exc).__name__}: {exc})")
    return missing


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(outside_fences(text_of(page))):
        if re.match(r"^[a-z][\w+.-]*:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no such heading)")
    return broken


def bare_commands(page: Path) -> list[str]:
    """Commands of the page's shell blocks that run Python, pip, ... not from the venv."""
    if ACTIVATE.search(text_of(page)):
        return []  # the page says to activate the venv first
    bare = []
    for command in commands(page):
        tokens = words(command)
        if tokens and tokens[0] in VENV_COMMANDS and tokens[:3] != ["python3", "-m", "venv"]:
            bare.append(command)
    return bare


def own_command_lines(pages: list[Path]) -> dict[tuple[str, ...], set[str]]:
    """The project's command lines the pages run, and the flags they give each one.

    Key: the words that ask for its help (``("-m", "chatkit", "serve")``).
    """
    found: dict[tuple[str, ...], set[str]] = {}
    for page in pages:
        for command in commands(page, inline=True):
            tokens = words(command)
            if not tokens or not re.search(r"(^|/)python3?$", tokens[0]):
                continue
            rest = tokens[1:]
            if rest[:1] == ["-m"] and len(rest) > 1 and rest[1].split(".")[0] in (
                    "chatkit", "benchmarks"):
                key = ["-m", rest[1]]
                for word in rest[2:]:
                    if not re.fullmatch(r"[a-z][\w-]*", word):
                        break
                    key.append(word)  # a subcommand: `chatkit serve`
            elif rest and re.fullmatch(r"(scripts|benchmarks)/[\w-]+\.py", rest[0]):
                key = [rest[0]]
            else:
                continue
            flags = {t.split("=", 1)[0] for t in tokens[1 + len(key):]
                     if re.match(r"^--?[A-Za-z]", t)}
            found.setdefault(tuple(key), set()).update(flags)
    return found


def unknown_flags(pages: list[Path]) -> list[str]:
    """``"<command line> <flag>"`` for each flag its ``--help`` does not list."""
    unknown = []
    for key, flags in sorted(own_command_lines(pages).items()):
        if not flags:
            continue
        result = subprocess.run([sys.executable, *key, "--help"], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        usage = result.stdout + result.stderr
        unknown += [f"{' '.join(key)} {flag}" for flag in sorted(flags)
                    if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", usage)]
    return unknown


@pytest.fixture(autouse=True)
def checkout_on_path(monkeypatch):
    # `python -m benchmarks...` from the checkout's root finds the root's packages.
    monkeypatch.syspath_prepend(str(ROOT))


# -- the pages ----------------------------------------------------------------------------------


#: Each check on a page, and what it says of what it finds.
CHECKS = {
    "paths": (missing_paths, "cites paths that do not exist"),
    "python -m": (missing_modules, "runs `python -m` on modules that do not run"),
    "names": (missing_names, "names what chatkit does not have"),
    "links": (broken_links, "has broken links"),
    "venv": (bare_commands, "runs commands that need the venv: write .venv/bin/... or say"
                            " to activate it first"),
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_the_page_cites_only_what_exists_and_runs_from_the_venv(page, check):
    find, says = CHECKS[check]
    found = find(page)
    assert not found, f"{page.name} {says}:\n" + "\n".join(found)


def test_the_project_s_command_lines_know_every_flag_the_pages_give():
    lines = own_command_lines(PAGES)
    assert {"--host", "--port"} <= lines[("-m", "chatkit", "serve")]  # the README's own
    assert unknown_flags(PAGES) == []


# -- the checks find what is wrong ------------------------------------------------------------


def test_each_check_finds_what_is_wrong_on_a_page_made_for_it(tmp_path):
    page = tmp_path / "bad.md"
    page.write_text(
        "# A page\n\n## Set up\n\n"
        "See `chatkit/nowhere.py`, `scripts/*.nothing`, `tests/core/`"
        " and `chatkit/core/room.py`.\n"
        "Run `python -m chatkit.nowhere`, `python -m chatkit serve`; use"
        " `chatkit.core.Room.broadcast`, `chatkit.core.Nothing` and"
        " `from chatkit.checks import grading, nothing`.\n"
        f"[ok]({ROOT / 'docs' / 'protocol.md'}) [gone](nowhere.md)"
        " [here](#set-up) [not here](#nothing)\n\n"
        "```bash\n.venv/bin/python -m chatkit serve --port 3000 --no-such-flag\n"
        "python -m chatkit serve\nPYTHONPATH=. pip install x && make test\n```\n",
        encoding="utf-8")
    assert missing_paths(page) == ["chatkit/nowhere.py", "scripts/*.nothing"] + (
        [] if (ROOT / "tests" / "core").exists() else ["tests/core/"])
    assert missing_modules(page) == ["chatkit.nowhere"]
    assert [m.split(" ")[0] for m in missing_names(page)] == [
        "chatkit.checks.nothing", "chatkit.core.Nothing", "chatkit.nowhere"]
    assert broken_links(page) == ["nowhere.md", "#nothing (no such heading)"]
    assert bare_commands(page) == ["python -m chatkit serve", "PYTHONPATH=. pip install x"]
    assert unknown_flags([page]) == ["-m chatkit serve --no-such-flag"]
    page.write_text(page.read_text() + "\n. .venv/bin/activate\n")
    assert bare_commands(page) == []  # said to activate first: not from the venv is fine


def test_slugs_are_github_s():
    assert slug('Who is "a client"') == "who-is-a-client"
    assert slug("The notebooks: `instructor/` is the source") == "the-notebooks-instructor-is-the-source"
    assert slug("On JupyterHub, Binder, Colab") == "on-jupyterhub-binder-colab"


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = text_of(ROOT / "README.md").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move the rest to docs/"
    top = "\n".join(lines[:20])
    assert re.search(r"^```bash\nmake course +# .+\nmake test +# .+\n```$", top, re.M), (
        "README.md's first 20 lines keep the two commands, `make course` and `make test`")
    assert {"course", "test"} <= set(re.findall(r"^(\w+):", (ROOT / "Makefile").read_text(),
                                                re.M))


def test_make_course_starts_jupyterlab_on_loopback_and_as_root_only_when_told():
    # JupyterLab exits at once as root without --allow-root (a container, a class VM):
    # the Makefile passes it then, and only then. A dry run: nothing is installed.
    course = subprocess.run(["make", "-n", "course"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True).stdout
    [lab] = [line for line in course.splitlines() if "jupyter lab" in line]
    assert "--ServerApp.ip=127.0.0.1" in lab
    assert ("--allow-root" in lab) == (os.geteuid() == 0), lab
