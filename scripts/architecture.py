"""chatkit's layers, its import graph, and the picture of both in docs/architecture.md.

:data:`LAYERS` is the one table of the layers, bottom first: docs/architecture.md's
layer table and picture are generated from it, and ``tests/docs/test_architecture.py``
checks the real import graph against it -- no cycle, nothing imports a layer above its
own, at most :data:`MAX_LEVELS` levels, no I/O library in the pure layers::

    .venv/bin/python scripts/architecture.py            # the tables, the picture, what breaks the rules
    .venv/bin/python scripts/architecture.py --write    # rewrite them in docs/architecture.md

The graph is read from the source with :mod:`ast`, every ``import`` counted -- those
inside functions too: an import that runs late is still a dependency.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown_blocks import ROOT, markdown_table, run  # noqa: E402  (scripts/, beside this one)

__all__ = ["Layer", "LAYERS", "MAX_LEVELS", "Import", "import_graph", "layer_of", "upward",
           "forbidden", "cycles", "levels", "longest_chain", "layer_graph", "layers_table", "layers_picture",
           "problems", "main"]

PACKAGE = ROOT / "chatkit"
PAGE = ROOT / "docs" / "architecture.md"
#: The longest chain of imports allowed, counted in layers (issue 21: 6): a chain of modules
#: inside one layer is that layer's own business; a chain across layers is the design.
MAX_LEVELS = 6
#: Libraries that do I/O or run an event loop: a pure layer imports none of them.
IO_LIBRARIES = ("asyncio", "socket", "selectors", "threading", "subprocess", "websockets",
                "werkzeug", "redis", "ipywidgets", "IPython")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer: its name, the modules it holds, what it is for, and whether it is pure.

    ``modules`` are dotted names: ``"chatkit.redis.room"`` is that module, and
    ``"chatkit.redis.*"`` the package and every module under it. A module belongs to the
    layer with its most specific pattern (a name beats a ``*``; a longer one beats a shorter).
    A pure layer never imports :data:`IO_LIBRARIES`.
    """

    name: str
    modules: tuple[str, ...]
    holds: str
    pure: bool = False


#: chatkit's layers, bottom first: each may import its own and the layers below it.
LAYERS = (
    Layer("support", ("chatkit.support.*",),
          "running things beside the program: child processes, an event loop in a thread;"
          " imports nothing of chatkit"),
    Layer("core", ("chatkit.core.*",),
          "the protocol: messages, `Room`, `ChatUser`, the limits' policy", pure=True),
    Layer("redis", ("chatkit.redis.*",),
          "rooms across servers: `RedisRoom` (a `Room` whose broadcast publishes), the"
          " envelope and Lua scripts, the hub (publisher, subscriber loop, names, presence),"
          " a local redis-server, the flow picture -- a rooms backend the server is handed"),
    Layer("server", ("chatkit.server.*",),
          "the I/O shell: routes, the page, sending, the guard, class code, the hub service,"
          " workers, the rooms backend interface"),
    Layer("front ends", ("chatkit.server.cli", "chatkit.notebook.*"),
          "`python -m chatkit serve`; `chatkit.start`, `WebSocket`, `ChatPanel`"),
    Layer("course", ("chatkit.checks.*", "chatkit.reference", "chatkit.bench.*"),
          "what the notebooks call: checks and grading, the reference, the benchmark"),
    Layer("package", ("chatkit", "chatkit.__main__"),
          "the names a student types (`chatkit.start`, ...) and `python -m chatkit`"),
)


