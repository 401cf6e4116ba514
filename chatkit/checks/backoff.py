"""Notebook 8, step 1: ``backoff(attempt, random, base, cap)`` -- how long to wait before a retry.

The check calls your ``backoff`` beside the reference's formula (exponential
backoff with *full jitter*: ``random() * min(cap, base * 2**attempt)``) for
generated calls -- attempts 0 to 40, the default ``base`` and ``cap`` and others,
``random`` streams that return 0, a half, almost 1 and seeded random values --
and compares the delay (to nine digits) and how many times ``random`` was called
(once: one draw per delay). A ✗ shows the first call, the simplest, that differs::

    >>> import random
    >>> def backoff(attempt, random=random.random, base=0.5, cap=30.0):
    ...     return random() * min(cap, base * 2 ** attempt)
    >>> run_backoff(backoff).passed
    True
"""

from __future__ import annotations

import contextlib
import random as random_module
from typing import Any, Callable, Iterable

from .engine import Alternative, Behaviour, Exercise, Mismatch, Outcome, Play, Step, Tracer, engine_step

__all__ = ["run_backoff", "check_backoff", "full_jitter", "reference_backoff", "CALLS"]

#: The defaults the exercise's signature gives.
BASE, CAP = 0.5, 30.0


def full_jitter(attempt: int, random: Callable[[], float] = random_module.random,
                base: float = BASE, cap: float = CAP) -> float:
    """The reference ``backoff``: a random share of ``min(cap, base * 2**attempt)`` seconds.

    >>> full_jitter(3, random=lambda: 0.5)   # half of 0.5 * 8
    2.0
    """
    return reference_backoff(attempt, random(), base, cap)


def reference_backoff(attempt: int, draw: float, base: float = BASE, cap: float = CAP) -> float:
    """The delay full jitter gives for ``attempt`` when ``random()`` returns ``draw``."""
    return draw * min(cap, base * 2 ** attempt)


def _calls() -> list[tuple[str, int, float, float | None, float | None]]:
    """(tag, attempt, draw, base, cap): ``None`` leaves the argument at its default."""
    calls: list[tuple[str, int, float, float | None, float | None]] = []
    for attempt in range(0, 6):  # the ceiling doubles: draws near 1 show it
        calls.append(("growth", attempt, 0.999, None, None))
    calls += [("jitter", 0, 0.5, None, None), ("jitter", 3, 0.25, None, None),
              ("jitter", 2, 0.0, None, None), ("jitter", 4, 0.1, None, None)]
    calls += [("growth", 0, 0.999, 1.0, 60.0), ("growth", 3, 0.5, 0.1, 100.0),
              ("growth", 5, 0.75, 2.0, 1000.0), ("growth", 10, 0.999, 0.001, 50.0)]
    calls += [("cap", attempt, 0.999, None, None) for attempt in (6, 7, 10, 20, 40)]
    calls += [("cap", 3, 0.5, 1.0, 5.0), ("cap", 2, 0.999, 1.0, 4.0), ("cap", 8, 0.3, 0.5, 10.0)]
    rng = random_module.Random(8)
    for _ in range(24):
        attempt = rng.randrange(0, 16)
        base = rng.choice([None, 0.05, 0.25, 1.0, 3.0])
        cap = rng.choice([None, 2.0, 10.0, 120.0])
        ceiling = (base or BASE) * 2 ** attempt
        calls.append(("cap" if ceiling > (cap or CAP) else "jitter", attempt, round(rng.random(), 6),
                      base, cap))
    return calls


CALLS = _calls()
_TAGS = ["growth", "cap", "jitter"]


def _number(value: Any) -> Any:
    """A delay as the check compares it: a float to nine digits (an int is a number too)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(f"{float(value):.9g}")
    return f"not a number: {value!r}"


class _Calls(Play):
    def __init__(self, backoff: Callable[..., Any]):
        self.backoff = backoff
        self.facts: dict[str, Any] = {}
        self.last_sent: dict[str, list[Any]] = {}

    def expect(self, step: Step) -> list[Alternative]:
        attempt, draw, base, cap = step.args
        want = reference_backoff(attempt, draw, base or BASE, cap or CAP)
        return [Alternative({"the delay": [_number(want)], "random() calls": [1]})]

    def do(self, step: Step, trace: bool = False) -> Outcome:
        attempt, draw, base, cap = step.args
        calls = [0]

        def random() -> float:
            calls[0] += 1
            return draw

        kwargs: dict[str, Any] = {"random": random}
        if base is not None:
            kwargs["base"] = base
        if cap is not None:
            kwargs["cap"] = cap
        with Tracer() if trace else contextlib.nullcontext([]) as path:
            value = self.backoff(attempt, **kwargs)
        self.facts = {"value": value, "calls": calls[0]}
        return Outcome({}, path=path, observed={"the delay": [_number(value)],
                                                "random() calls": [calls[0]]})


class BackoffChecks(Exercise):
    """Notebook 8: backoff(attempt, random, base, cap) -> seconds to wait, full jitter."""

    key = "backoff"
    title = "notebook 8, step 1: backoff with full jitter"
    behaviours = [
        Behaviour("the ceiling doubles with each attempt: base, 2*base, 4*base ...", "backoff",
                  "the ceiling for attempt n is base * 2**n (attempt 0: base itself)"),
        Behaviour("never more than cap", "backoff",
                  "the ceiling stops growing at cap: min(cap, base * 2**attempt)"),
        Behaviour("full jitter: random() times the ceiling, one draw per delay", "jitter",
                  "call random() once and multiply: a share of the ceiling between 0 and all of"
                  " it, so a class that lost the server at once does not come back at once"),
    ]

    def begin(self, subject: Any) -> Play:
        return _Calls(subject)

    def sessions(self) -> list[list[Step]]:
        return [[Step("backoff", "backoff", (attempt, draw, base, cap), tag)]
                for tag, attempt, draw, base, cap in CALLS]

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        attempt, draw, base, cap = mismatch.step.args
        base, cap = base or BASE, cap or CAP
        facts = mismatch.facts
        value = facts.get("value")
        if facts.get("calls") != 1:
            return 2
        if isinstance(value, (int, float)):
            if _number(value) == _number(min(cap, base * 2 ** attempt)) and draw < 0.99:
                return 2  # the ceiling itself: no jitter
            if base * 2 ** attempt > cap and _number(value) == _number(draw * base * 2 ** attempt):
                return 1
        return 1 if mismatch.step.tag == "cap" else 0

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        attempt, draw, base, cap = steps[index].args
        found = [0, 2]
        if (base or BASE) * 2 ** attempt > (cap or CAP):
            found.append(1)
        return found

    def say(self, steps: list[Step], index: int, names: dict[str, str]) -> str:
        attempt, draw, base, cap = steps[index].args
        more = "".join(f", {name}={value!r}" for name, value in (("base", base), ("cap", cap))
                       if value is not None)
        return f"backoff({attempt}, random=<a random() that returns {draw!r}>{more})"

    def describe(self, key: str, want: list[Any], have: list[Any], at: str,
                 names: dict[str, str]) -> list[str] | None:
        if key == "the delay":
            return [f"{at}, your backoff returned {have[0] if have else None}",
                    f"expected: {want[0]}"]
        if key == "random() calls":
            return [f"{at}, your backoff called random() {have[0]} times, expected once"]
        return None


run_backoff, check_backoff = engine_step(
    BackoffChecks(),
    "Notebook 8, step 1: the delay before a retry, exponential with full jitter.",
    "Print the notebook 8 step 1 checks: ``backoff(attempt, random, base, cap)``.",
)
