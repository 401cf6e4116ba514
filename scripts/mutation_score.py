#!/usr/bin/env python3
"""How much do the course's checks catch that nobody listed? Mutate the exercises' solutions and see.

    python scripts/mutation_score.py              # every exercise; prints the figure
    python scripts/mutation_score.py --only Room  # one exercise
    python scripts/mutation_score.py -v           # and every mutant, caught or not

Each solution a student pastes (``chatkit.checks.solutions.SOLUTIONS``: the
instructor's answer cells) is parsed, and changed in one place at a time by five
operators -- flip a comparison (``==``/``!=``, ``<``/``>=``, ``is``/``is not``,
``in``/``not in``, drop a ``not``), drop a statement, change a constant (a
string emptied, given a letter, or its first letter in the other case; a number
plus one; ``True``/``False`` swapped; ``None`` made ``""``), swap the first two arguments of a call, remove a
``return`` or an ``await``. Each mutant runs the course's own checks, exactly as
a student's cell would (``checks.run_room(Room)`` ...); it is *caught* when any
behaviour fails. A mutant that survives is either a gap in the checks or
*equivalent* -- it behaves as the original in every way the exercise can see
(an error's wording is free, a default nobody reads, a ``pass`` that was never
reached): ``EQUIVALENT`` lists those, each with why, and they leave the figure.

The figure: caught / (all mutants - equivalent ones). Notebook 7's SharedRoom
runs against a redis-server started for the run (skipped, and said, if there is
none). The checks' time limits are shortened (1 s a step, 0.5 s an answer) so
that mutants that hang cost little; nothing else differs from a check cell.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatkit import checks  # noqa: E402
from chatkit.checks.solutions import SOLUTIONS  # noqa: E402

PRELUDE = """
import asyncio, html, json, random
import chatkit
from chatkit import ChatUser, Room, checks, reference
from chatkit.core.jokes import JOKES
from chatkit.redis.room import RedisRoom
from chatkit.checks.backoff import full_jitter as backoff  # notebook 8's client takes one
"""
#: The check cells of each exercise (what a student runs after pasting the solution).
CHECKS = {"connect": ["client"], "chat": ["route"], "ChatUser": ["chat_user"], "Room": ["room"],
          "MyChatUser": ["errors", "commands"], "render": ["render"], "SharedRoom": ["redis_room"],
          "backoff": ["backoff"], "History": ["history"], "Reconnecting": ["reconnecting"]}

#: Survivors that behave as the original in every way the exercise can see, and why.
#: (solution, the mutant's description as printed, why) -- matched on the description.
EQUIVALENT: list[tuple[str, str, str]] = [
    ("Room", "line 19: change a constant: None -> ''",
     "members is a dict used as an ordered set: its values are never read"),
    ("Room", "line 23: change a constant: None -> ''",
     "pop's default is returned for a member that was not there, and nobody reads it"),
    ("chat", "line 5: drop a statement: await websocket.close() -> pass",
     "the handler returns right after, and websockets closes the connection with 1000 when"
     " the handler returns -- the same close the client sees (a right style of its own)"),
    ("chat", "line 6: drop a statement: return -> pass",
     "after the close, `async for message in websocket` ends by itself: the handler returns"
     " one line later"),
    ("render", "line 3: change a constant: '</li>' -> ''",
     "a browser closes an open li by itself: the same elements, the same text"),
    *(("render", f"line 3: change a constant: {before!r} -> {after!r}",
       "HTML's tag names are the same in any case: a browser reads <Li> as <li>")
      for before, after in (("<li><b>", "<Li><b>"), (": </b>", ": </B>"), ("</li>", "</Li>"))),
    # notebook 8
    ("backoff", "line 3: swap arguments: min(cap, base * 2 ** attempt) -> min(base * 2 ** attempt, cap)",
     "min is symmetric"),
    ("History", "line 22: swap arguments: max(0, oldest - 1 - last_id) -> max(oldest - 1 - last_id, 0)",
     "max is symmetric"),
    ("History", "line 4: change a constant: 200 -> 201",
     "the default limit: the server and the notebook always name the limit"),
    *(("Reconnecting", f"line 11: {change}",
       "held is set by handle_open before any message can come: its first value is never read")
      for change in ("drop a statement: self.held = None -> pass", "change a constant: None -> ''")),
    ("Reconnecting", "line 10: change a constant: None -> ''",
     "the first history's epoch differs from None and from '' alike"),
    ("Reconnecting", "line 34: change a constant: None -> ''",
     "a first join then says \"since\": null, \"epoch\": null -- a first join all the same"
     " (chatkit.checks.reconnecting allows it)"),
    *(("Reconnecting", f"line {line}: drop a statement: {what}",
       "connect() returns once closed: the timer handle_close sets fires and does nothing")
      for line, what in ((62, "if self.closed: return -> pass"), (63, "return -> pass"))),
]


@dataclasses.dataclass
class Mutant:
    solution: str
    operator: str
    line: int
    before: str
    after: str
    source: str
    part: bool = False  # a constant that is one part of an f-string
    method: str = ""  # the method a dropped statement defines

    @property
    def description(self) -> str:
        return f"line {self.line}: {self.operator}: {self.before} -> {self.after}"


# -- the operators -----------------------------------------------------------------------

FLIP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE,
        ast.LtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
        ast.NotIn: ast.In}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: they are not code, no mutant touches them."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                found.add(id(body[0]))
                found.add(id(body[0].value))
    return found


def _constant(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, (int, float)):
        return [value + 1]
    if isinstance(value, str):
        changed = ["" if value else "x"] + ([value + "x"] if value else [])
        letter = next((i for i, c in enumerate(value) if c.isalpha()), None)
        if letter is not None:  # the same word in another case: "join" -> "Join"
            changed.append(value[:letter] + value[letter].swapcase() + value[letter + 1:])
        return changed
    if value is None:
        return [""]
    return []


def sites(tree: ast.AST) -> Iterator[tuple[str, ast.AST, Any]]:
    """Every place a mutant can be made: (operator, node, how)."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare) and type(node.ops[0]) in FLIP:
            yield "flip a comparison", node, None
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield "flip a comparison", node, "not"
        elif isinstance(node, ast.Constant) and not isinstance(node.value, bytes):
            for value in _constant(node.value):
                yield "change a constant", node, value
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(
                isinstance(a, ast.Starred) for a in node.args[:2]):
            yield "swap arguments", node, None
        elif isinstance(node, ast.Return) and node.value is not None:
            yield "remove a return", node, None
        elif isinstance(node, ast.Await):
            yield "remove an await", node, None
        if hasattr(node, "body") and isinstance(node.body, list) and not isinstance(node, ast.Module):
            # (not the cell's own definition: without it the cell would define nothing)
            for field in ("body", "orelse", "finalbody"):
                for statement in getattr(node, field, []) or []:
                    if id(statement) not in skip and not isinstance(statement, ast.Pass):
                        yield "drop a statement", statement, (node, field)
            for handler in getattr(node, "handlers", []) or []:
                for statement in handler.body:
                    if not isinstance(statement, ast.Pass):
                        yield "drop a statement", statement, (handler, "body")


