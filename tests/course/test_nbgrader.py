"""Grading with nbgrader, end to end: the real nbgrader CLI on a temporary course directory.

One course, made once for the module (``scripts/nbgrader_course.py``), released with
``nbgrader generate_assignment``, with four students' submissions:

- ``ann`` hands in the instructor's solutions, all five notebooks: full marks;
- ``blank`` hands in notebooks 3 and 4 untouched: 0, and no cell hangs (every
  graded cell of all five gives the stubs 0 in a test of its own, without nbgrader);
- ``mistakes`` hands in notebooks 3 and 4 with typical bugs from ``tests/checks/broken``:
  part of the points -- exactly what ``chatkit.checks.grading`` gives the same
  code in class -- and feedback that says what fails, in the checks' words;
- ``noisy`` hands in a correct notebook 3 that writes to stderr, one graded cell
  deleted: full marks (nbgrader puts the cell back);
- one more goes through the exchange: fetches notebook 3, submits it untouched, and
  fetches the feedback.

Hangs are tested in a real kernel on the graded cells alone, in tests/checks/test_grading.py
(the ungraded check cell above them would hang too, for nbgrader's whole cell timeout).
The metadata script (``scripts/nbgrader_metadata.py``) is tested without nbgrader.
"""

from __future__ import annotations

import csv
import functools
import html
import importlib.util
import inspect
import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

import chatkit
from chatkit import checks
from chatkit.checks import grading
from chatkit.redis.local import start_redis
from chatkit.redis.room import RedisRoom
from chatkit.checks.backoff import full_jitter
from chatkit.checks.reconnecting import ReferenceClient
from chatkit.checks.replay import HistoryModel
from tests.checks import broken
from tests.helpers import ROOT
from tests.helpers.sockets import free_port

# The course fixture runs nbgrader ~15 times (about 1 min here, 2 on a busy machine): once,
# in one pytest-xdist worker for all the tests that read its results (tests/conftest.py).
pytestmark = pytest.mark.timeout(600)

NBGRADER = ROOT / ".venv-instructor" / "bin" / "nbgrader"
ASSIGNMENTS = sorted(path.stem for path in (ROOT / "instructor").glob("0[1-578]-*.ipynb"))
BLANK = ["03-chat-user", "04-room-and-broadcast"]  # the others: a test without nbgrader


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


metadata = load_script("nbgrader_metadata")


# -- submissions: the release with its answer cells filled in ----------------------------


