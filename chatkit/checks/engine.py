"""The differential engine: your code and the reference, side by side, through generated sessions.

A *session* is a list of :class:`Step` s -- people connect, join, chat, close,
in any order; a room is asked for, joined, left, broadcast to. An exercise
(:class:`Exercise`) generates its sessions, tricky ones first (names that differ
only in case or accents, rooms that empty out mid-session ...) then seeded random
ones, a fixed number, so every run sees the same ones. For each step the
exercise's *reference model* says what each member must receive -- one answer,
or several where the protocol leaves a choice (:mod:`.freedoms`) -- and the
engine runs the same step on your code and compares, member by member, parsed
JSON. A step that differs is classified into one of the exercise's behaviours
(the ✓/✗ lines); for each behaviour that failed, the session is *shrunk* -- steps
dropped, values made plainer -- to the shortest one that still fails, and that
session is the hint: the steps, what the reference sent to whom, what yours
sent, and the line of your code on that path.

    >>> from chatkit.checks.engine import Step
    >>> print(Step("frame", "u1", ('{"type": "chat", "text": "hi"}',)))
    u1: frame {"type": "chat", "text": "hi"}

Each step runs under a deadline (:mod:`.limits`); a step that hangs is stopped
at its line, and later sessions stop before any step of that kind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import time
from typing import Any, Callable, Iterable

from .fakes import decode_sent, explain_difference
from .freedoms import Free, same, show
from .limits import TookTooLong, Watchdog, is_theirs, step_limit, where, where_in_stack
from .report import FAIL, NOT_DONE, OK, Fail, Report, Result, checked, fail_lines, named, not_done_lines

__all__ = ["Step", "Alternative", "Outcome", "Mismatch", "Behaviour", "Exercise", "Play",
           "explore", "SHRINK_REPLAYS"]

_CHECKS = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the checks' own code

#: Replays one failing behaviour's shrinking may take (each replays a short session).
SHRINK_REPLAYS = 150
#: Seconds one behaviour's shrinking may take, at most.
SHRINK_SECONDS = 0.4


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing that happens in a session: ``kind`` by ``who``, with ``args``.

    ``tag`` says what the generator meant the step to probe (a bad frame's kind,
    a /priv to someone absent ...): the exercise classifies a failure by it.
    """

    kind: str
    who: str
    args: tuple = ()
    tag: str = ""

    def __str__(self) -> str:
        return f"{self.who}: {self.kind} {' '.join(map(str, self.args))}".rstrip()


@dataclasses.dataclass
class Alternative:
    """One answer the reference accepts for a step: who receives what, and what it changes."""

    deliveries: dict[str, list[Any]]
    apply: Callable[[], None] | None = None
    says: str = ""  # in words, when the protocol leaves a choice: "refuses the name"


@dataclasses.dataclass
class Outcome:
    """What the code under check did in one step."""

    sent: dict[str, list[Any]]  # who -> what was passed to their send, in order
    raised: BaseException | None = None
    sent_from: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # traced only
    path: list[str] = dataclasses.field(default_factory=list)  # traced only: lines run
    observed: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. Room.rooms


@dataclasses.dataclass
class Mismatch:
    """A step where the code under check and the reference differ."""

    index: int  # in the steps that ran
    step: Step
    alternatives: list[Alternative]
    closest: Alternative
    outcome: Outcome
    got: dict[str, list[Any]]  # decoded: messages, or a Fail saying what was wrong
    differing: list[str]  # who received something other than the closest alternative says
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)  # the model's, before the step

    @property
    def hung(self) -> bool:
        return isinstance(self.outcome.raised, TookTooLong)

    @property
    def not_done(self) -> bool:
        return isinstance(self.outcome.raised, NotImplementedError)


@dataclasses.dataclass
class Behaviour:
    """A ✓/✗ line: its words, its group (a stable slug for grading), and a hint for a failure."""

    text: str
    group: str
    hint: str | Callable[[Mismatch, Any], str] = ""