class _Apply(ast.NodeTransformer):
    """Make the mutant at the ``target``-th site (in :func:`sites`' order)."""

    def __init__(self, target: tuple[str, ast.AST, Any]):
        self.operator, self.node, self.how = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if self.operator == "drop a statement":
            parent, field = self.how
            if node is parent:
                body = getattr(node, field)
                setattr(node, field, [ast.Pass() if s is self.node else s for s in body])
                return node
        if node is not self.node:
            return super().generic_visit(node)
        if self.operator == "flip a comparison":
            if self.how == "not":
                return node.operand
            node.ops = [FLIP[type(node.ops[0])](), *node.ops[1:]]
            return node
        if self.operator == "change a constant":
            return ast.Constant(self.how)
        if self.operator == "swap arguments":
            node.args = [node.args[1], node.args[0], *node.args[2:]]
            return node
        if self.operator == "remove a return":
            return ast.Expr(node.value)
        if self.operator == "remove an await":
            return node.value
        return node


def mutants(name: str, source: str) -> Iterator[Mutant]:
    """Every mutant of one solution, once each (a mutant that reads as the original is skipped)."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    count = len(list(sites(tree)))
    seen = set()
    for index in range(count):
        copied = ast.parse(source)
        target = list(sites(copied))[index]
        located = _located(tree, index)
        before = (repr(located.value) if isinstance(located, ast.Constant)
                  else ast.get_source_segment(source, located) or ast.unparse(target[1]))
        mutated = ast.fix_missing_locations(_Apply(target).visit(copied))
        text = ast.unparse(mutated)
        if text == original or text in seen:
            continue
        seen.add(text)
        after = _after(target, before)
        parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                 for v in node.values}
        method = located.name if isinstance(located, (ast.FunctionDef, ast.AsyncFunctionDef)) \
            and target[0] == "drop a statement" else ""
        yield Mutant(name, target[0], getattr(target[1], "lineno", 0), _short(before), after, text,
                     id(located) in parts, method)


def _located(tree: ast.AST, index: int) -> ast.AST:
    return list(sites(tree))[index][1]


def _after(target: tuple[str, ast.AST, Any], before: str) -> str:
    operator, node, how = target
    if operator == "drop a statement":
        return "pass"
    if operator == "change a constant":
        return repr(how)
    return _short(ast.unparse(node))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


# -- running the checks on each ----------------------------------------------------------


def caught(mutant: Mutant, redis_url: str | None) -> tuple[bool, str]:
    """Run the course's checks on the mutant: (caught?, the first failing behaviour)."""
    namespace: dict[str, Any] = {}
    exec(PRELUDE, namespace)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "is" with a literal, and the like
            exec(compile(mutant.source, f"<{mutant.solution} mutant>", "exec"), namespace)
    except Exception as exc:  # the cell itself raises: the student sees it at once
        return True, f"the cell raises {type(exc).__name__}"
    subject = namespace[mutant.solution]
    for check in CHECKS[mutant.solution]:
        run = getattr(checks, f"run_{check}")
        report = run(subject, redis_url) if check == "redis_room" else run(subject)
        if not report.passed:
            failed = next(r for r in report.results if r.status != "pass")
            return True, failed.behaviour
    return False, ""