def answers(assignment: str) -> dict[str, str]:
    """The instructor's answer cells, markers dropped, by grade_id: a student who got it right."""
    notebook = nbformat.read(ROOT / "instructor" / f"{assignment}.ipynb", as_version=4)
    return {cell.metadata.nbgrader.grade_id: "\n".join(
                line for line in cell.source.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")}


def with_method(source: str, name: str, function) -> str:
    """``source`` with method ``name`` of its class replaced by ``function``'s code."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"\s+def {name}\(", line))
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i].startswith(indent + " ")), len(lines))
    code = re.sub(r"^def \w+", f"def {name}", textwrap.dedent(inspect.getsource(function)))
    return "\n".join([*lines[:start], textwrap.indent(code, indent).rstrip(), "", *lines[end:]])


def submit(course: Path, student: str, assignment: str, answers: dict[str, str],
           deleted: tuple[str, ...] = ()) -> None:
    """Put ``student``'s copy of the release in submitted/, with these answer cells filled in
    (and the cells whose grade_id is in ``deleted`` gone)."""
    notebook = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    notebook.cells = [c for c in notebook.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") not in deleted]
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    target = course / "submitted" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target / f"{assignment}.ipynb")


def noisy_handle_chat(self, text):
    print("debug: a chat", text, file=sys.stderr)  # noqa: F821 (the answer cell imports sys)
    warnings.warn("a student's own warning")  # noqa: F821
    logging.getLogger("student").warning("a log line")  # noqa: F821
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


MISTAKES = {  # assignment -> (answer cell, its class, methods replaced by broken ones)
    "03-chat-user": ("03-answer-chatuser", "ChatUser", {
        "handle_chat": broken._skip_sender, "handle_join": broken._join_without_quotes}),
    "04-room-and-broadcast": ("04-answer-room", "Room", {
        "broadcast": broken._broadcast_stops_at_failure, "leave": broken._leave_but_remember}),
}


def mistaken_answers(assignment: str) -> dict[str, str]:
    grade_id, _, methods = MISTAKES[assignment]
    source = answers(assignment)[grade_id]
    for name, function in methods.items():
        source = with_method(source, name, function)
    return {grade_id: "from chatkit.core.messages import chat, note\n\n" + source}


def in_class_points(assignment: str) -> float:
    """What the graded cells give the mistakes when run here, as in class: the grade to expect."""
    grade_id, name, _ = MISTAKES[assignment]
    namespace = {"chatkit": chatkit, "json": json, "Room": chatkit.Room, "ChatUser": chatkit.ChatUser}
    exec(compile(mistaken_answers(assignment)[grade_id], assignment, "exec"), namespace)
    return sum(grading.score(getattr(checks, "run_" + check.removeprefix("check_")),
                             namespace[name], group, points)
               for check, groups in metadata.GRADED[assignment[:2]].items()
               for group, points in groups.items())


# -- the course, graded once ------------------------------------------------------------


class Course:
    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        self.timings: dict[str, float] = {}

    def nbgrader(self, *args: str, cwd: Path | None = None, timeout: float = 600) -> str:
        done = subprocess.run([str(NBGRADER), *args], cwd=cwd or self.root, env=self.env,
                              text=True, capture_output=True, timeout=timeout)
        assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    @functools.cached_property
    def scores(self) -> dict[tuple[str, str], tuple[float, float]]:
        """(student, assignment) -> (score, max score), from ``nbgrader export``."""
        self.nbgrader("export", "--to", "grades.csv")
        with open(self.root / "grades.csv", newline="") as file:
            return {(row["student_id"], row["assignment"]): (float(row["score"]),
                                                             float(row["max_score"]))
                    for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if not NBGRADER.exists():
        pytest.fail("nbgrader is not installed: run `make test-setup` (makes .venv-instructor/)")
    root = tmp_path_factory.mktemp("course")
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "PATH": f"{NBGRADER.parent}:{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}
    env.pop("JUPYTER_PATH", None)
    assert load_script("nbgrader_course").make_course(root) == ASSIGNMENTS
    course = Course(root, env)
    course.nbgrader("generate_assignment", "*")

    # One student goes through the exchange: fetch, hand in untouched, get feedback.
    exchange, course.student = (tmp_path_factory.mktemp(name) for name in ("exchange", "student"))
    at_exchange = f"--Exchange.root={exchange}"
    course.nbgrader("release_assignment", "03-chat-user", at_exchange)
    course.nbgrader("fetch_assignment", "03-chat-user", "--course", "chatkit", at_exchange,
                    cwd=course.student)
    course.nbgrader("submit", "03-chat-user", "--course", "chatkit", at_exchange,
                    cwd=course.student)
    course.nbgrader("collect", "03-chat-user", at_exchange)

    for assignment in ASSIGNMENTS:
        submit(root, "ann", assignment, answers(assignment))
    for assignment in BLANK:
        submit(root, "blank", assignment, {})
    for assignment in MISTAKES:
        submit(root, "mistakes", assignment, mistaken_answers(assignment))
    noisy = with_method(answers("03-chat-user")["03-answer-chatuser"], "handle_chat",
                        noisy_handle_chat)
    submit(root, "noisy", "03-chat-user",  # ... and who deleted a graded cell
           {"03-answer-chatuser": "import logging, sys, warnings\n\n" + noisy},
           deleted=("03-graded-close",))

    started = time.monotonic()
    course.nbgrader("autograde", "*", "--student", "ann")
    course.timings["ann"] = time.monotonic() - started
    print(f"\nautograde, the whole course for one student: {course.timings['ann']:.1f} s")
    started = time.monotonic()
    course.nbgrader("autograde", "*")
    course.timings["others"] = time.monotonic() - started
    print(f"autograde, 4 more students (6 notebooks): {course.timings['others']:.1f} s")
    course.nbgrader("generate_feedback", "03-chat-user")
    # Only a submission collected from the exchange has the timestamp release_feedback needs.
    collected = {p.name for p in (root / "submitted").iterdir()} - {"ann", "blank", "mistakes",
                                                                     "noisy"}
    assert len(collected) == 1, collected
    course.nbgrader("release_feedback", "03-chat-user", "--student", collected.pop(), at_exchange)
    course.nbgrader("fetch_feedback", "03-chat-user", "--course", "chatkit", at_exchange,
                    cwd=course.student)
    return course


def code_cells(path: Path) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code"]


def test_generate_assignment_releases_the_same_code_as_make_students(course):
    for assignment in ASSIGNMENTS:
        release = course.root / "release" / assignment / f"{assignment}.ipynb"
        assert code_cells(release) == code_cells(ROOT / "notebooks" / f"{assignment}.ipynb"), (
            f"nbgrader's release of {assignment} differs from notebooks/ (run make students)")


def test_the_instructor_solutions_autograde_to_full_marks(course):
    scores = course.scores
    for assignment in ASSIGNMENTS:
        score, maximum = scores["ann", assignment]
        assert maximum > 0 and score == maximum, (assignment, score, maximum)
    total = {a: scores["ann", a][1] for a in ASSIGNMENTS}
    assert total == {a: sum(sum(g.values()) for g in metadata.GRADED[a[:2]].values())
                     for a in ASSIGNMENTS}


def test_a_blank_notebook_earns_nothing(course):
    scores = course.scores
    assert {a: scores["blank", a] for a in BLANK} == {
        a: (0.0, scores["ann", a][1]) for a in BLANK}


def test_no_graded_cell_gives_a_point_for_the_given_code_alone():
    """Every graded cell of every notebook, on the students' stubs, run here: 0 points."""
    from chatkit.core.jokes import JOKES

    redis = start_redis(port=free_port())  # notebook 7's graded cells check against a real Redis
    try:
        for assignment in ASSIGNMENTS:
            student = nbformat.read(ROOT / "notebooks" / f"{assignment}.ipynb", as_version=4)
            namespace = {"chatkit": chatkit, "json": json, "html": html, "random": random,
                         "Room": chatkit.Room, "ChatUser": chatkit.ChatUser, "JOKES": JOKES,
                         "RedisRoom": RedisRoom, "REDIS_URL": redis.url}
            for cell in student.cells:
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    exec(compile(cell.source, assignment, "exec"), namespace)
            for cell in student.cells:
                if cell.metadata.get("nbgrader", {}).get("grade"):
                    *code, last = cell.source.rstrip().splitlines()
                    exec("\n".join(code), namespace)
                    assert eval(last, namespace) == 0.0, (assignment, last)
    finally:
        redis.stop()


def test_typical_mistakes_earn_what_the_same_checks_give_in_class(course):
    scores = course.scores
    for assignment in MISTAKES:
        expected = in_class_points(assignment)
        score, maximum = scores["mistakes", assignment]
        assert 0 < score < maximum, (assignment, score)
        assert score == pytest.approx(expected), (assignment, score, expected)


def test_the_feedback_shows_the_plain_words_check_lines(course):
    page = (course.root / "feedback" / "mistakes" / "03-chat-user" / "03-chat-user.html").read_text()
    assert "✗ a chat goes to everyone in the room, the sender too" in page
    assert "hint: the sender is a member of the room too: a broadcast reaches them" in page
    assert "the shortest session that shows it" in page
    assert "chat: 1 of 2 behaviours pass -- 1 of 2 points" in page
    assert "✓ closing without having joined announces nothing" in page


def test_a_student_fetches_submits_and_gets_feedback_through_the_exchange(course):
    pages = list((course.student / "03-chat-user" / "feedback").glob("*/03-chat-user.html"))
    assert len(pages) == 1, pages
    page = pages[0].read_text()
    assert "join: 0 of 2 behaviours pass -- 0 of 2 points" in page
    assert "still raises NotImplementedError -- write it in the exercise cell" in page


def test_nbgrader_stays_out_of_the_students_environment():
    assert importlib.util.find_spec("nbgrader") is None  # the tests run in the students' .venv
    assert "nbgrader" not in (ROOT / "requirements.txt").read_text()


def test_a_correct_solution_that_writes_to_stderr_keeps_its_points(course):
    score, maximum = course.scores["noisy", "03-chat-user"]
    assert score == maximum == 6


def test_a_deleted_graded_cell_is_put_back_and_graded(course):
    autograded = course.root / "autograded" / "noisy" / "03-chat-user" / "03-chat-user.ipynb"
    cells = [c for c in nbformat.read(autograded, as_version=4).cells
             if c.metadata.get("nbgrader", {}).get("grade_id") == "03-graded-close"]
    assert len(cells) == 1 and "was missing from the submission" in cells[0].source
    assert [o["data"]["text/plain"] for o in cells[0].outputs
            if o["output_type"] == "execute_result"] == ["2.0"]


# -- the metadata script, without nbgrader --------------------------------------------------


def test_the_instructor_notebooks_carry_the_metadata_the_script_makes():
    assert metadata.main(["--check"]) == 0


def test_the_metadata_script_is_idempotent_and_follows_the_check_cell_when_cells_move():
    path = ROOT / "instructor" / "03-chat-user.ipynb"
    notebook = nbformat.read(path, as_version=4)
    once = metadata.with_metadata(notebook, "03")
    assert metadata.render(metadata.with_metadata(once, "03")) == path.read_text()
    # An instructor adds a cell at the top and moves the check cell to the end.
    edited = nbformat.from_dict(once)
    check = next(c for c in edited.cells if "checks.check_chat_user(ChatUser)" in c.source)
    edited.cells.remove(check)
    edited.cells.append(check)
    edited.cells.insert(0, nbformat.v4.new_markdown_cell("A new first cell"))
    again = metadata.with_metadata(edited, "03")
    sources = [c.source for c in again.cells]
    assert sum("grading.score(" in s for s in sources) == 3
    assert [s.split('"')[1] for s in sources[-3:]] == ["join", "chat", "close"]
    assert sources[-4] == check.source
    meta = [c.metadata["nbgrader"] for c in again.cells]
    assert len({m["grade_id"] for m in meta}) == len(meta)
    assert [m["points"] for m in meta if m["grade"]] == [2, 2, 2]
    assert [m["grade_id"] for m in meta if m["solution"]] == ["03-answer-chatuser"]


def test_the_metadata_script_names_what_is_missing():
    notebook = nbformat.read(ROOT / "instructor" / "03-chat-user.ipynb", as_version=4)
    notebook.cells = [c for c in notebook.cells if "check_chat_user(" not in c.source]
    with pytest.raises(metadata.MetadataError, match=r"notebook 03: cannot find a cell calling checks\.check_chat_user"):
        metadata.with_metadata(notebook, "03")


def test_every_behaviour_the_checks_report_is_graded_by_one_cell():
    references = {
        "check_client": broken.client_reference, "check_route": broken.route_reference,
        "check_chat_user": chatkit.ChatUser, "check_room": chatkit.Room,
        "check_errors": chatkit.ChatUser, "check_commands": chatkit.ChatUser,
        "check_render": broken.render_reference,
        "check_backoff": full_jitter, "check_history": HistoryModel,  # notebook 8
        "check_reconnecting": ReferenceClient,
    }
    redis = start_redis(port=free_port())  # notebook 7's check runs against a real Redis
    try:
        for number, spec in metadata.GRADED.items():
            for check, groups in spec.items():
                run = getattr(checks, "run_" + check.removeprefix("check_"))
                if check == "check_redis_room":
                    report = run(RedisRoom, redis.url)
                else:
                    report = run(references[check])
                found = {grading.group_of(run, result) for result in report.results}
                assert found - {None} == set(groups), (number, check, found)
    finally:
        redis.stop()