class Play:
    """One session's run: the reference model and the code under check, side by side.

    An exercise's ``begin(subject)`` makes one; the engine calls :meth:`expect`
    then :meth:`do` for each step, then :meth:`close`. A subclass writes
    :meth:`expect`, :meth:`run` (the student's code for one step) and :meth:`broke`
    (a member's connection breaks); its members' ``send`` calls :meth:`record`.
    """

    last_sent: dict[str, list[Any]]
    sent_from: dict[str, list[str]]
    tracing = False

    def expect(self, step: Step) -> list[Alternative] | None:
        """The answers the reference accepts, or None if the step cannot happen now."""
        raise NotImplementedError

    def do(self, step: Step, trace: bool = False) -> Outcome:
        """Run ``step`` on the code under check (exceptions are the caller's to catch)."""
        self.last_sent, self.sent_from, self.tracing = {}, {}, trace
        if step.kind == "break":
            self.broke(step.who)
            return Outcome({})
        path: list[str] = []
        if trace:
            with Tracer() as path:
                self.run(step)
        else:
            self.run(step)
        return Outcome(self.last_sent, sent_from=self.sent_from, path=path)

    def run(self, step: Step) -> None:
        """The student's code for one step (not a break)."""
        raise NotImplementedError

    def broke(self, who: str) -> None:
        """``who``'s connection breaks: its ``send`` fails from now on."""
        raise NotImplementedError

    def record(self, who: str, data: Any) -> None:
        """What a member's ``send`` was given (and, when tracing, from which line)."""
        self.last_sent.setdefault(who, []).append(data)
        if self.tracing:
            self.sent_from.setdefault(who, []).append(sender_line())

    def compare(self, step: Step, alternative: Alternative, outcome: Outcome,
                got: dict[str, list[Any]]) -> list[str]:
        """Who differs from ``alternative`` (beyond deliveries, an exercise may compare more)."""
        return _differing(alternative.deliveries, got)

    def close(self) -> None:
        """Undo what the session changed (registries, ...)."""


class Exercise:
    """One exercise's checks: its behaviours, its sessions, its reference model.

    Subclasses define ``key`` (``run_<key>``), ``title``, ``behaviours``,
    :meth:`sessions`, :meth:`begin` (a :class:`Play` per session), :meth:`classify`,
    :meth:`exercised` and :meth:`say` (a step in words); and may define
    ``describe(key, want, have, at, names)`` to say a difference that is not a
    message (``Room.rooms``, what a reader sees) in its own words.
    """

    key = ""
    title = ""
    behaviours: list[Behaviour] = []

    def sessions(self) -> list[list[Step]]:
        raise NotImplementedError

    def begin(self, subject: Any) -> Play:
        raise NotImplementedError

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        """The behaviour (index) a mismatch belongs to."""
        raise NotImplementedError

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        """The behaviours step ``index`` puts to the test."""
        raise NotImplementedError

    def say(self, steps: list[Step], index: int, names: dict[str, str]) -> str:
        return str(steps[index])

    def names(self, steps: list[Step]) -> dict[str, str]:
        """What to call each actor of a session in the report (``u1`` -> ``Juanita``)."""
        return {}

    def simpler(self, step: Step) -> Iterable[Step]:
        """Plainer versions of a step, for shrinking (plainest first)."""
        return ()

    def preflight(self, subject: Any) -> None:
        """Raise :class:`Fail` if the subject cannot be checked at all (no ``Room``, ...)."""


# -- running one session ------------------------------------------------------------


@dataclasses.dataclass
class Run:
    steps: list[Step]  # the steps that ran (a step that could not happen is dropped)
    mismatches: list[Mismatch]
    cut: bool = False  # stopped early: a step hung, or a step of a kind that hung came up


def replay(exercise: Exercise, subject: Any, steps: list[Step], watch: Watchdog,
           trace_at: int | None = None, blocked: frozenset[str] = frozenset(),
           stop: Callable[[Mismatch], bool] | None = None) -> Run:
    """Run ``steps`` on the model and on ``subject``; collect where they differ."""
    play = exercise.begin(subject)
    ran: list[Step] = []
    mismatches: list[Mismatch] = []
    limit = step_limit()
    cut = False
    try:
        for step in steps:
            if step.kind in blocked:
                cut = True
                break
            alternatives = play.expect(step)
            if alternatives is None:
                continue
            index = len(ran)
            ran.append(step)
            try:
                with watch.deadline(limit):
                    outcome = play.do(step, trace=index == trace_at)
            except BaseException as exc:  # the student's code raised (or was stopped)
                if isinstance(exc, TookTooLong) and not exc.where:
                    exc.where = watch.where
                if isinstance(exc, KeyboardInterrupt):
                    raise
                outcome = Outcome(getattr(play, "last_sent", {}) or {}, raised=exc)
            observe = getattr(play, "observe", None)
            if observe is not None and not isinstance(outcome.raised, TookTooLong):
                try:
                    with watch.deadline(limit):
                        outcome.observed.update(observe(step))
                except Exception as exc:  # reading the student's state ran their code, and it raised
                    outcome.raised = outcome.raised or exc
            mismatch = _judge(play, index, step, alternatives, outcome)
            if mismatch is not None:
                mismatches.append(mismatch)
                cut = cut or mismatch.hung
                if mismatch.hung or (stop is not None and stop(mismatch)):
                    break
    finally:
        play.close()
    return Run(ran, mismatches, cut)