def equivalent(mutant: Mutant) -> str:
    """Why a survivor is equivalent ("" if it is not known to be)."""
    for solution, pattern, why in EQUIVALENT:
        if solution == mutant.solution and pattern == mutant.description:
            return why
    if mutant.operator == "change a constant" and _in_error_call(mutant):
        return "an error's wording is free: any non-empty text (chatkit.checks.freedoms)"
    if mutant.method and mutant.solution in INHERITS and hasattr(INHERITS[mutant.solution](),
                                                                 mutant.method):
        return (f"without its own {mutant.method}, the class runs the one it inherits from the"
                " reference class the exercise extends -- which is right")
    return ""


def _in_error_call(mutant: Mutant) -> bool:
    """A constant of an error's text, still not empty after the change."""
    line = SOLUTIONS[mutant.solution].splitlines()[mutant.line - 1]
    return "self.error(" in line and (mutant.after != "''" or mutant.part)


#: Exercises that extend a reference class (notebook 5: MyChatUser(ChatUser)).
INHERITS = {"MyChatUser": lambda: __import__("chatkit").ChatUser,
            "SharedRoom": lambda: __import__("chatkit.redis.room", fromlist=["RedisRoom"]).RedisRoom}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="a solution's name (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--json", help="write every mutant's outcome to this file")
    args = parser.parse_args(argv)
    checks.limits.LIMIT = 1.0
    checks.sockets.TIMEOUT = 0.5
    names = args.only or list(CHECKS)
    redis_server = redis_url = None
    if "SharedRoom" in names:
        try:
            from chatkit.redis.local import start_redis

            redis_server = start_redis()
            redis_url = redis_server.url
        except Exception as exc:
            print(f"SharedRoom skipped: no redis-server ({exc})")
            names = [n for n in names if n != "SharedRoom"]
    rows, started = [], time.monotonic()
    try:
        for name in names:
            for mutant in mutants(name, SOLUTIONS[name]):
                was_caught, why = caught(mutant, redis_url)
                reason = "" if was_caught else equivalent(mutant)
                rows.append((mutant, was_caught, why, reason))
                if args.verbose or (not was_caught and not reason):
                    mark = "caught  " if was_caught else ("equal   " if reason else "SURVIVED")
                    print(f"{mark} {name} {mutant.description}" + (f"  [{why}]" if why else "")
                          + (f"  -- {reason}" if reason else ""))
    finally:
        if redis_server is not None:
            redis_server.stop()
    print()
    print(f"{'solution':12} {'mutants':>7} {'caught':>7} {'equiv.':>7} {'survived':>8}")
    for name in names:
        mine = [r for r in rows if r[0].solution == name]
        print(f"{name:12} {len(mine):7} {sum(r[1] for r in mine):7}"
              f" {sum(bool(r[3]) for r in mine):7} {sum(not r[1] and not r[3] for r in mine):8}")
    by_operator: dict[str, list] = {}
    for row in rows:
        by_operator.setdefault(row[0].operator, []).append(row)
    print()
    for operator, mine in sorted(by_operator.items()):
        print(f"{operator:20} {len(mine):4} mutants, {sum(r[1] for r in mine):4} caught,"
              f" {sum(bool(r[3]) for r in mine):3} equivalent")
    total = len(rows)
    equal = sum(bool(r[3]) for r in rows)
    got = sum(r[1] for r in rows)
    print(f"\n{got} of {total - equal} non-equivalent mutants caught"
          f" ({100 * got / max(total - equal, 1):.1f}%); {equal} equivalent;"
          f" {total} in all, {time.monotonic() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"solution": m.solution, "operator": m.operator, "line": m.line, "before": m.before,
             "after": m.after, "caught": c, "by": why, "equivalent": reason}
            for m, c, why, reason in rows], indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
