"""docs/architecture.md stays true: chatkit's real import graph keeps the page's layers.

One table of layers, ``LAYERS`` in ``scripts/architecture.py``, is both what the page
shows (generated from it) and what the import graph is checked against: no cycle,
nothing imports a layer above its own, the pure layers import no I/O library, at most
6 levels. Every ``import`` counts, those inside functions too. When a module moves::

    .venv/bin/python scripts/architecture.py            # what breaks a rule, and where
    .venv/bin/python scripts/architecture.py --write    # refresh the page's tables
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import architecture as arch  # scripts/ (conftest.py puts it on sys.path)
import markdown_blocks


@pytest.fixture(scope="module")
def graph():
    return arch.import_graph()


# -- chatkit itself ---------------------------------------------------------------------------


def test_every_module_is_in_a_layer(graph):
    unplaced = [m for m in graph[0] if arch.layer_of(m) is None]
    assert not unplaced, f"modules in no layer of LAYERS (scripts/architecture.py): {unplaced}"


def test_no_import_cycles(graph):
    assert arch.cycles(graph[0]) == []


def test_nothing_imports_upward(graph):
    found = [f"{e.importer} (line {e.line}) imports {e.imported}" for e in arch.upward(graph[0])]
    assert not found, "imports of a higher layer:\n" + "\n".join(found)


def test_the_pure_layers_do_no_io(graph):
    assert arch.forbidden(*graph) == []


def test_at_most_six_levels_of_layers(graph):
    chain = arch.longest_chain(arch.layer_graph(graph[0]))
    assert len(chain) <= arch.MAX_LEVELS == 6, (
        f"{len(chain)} levels: " + " -> ".join(chain))


@pytest.mark.parametrize("block", ["layers", "picture"])
def test_the_page_shows_the_layers_and_modules_of_now(block):
    match = markdown_blocks.block(block).search(arch.PAGE.read_text(encoding="utf-8"))
    assert match, f"docs/architecture.md has no {block} block"
    assert match.group(2) == arch.TABLES[block](), (
        "docs/architecture.md is out of date: run `.venv/bin/python scripts/architecture.py --write`")


# -- the checker, on packages made for it: it can fail -----------------------------------------


def make_package(root: Path, files: dict[str, str]) -> Path:
    """A package ``chatkit`` under ``root`` with these files (path -> source)."""
    for name, source in files.items():
        path = root / "chatkit" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root / "chatkit"


LAYERS = (arch.Layer("tools", ("chatkit.tools.*",), ""),
          arch.Layer("low", ("chatkit.low.*",), "", pure=True),
          arch.Layer("high", ("chatkit", "chatkit.high.*"), ""))


def test_the_checker_reads_every_kind_of_import(tmp_path):
    package = make_package(tmp_path, {
        "__init__.py": "from .high import app\n",
        "low/__init__.py": "",
        "low/a.py": "import json\n",
        "low/b.py": "from . import a\nfrom .a import thing\n",
        "high/__init__.py": "",
        "high/app.py": "import chatkit.low.b\n\ndef later():\n    from ..low import a\n",
    })
    graph, outside = arch.import_graph(package)
    assert {m: [e.imported for e in edges] for m, edges in graph.items()} == {
        "chatkit": ["chatkit.high.app"],
        "chatkit.high": [],
        "chatkit.high.app": ["chatkit.low.a", "chatkit.low.b"],
        "chatkit.low": [],
        "chatkit.low.a": [],
        "chatkit.low.b": ["chatkit.low.a"],
    }
    assert outside["chatkit.low.a"] == {"json"}
    assert arch.levels(graph)["chatkit"] == 4
    assert arch.longest_chain(graph) == ["chatkit", "chatkit.high.app", "chatkit.low.b",
                                         "chatkit.low.a"]
    assert arch.problems(package, LAYERS) == []


def test_the_checker_finds_a_lazy_upward_import_a_cycle_io_and_too_many_levels(tmp_path):
    chain = {f"low/m{i}.py": f"from . import m{i + 1}\n" for i in range(6)}
    package = make_package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        **chain,
        "low/m6.py": "import asyncio\nfrom ..tools import run\n\ndef late():\n"
                     "    from ..high import app\n",
        "tools/__init__.py": "", "tools/run.py": "import subprocess\n",
        "high/__init__.py": "",
        "high/app.py": "from ..low import m0\n",
        "high/other.py": "from . import app\n",
    })
    found = arch.problems(package, LAYERS)
    assert "cycle: chatkit.high.app <-> chatkit.low.m0 <-> chatkit.low.m1 <-> chatkit.low.m2" \
           " <-> chatkit.low.m3 <-> chatkit.low.m4 <-> chatkit.low.m5 <-> chatkit.low.m6" in found
    assert "upward: chatkit.low.m6 (low) imports chatkit.high.app (high), line 5" in found
    assert "impure: chatkit.low.m6 imports asyncio" in found
    assert "impure: chatkit.low.m6 imports chatkit.tools.run" in found  # not upward: impure
    # The cycle counts as one step: other -> (the cycle) is 2 levels; a chain of 7 is too many.
    assert not any("levels" in line for line in found)
    # Levels are counted in layers: seven layers, each importing the one below, are too many.
    deep = tuple(arch.Layer(f"l{i}", (f"chatkit.l{i}.*",), "") for i in range(7))
    package = make_package(tmp_path / "deep", {
        "__init__.py": "",
        **{f"l{i}/__init__.py": f"from ..l{i - 1} import x\n" if i else "" for i in range(7)},
        **{f"l{i}/x.py": "" for i in range(7)},
    })
    found = arch.problems(package, (*deep, arch.Layer("top", ("chatkit",), "")))
    assert found == ["7 levels of layers (at most 6): "
                     + " -> ".join(f"l{i}" for i in reversed(range(7)))]


def test_a_module_in_no_layer_is_named(tmp_path):
    package = make_package(tmp_path, {"__init__.py": "", "elsewhere.py": ""})
    assert arch.problems(package, LAYERS) == ["chatkit.elsewhere: in no layer of LAYERS"]


def test_the_most_specific_pattern_wins():
    names = [layer.name for layer in arch.LAYERS]
    assert names[arch.layer_of("chatkit.server.cli")] == "front ends"  # named, not server.*
    assert names[arch.layer_of("chatkit.server.app")] == "server"
    assert names[arch.layer_of("chatkit.redis.hub")] == "redis"
    assert names[arch.layer_of("chatkit.server.cli")] == "front ends"  # beats server.*
    assert names[arch.layer_of("chatkit.server.app")] == "server"
    assert arch.layer_of("chatkit.elsewhere") is None