def _judge(play: Play, index: int, step: Step, alternatives: list[Alternative],
           outcome: Outcome) -> Mismatch | None:
    got = _decoded(outcome.sent)
    got.update(outcome.observed)
    best, best_rank, best_differing = alternatives[0], None, None
    for alternative in alternatives:
        differing = [] if outcome.raised is None else ["(raised)"]
        differing += play.compare(step, alternative, outcome, got)
        if not differing:
            if alternative.apply is not None:
                alternative.apply()
            return None
        # Where the protocol leaves a choice, the kinds of message sent (an error, a note)
        # say which one was made -- the actor's first.
        everyone = {**alternative.deliveries, **got}
        shapes = [who for who in everyone
                  if _shape(alternative.deliveries.get(who, ())) != _shape(got.get(who, ()))]
        counts = [who for who in everyone
                  if len(alternative.deliveries.get(who, ())) != len(got.get(who, ()))]
        rank = (step.who in shapes, len(counts), len(shapes), len(differing))
        if best_rank is None or rank < best_rank:
            best, best_rank, best_differing = alternative, rank, differing
    if best.apply is not None:
        best.apply()  # go on as the closest answer would
    resync = getattr(play, "resync", None)
    if resync is not None:
        resync(step, outcome)  # where the model can see your state, it goes on from there
    return Mismatch(index, step, alternatives, best, outcome, got,
                    [who for who in best_differing or [] if who != "(raised)"],
                    dict(getattr(play, "facts", {}) or {}))


def _shape(messages: Any) -> tuple:
    """The kinds of message in a list (``("note", "chat")``): what a choice changes."""
    return tuple(m.get("type") if isinstance(m, dict) else "?" for m in messages)