@dataclasses.dataclass(frozen=True)
class Import:
    """``importer`` imports ``imported`` (both chatkit modules) at ``line``."""

    importer: str
    imported: str
    line: int


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement asks for (``from a import b``: ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [f"{source}.{alias.name}" for alias in node.names] + [source]


def import_graph(package: Path = PACKAGE) -> tuple[dict[str, list[Import]], dict[str, set[str]]]:
    """Each module's imports of chatkit modules, and the outside libraries it imports.

    ``from chatkit.server import app`` counts as importing ``chatkit.server.app`` (a
    module) or else ``chatkit.server`` (a name it defines).
    """
    found = modules(package)
    graph: dict[str, list[Import]] = {}
    outside: dict[str, set[str]] = {}
    for module, path in found.items():
        is_package = path.name == "__init__.py"
        edges: dict[str, Import] = {}
        libraries: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = _imported_names(node, module, is_package)
            if isinstance(node, ast.ImportFrom):  # `from a import b`: b is a module, or a's
                names = [n for n in names[:-1] if n in found] or names[-1:]
            for name in names:
                if name.split(".")[0] != "chatkit":
                    libraries.add(name.split(".")[0])
                    continue
                while name not in found and "." in name:
                    name = name.rpartition(".")[0]
                if name != module and name not in edges:
                    edges[name] = Import(module, name, node.lineno)
        graph[module] = sorted(edges.values(), key=lambda i: i.imported)
        outside[module] = libraries
    return graph, outside


def layer_of(module: str, layers: tuple[Layer, ...] = LAYERS) -> int | None:
    """The index in ``layers`` of the layer holding ``module`` (0: the bottom), or None."""
    best, best_rank = None, None
    for index, layer in enumerate(layers):
        for pattern in layer.modules:
            if pattern.endswith(".*"):
                stem = pattern[:-2]
                if module != stem and not module.startswith(stem + "."):
                    continue
                rank = (0, len(stem))
            elif module == pattern:
                rank = (1, len(pattern))
            else:
                continue
            if best_rank is None or rank > best_rank:
                best, best_rank = index, rank
    return best


def upward(graph: dict[str, list[Import]], layers: tuple[Layer, ...] = LAYERS) -> list[Import]:
    """The imports of a module in a higher layer than the importer's."""
    return [edge for edges in graph.values() for edge in edges
            if layer_of(edge.imported, layers) > layer_of(edge.importer, layers)]


def forbidden(graph: dict[str, list[Import]], outside: dict[str, set[str]],
              layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """``"module imports name"`` for each I/O library, or module of a layer that is not
    pure, that a pure layer's module imports: pure code stays pure all the way down."""
    found = []
    for module in sorted(graph):
        if not layers[layer_of(module, layers)].pure:
            continue
        found += [f"{module} imports {library}" for library in sorted(outside[module])
                  if library in IO_LIBRARIES]
        found += [f"{module} imports {edge.imported}" for edge in graph[module]
                  if not layers[layer_of(edge.imported, layers)].pure]
    return found


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The import cycles: each a list of modules that import each other, round and round."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for edge in graph[module]:
            if edge.imported not in index:
                visit(edge.imported)
                low[module] = min(low[module], low[edge.imported])
            elif edge.imported in stack:
                low[module] = min(low[module], index[edge.imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def levels(graph: dict[str, list[Import]]) -> dict[str, int]:
    """Each module's level: 1 if it imports no chatkit module, else 1 + its imports' highest.

    Modules in one cycle count as one step (so the answer exists even with cycles).
    """
    component = {m: tuple(c) for c in cycles(graph) for m in c}
    memo: dict[str, int] = {}

    def level(module: str) -> int:
        if module not in memo:
            members = component.get(module, (module,))
            memo.update({m: 0 for m in members})  # being computed
            below = [level(e.imported) for m in members for e in graph[m]
                     if e.imported not in members]
            memo.update({m: 1 + max(below, default=0) for m in members})
        return memo[module]

    return {module: level(module) for module in sorted(graph)}


def longest_chain(graph: dict[str, list[Import]]) -> list[str]:
    """One longest chain of imports, from the top module down: ``[a, b, c]``, a imports b...

    Modules in one cycle are one step, shown as ``"(a <-> b)"``.
    """
    depth = levels(graph)
    component = {m: c for c in cycles(graph) for m in c}
    module = min(depth, key=lambda m: (-depth[m], m))
    chain = []
    while True:
        members = component.get(module, [module])
        chain.append(f"({' <-> '.join(members)})" if len(members) > 1 else module)
        below = sorted(e.imported for m in members for e in graph[m]
                       if depth[e.imported] == depth[module] - 1 and e.imported not in members)
        if not below:
            return chain
        module = below[0]


def layer_graph(graph: dict[str, list[Import]],
                layers: tuple[Layer, ...] = LAYERS) -> dict[str, list[Import]]:
    """The import graph between layers: ``layer a`` imports ``layer b`` if a module does.

    Its :func:`longest_chain` is what :data:`MAX_LEVELS` bounds.
    """
    names = [layer.name for layer in layers]
    found: dict[str, list[Import]] = {name: [] for name in names}
    for edges in graph.values():
        for edge in edges:
            a, b = names[layer_of(edge.importer, layers)], names[layer_of(edge.imported, layers)]
            if a != b and all(e.imported != b for e in found[a]):
                found[a].append(Import(a, b, edge.line))
    return found


def problems(package: Path = PACKAGE, layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """Every way the package breaks the rules, one line each; empty when it keeps them."""
    graph, outside = import_graph(package)
    found = [f"{m}: in no layer of LAYERS" for m in graph if layer_of(m, layers) is None]
    if found:
        return found
    found += ["cycle: " + " <-> ".join(c) for c in cycles(graph)]
    found += [f"upward: {e.importer} ({layers[layer_of(e.importer, layers)].name}) imports"
              f" {e.imported} ({layers[layer_of(e.imported, layers)].name}), line {e.line}"
              for e in upward(graph, layers)]
    found += [f"impure: {line}" for line in forbidden(graph, outside, layers)]
    chain = longest_chain(layer_graph(graph, layers))
    if len(chain) > MAX_LEVELS:
        found.append(f"{len(chain)} levels of layers (at most {MAX_LEVELS}): "
                     + " -> ".join(chain))
    return found


# -- the page --------------------------------------------------------------------------------


def layers_table(layers: tuple[Layer, ...] = LAYERS) -> str:
    """The layer table of docs/architecture.md, top layer first."""
    rows = [(str(number), layer.name, ", ".join(f"`{m}`" for m in layer.modules),
             layer.holds + (" -- pure: no I/O, no event loop" if layer.pure else ""))
            for number, layer in reversed(list(enumerate(layers, 1)))]
    return markdown_table(("layer", "name", "modules", "what it holds"), rows)


def layers_picture(package: Path = PACKAGE, layers: tuple[Layer, ...] = LAYERS,
                   width: int = 78) -> str:
    """The layers as stacked boxes, each with the modules it holds now, top first."""
    graph, _ = import_graph(package)
    held: dict[int, list[str]] = {i: [] for i in range(len(layers))}
    for module in sorted(graph):
        held[layer_of(module, layers)].append(module)
    depth = levels(graph)
    inner = width - 4
    lines = ["```"]
    for number in reversed(range(len(layers))):
        title = f" {number + 1} {layers[number].name} "
        corner = "┌" if number == len(layers) - 1 else "├"
        end = "┐" if number == len(layers) - 1 else "┤"
        lines.append(f"{corner}─{title}{'─' * (width - 3 - len(title))}{end}")
        groups: dict[str, list[str]] = {}
        for module in held[number]:
            parent, _, leaf = module.rpartition(".")
            if module in graph and any(m.startswith(module + ".") for m in graph):
                parent, leaf = module, "__init__"  # a package: listed with its modules
            groups.setdefault(parent, []).append(f"{leaf}({depth[module]})")
        if not groups:
            lines.append(f"│ {'(no module yet)':<{inner}} │")
        for parent, leaves in groups.items():
            text = f"{parent}: " + " ".join(leaves)
            for row in textwrap.wrap(text, inner, subsequent_indent=" " * (len(parent) + 2)):
                lines.append(f"│ {row:<{inner}} │")
    lines.append(f"└{'─' * (width - 2)}┘")
    lines.append("```")
    return "\n".join(lines) + "\n"


#: The generated blocks of docs/architecture.md.
TABLES = {"layers": layers_table, "picture": layers_picture}


def main(argv: list[str]) -> int:
    status = run(argv, PAGE, TABLES, __doc__)
    if not argv:
        found = problems()
        print("\n".join(found) if found else "the import graph keeps every rule")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