def _decoded(sent: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Parse what each member was sent (a str parsed once, however many got it)."""
    cache: dict[int, Any] = {}
    got: dict[str, list[Any]] = {}
    for who, texts in sent.items():
        messages = []
        for text in texts:
            key = id(text)
            if key not in cache:
                if type(text) is str:
                    try:
                        value = json.loads(text)
                        cache[key] = value if isinstance(value, dict) else _problem(who, text)
                    except ValueError:
                        cache[key] = _problem(who, text)
                else:
                    cache[key] = _problem(who, text)
            messages.append(cache[key])
        got[who] = messages
    return got


def _problem(who: str, text: Any) -> Fail:
    """Why ``text`` is not a message (bytes, a dict, not JSON ...), as the checks say it."""
    try:
        value = decode_sent(who, [text])[0]
    except Fail as fail:
        return fail
    return Fail(f"{who} was sent JSON that is not an object", "JSON text of an object: {...}",
                text, "a message is an object: {\"type\": ..., ...}" if value is not None else "")


def _differing(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> list[str]:
    differing = []
    for who in {**expected, **got}:
        want, have = expected.get(who, ()), got.get(who, ())
        if len(want) != len(have) or not all(
                not isinstance(h, Fail) and same(h, w) for h, w in zip(have, want)):
            differing.append(who)
    return differing


# -- exploring, shrinking, reporting ---------------------------------------------------


@dataclasses.dataclass
class _Found:
    steps: list[Step]
    mismatch: Mismatch


def explore(exercise: Exercise, subject: Any) -> list[Result]:
    """Run ``exercise``'s sessions on ``subject``; a :class:`Result` per behaviour."""
    behaviours = exercise.behaviours
    try:
        exercise.preflight(subject)
    except Fail as fail:

        return [Result(b.text, FAIL, fail_lines(fail), b.group) for b in behaviours]
    found: dict[int, _Found] = {}
    judged = [0] * len(behaviours)
    blocked: set[str] = set()
    sessions = exercise.sessions()
    with Watchdog() as watch:
        tried = 0
        for steps in sessions:
            tried += 1
            run = replay(exercise, subject, steps, watch, blocked=frozenset(blocked))
            for index in range(len(run.steps) if not run.cut else 0):  # a session cut short
                for b in exercise.exercised(run.steps, index):  # tested nothing for sure
                    judged[b] += 1
            for mismatch in run.mismatches:
                b = exercise.classify(run.steps, mismatch)
                # Not written yet, or stopped: every behaviour the step tests is not there.
                for b in (exercise.exercised(run.steps, mismatch.index)
                          if mismatch.not_done or mismatch.hung else ()) or (b,):
                    if b not in found:
                        found[b] = _Found(run.steps[: mismatch.index + 1], mismatch)
                if mismatch.hung:
                    blocked.add(mismatch.step.kind)
            if len(found) == len(behaviours):
                break
        results = []
        for b, behaviour in enumerate(behaviours):
            if b in found:
                results.append(_failure(exercise, subject, b, found[b], watch, tried,
                                        frozenset(blocked)))
            elif judged[b] == 0:
                not_done = next((f.mismatch for f in found.values() if f.mismatch.not_done), None)
                if not_done is not None:  # what blocks it is not written yet
                    results.append(Result(behaviour.text, NOT_DONE,
                                          not_done_lines(not_done.outcome.raised), behaviour.group))
                    continue
                why = next((f"not tried: a step it needs ({k}) took too long" for k in blocked), "")
                results.append(Result(behaviour.text, FAIL,
                                      [why or "not tried: no session reached it"],
                                      behaviour.group))
            else:
                results.append(Result(behaviour.text, OK, [], behaviour.group))
    return results


def _failure(exercise: Exercise, subject: Any, b: int, found: _Found, watch: Watchdog,
             tried: int, blocked: frozenset[str]) -> Result:
    behaviour = exercise.behaviours[b]
    if found.mismatch.not_done:
        return Result(behaviour.text, NOT_DONE, not_done_lines(found.mismatch.outcome.raised),
                      behaviour.group)
    steps, mismatch = found.steps, found.mismatch
    if not mismatch.hung:
        steps, mismatch = _shrink(exercise, subject, b, steps, mismatch, watch, blocked)
        traced = replay(exercise, subject, steps, watch, trace_at=mismatch.index,
                        blocked=blocked, stop=lambda m: m.index >= mismatch.index)
        again = [m for m in traced.mismatches if m.index == mismatch.index]
        if again:
            mismatch = again[0]
    lines = _session_lines(exercise, steps, mismatch, tried)
    lines += _difference_lines(exercise, steps, mismatch)
    hint = behaviour.hint(mismatch, exercise) if callable(behaviour.hint) else behaviour.hint
    if mismatch.hung:
        raised = mismatch.outcome.raised
        hint = getattr(raised, "hint", "") or (
            "a loop that never ends, or code that waits for something that never comes"
            " (in async code: a call without await, or time.sleep instead of await asyncio.sleep)")
    explained = _explanation(mismatch)
    if explained:
        hint = explained
    if hint:
        lines.append(f"hint: {hint}")
    return Result(behaviour.text, FAIL, lines, behaviour.group)


def _fails_as(exercise: Exercise, subject: Any, b: int, steps: list[Step], watch: Watchdog,
              blocked: frozenset[str]) -> tuple[list[Step], Mismatch] | None:
    def is_b(mismatch: Mismatch) -> bool:
        return not mismatch.hung and exercise.classify(run_steps, mismatch) == b

    run_steps: list[Step] = []
    run = replay(exercise, subject, steps, watch, blocked=blocked)
    run_steps = run.steps
    for mismatch in run.mismatches:
        if is_b(mismatch):
            return run.steps[: mismatch.index + 1], mismatch
    return None


def _shrink(exercise: Exercise, subject: Any, b: int, steps: list[Step], mismatch: Mismatch,
            watch: Watchdog, blocked: frozenset[str]) -> tuple[list[Step], Mismatch]:
    """The shortest session that still fails behaviour ``b`` (delta debugging, then plainer values)."""
    budget = [SHRINK_REPLAYS]
    deadline = time.monotonic() + SHRINK_SECONDS

    def attempt(candidate: list[Step]) -> tuple[list[Step], Mismatch] | None:
        if budget[0] <= 0 or time.monotonic() > deadline:
            return None
        budget[0] -= 1
        return _fails_as(exercise, subject, b, candidate, watch, blocked)

    best = (steps, mismatch)
    again = attempt(steps)  # the session alone (the ones before it may have left traces)
    if again is None:
        return best
    best = again
    chunks = 2
    while len(best[0]) >= 2 and budget[0] > 0:
        current = best[0]
        size = math.ceil(len(current) / chunks)
        smaller = None
        for start in range(0, len(current), size):
            candidate = current[:start] + current[start + size:]
            if candidate:
                smaller = attempt(candidate)
                if smaller is not None:
                    break
        if smaller is not None:
            best = smaller
            chunks = max(chunks - 1, 2)
        elif size == 1:
            break
        else:
            chunks = min(len(current), chunks * 2)
    for i in range(len(best[0])):  # plainer values, step by step
        for plainer in exercise.simpler(best[0][i]):
            if budget[0] <= 0:
                break
            candidate = best[0][:i] + [plainer] + best[0][i + 1:]
            result = attempt(candidate)
            if result is not None and len(result[0]) <= len(best[0]):
                best = result
                break
    return best


def _session_lines(exercise: Exercise, steps: list[Step], mismatch: Mismatch,
                   tried: int) -> list[str]:
    names = exercise.names(steps)
    lines = [f"the shortest session that shows it ({tried} sessions tried):"]
    for i in range(len(steps)):
        lines.append(f"  {i + 1}. {exercise.say(steps, i, names)}")
    return lines


def _difference_lines(exercise: Exercise, steps: list[Step], mismatch: Mismatch) -> list[str]:
    names = exercise.names(steps)
    call = lambda who: names.get(who, who)  # noqa: E731
    raised = mismatch.outcome.raised
    at = f"at step {mismatch.index + 1}"
    if isinstance(raised, TookTooLong):
        return [f"{at}, your code took longer than {raised.seconds:.2g} s, and was stopped"
                f"{raised.where or ' (waiting)'}"]
    lines: list[str] = []
    if raised is not None:
        lines.append(f"{at}, your code raised {type(raised).__name__}: {raised}{where(raised)}")
    expected = mismatch.closest.deliveries
    differing = mismatch.differing
    describe = getattr(exercise, "describe", None)
    for who in differing[:3]:
        want, have = expected.get(who, []), mismatch.got.get(who, [])
        said = describe(who, want, have, at, names) if describe else None
        if said is not None:
            lines.extend(said)
            continue
        problems = [h for h in have if isinstance(h, Fail)]
        if problems:
            fail = problems[0]
            lines.append(f"{at}, {fail.what.replace(who, call(who), 1)}")
            lines.append(f"expected: {_lines(want)}")
            lines.append(f"got:      {fail.got if isinstance(fail.got, str) else repr(fail.got)}")
            continue
        if len(want) == len(have):
            lines.append(f"{at}, {call(who)} got the wrong message")
        else:
            lines.append(f"{at}, {call(who)} got {len(have)} message{'s' * (len(have) != 1)},"
                         f" expected {len(want)}")
        lines.append(f"expected: {_lines(want)}")
        lines.append(f"got:      {_lines(have)}")
    if len(differing) > 3:
        lines.append(f"(and {len(differing) - 3} more members got something else)")
    others = [alt.says for alt in mismatch.alternatives if alt is not mismatch.closest and alt.says]
    if others and mismatch.closest.says:
        lines.append(f"(the reference {mismatch.closest.says}; the protocol also allows:"
                     f" {'; '.join(others)})")
    lines.extend(_meanwhile(mismatch, call))
    code = _their_line(mismatch, call)
    if code:
        lines.append(code)
    return lines


def _meanwhile(mismatch: Mismatch, call: Callable[[str], str]) -> list[str]:
    """Errors sent to members that did not differ: often the clue to what went wrong."""
    lines = []
    for who, texts in mismatch.outcome.sent.items():
        if who in mismatch.differing:
            continue
        for text, message in zip(texts, mismatch.got.get(who, [])):
            if isinstance(message, dict) and message.get("type") == "error":
                lines.append(f"meanwhile {call(who)} was sent: {text}")
    return lines[:2]


def _their_line(mismatch: Mismatch, call: Callable[[str], str]) -> str:
    """The line of the student's code on the failing step's path."""
    outcome = mismatch.outcome
    if outcome.raised is not None:
        return ""  # said with the exception
    for who in mismatch.differing:
        sent_from = outcome.sent_from.get(who)
        if sent_from:
            return f"your code sent that to {call(who)} from{sent_from[0]}"
    for who, sent_from in outcome.sent_from.items():
        if sent_from:
            return f"your code sent to {call(who)} from{sent_from[0]}"
    if outcome.path:  # the last line that decided something (a loop's header only loops)
        decided = [line for line in outcome.path
                   if not re.search(r"\): (for|while|async for) ", line)] or outcome.path
        return f"your code on that path ran up to{decided[-1]}"
    return ""


def _explanation(mismatch: Mismatch) -> str:
    """A hint from how the messages differ (wrong keys, quotes, sent twice ...), or ""."""
    expected = mismatch.closest.deliveries
    for who in mismatch.differing:
        if who in mismatch.outcome.observed:
            continue  # not a message: the exercise's own hint says more
        want = [_plain(m) for m in expected.get(who, [])]
        have = [h for h in mismatch.got.get(who, []) if not isinstance(h, Fail)]
        if any(isinstance(h, Fail) for h in mismatch.got.get(who, [])):
            fail = next(h for h in mismatch.got[who] if isinstance(h, Fail))
            return fail.hint
        text = explain_difference(want, have)
        if text:
            return text
    return ""


def _plain(message: Any) -> Any:
    """A message with free values as they were received: what :func:`explain_difference` compares."""
    if isinstance(message, dict):
        return {k: v for k, v in message.items() if not isinstance(v, Free)}
    return message


def _lines(messages: list[Any]) -> str:
    if not messages:
        return "nothing"
    return "\n          ".join(show(m) for m in messages)


# -- the student's line: who sent what from where ----------------------------------------


def sender_line() -> str:
    """`` handle_chat (Cell In[5], line 31): member.send(text)``: the innermost frame of the
    student's code on the stack of whoever calls this (a member's ``send``)."""
    frame, found = sys._getframe(1), None
    while frame is not None and frame.f_code.co_filename.startswith(_CHECKS):
        frame = frame.f_back  # the checks' own member and its send
    while frame is not None and not frame.f_code.co_filename.startswith(_CHECKS):
        if is_theirs(frame.f_code.co_filename):
            found = found or frame
            if frame.f_code.co_name not in ("send", "_send", "error", "send_json"):
                found = frame  # a method that only sends says little: its caller says more
                break
        frame = frame.f_back
    frame = found
    if frame is None:
        return ""
    import traceback

    return where_in_stack(traceback.extract_stack(frame, limit=1)).removeprefix(" in")


class Tracer:
    """``with Tracer() as lines:``: the student's lines run in the block, each said as
    :func:`sender_line` says it (the last few kept)."""

    KEEP = 5

    def __enter__(self) -> list[str]:
        self.lines: list[tuple[Any, int]] = []

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                self.lines.append((frame, frame.f_lineno))
                del self.lines[: -self.KEEP]
            return local

        def call(frame: Any, event: str, arg: Any) -> Any:
            return local if is_theirs(frame.f_code.co_filename) else None

        self.old = sys.gettrace()
        sys.settrace(call)
        self.said: list[str] = []
        return self.said

    def __exit__(self, *exc_info: Any) -> None:
        sys.settrace(self.old)
        import linecache

        from .limits import cell_name

        for frame, lineno in self.lines:
            code = frame.f_code
            line = linecache.getline(code.co_filename, lineno).strip()
            self.said.append(f" {code.co_name} ({cell_name(code.co_filename)}, line {lineno})"
                             + (f": {line}" if line else ""))


def engine_step(exercise: Any, run_doc: str, check_doc: str) -> tuple[Callable, Callable]:
    """The pair ``run_x`` (returns the :class:`Report`) and ``check_x`` (prints it) for an
    exercise of the differential engine (:mod:`chatkit.checks.engine`)."""
    def run(subject: Any) -> Report:
        return checked(exercise.key, subject, (), exercise.title, exercise.behaviours,
                       lambda: explore(exercise, subject))

    def check(subject: Any) -> None:
        print(run(subject))

    named(run, check, exercise.key, run_doc, check_doc)
    return run, check
