"""The course notebooks: generated, committed clean, and run top to bottom in real kernels.

Every instructor notebook (solutions in) must run with every check passing; every
student notebook (solutions stubbed out) must run too, its checks saying "not done
yet" -- never an error, never a traceback. They run a few at a time, each in its
own kernel, with servers on free ports of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT

# All notebooks run once (the ``executed`` fixture, in the first test's time), in one
# pytest-xdist worker (tests/conftest.py).
pytestmark = pytest.mark.timeout(300)

INSTRUCTOR = sorted((ROOT / "instructor").glob("*.ipynb"))
STUDENT = [ROOT / "notebooks" / path.name for path in INSTRUCTOR]
CHECK_CALL = re.compile(r"^checks\.check_\w+\(", re.M)


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "make_student_notebooks", ROOT / "scripts" / "make_student_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_course_has_five_steps_each_in_both_versions():
    # ... and notebook 7, rooms shared through Redis (each run starts a redis-server of its own),
    # and notebook 8, reconnect and resume
    assert [p.name[:3] for p in INSTRUCTOR] == ["01-", "02-", "03-", "04-", "05-", "07-", "08-"]
    assert all(path.exists() for path in STUDENT)


def test_student_notebooks_are_what_the_generator_makes_from_the_instructors(tmp_path):
    generator = load_generator()
    assert generator.main(["--out", str(tmp_path)]) == 0
    for path in STUDENT:
        assert (tmp_path / path.name).read_text() == path.read_text(), (
            f"{path.name} drifted from instructor/: run scripts/make_student_notebooks.py"
        )
    assert generator.main(["--check"]) == 0


def test_the_generator_leaves_notebooks_without_an_instructor_source_alone(tmp_path):
    other = tmp_path / "06-how-many-students.ipynb"
    other.write_text("not ours")
    assert load_generator().main(["--out", str(tmp_path)]) == 0
    assert other.read_text() == "not ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [other.name] + [p.name for p in INSTRUCTOR]
    )


def test_the_generator_cleans_an_instructor_notebook_saved_after_a_run(tmp_path):
    instructor, out = tmp_path / "instructor", tmp_path / "notebooks"
    instructor.mkdir()
    source = INSTRUCTOR[0]
    notebook = nbformat.read(source, as_version=4)
    code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    code.execution_count = 7
    notebook.metadata.language_info.update(version="3.11.7", file_extension=".py")
    nbformat.write(notebook, instructor / source.name)
    generator = load_generator()
    assert generator.main(["--instructor", str(instructor), "--out", str(out), "--check"]) == 1
    assert generator.main(["--instructor", str(instructor), "--out", str(out)]) == 0
    assert (instructor / source.name).read_text() == source.read_text()
    assert (out / source.name).read_text() == (ROOT / "notebooks" / source.name).read_text()


def test_the_generator_stubs_each_solution_and_keeps_the_signature():
    generator = load_generator()
    source = (
        "def f(x):\n"
        "    \"\"\"Doc.\"\"\"\n"
        "    ### BEGIN SOLUTION\n"
        "    return x\n"
        "    ### END SOLUTION\n"
        "\n"
        "y = 1"
    )
    assert generator.strip_solutions(source) == (
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ny = 1'
    )
    with pytest.raises(ValueError, match="without"):
        generator.strip_solutions("    ### BEGIN SOLUTION\n    return x")


@pytest.mark.parametrize("path", INSTRUCTOR + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_are_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_every_exercise_has_a_solution_and_a_check():
    for instructor, student in zip(INSTRUCTOR, STUDENT):
        solutions = sum(
            cell.source.count("### BEGIN SOLUTION")
            for cell in nbformat.read(instructor, as_version=4).cells
        )
        student_text = "\n".join(cell.source for cell in nbformat.read(student, as_version=4).cells)
        assert solutions >= 1, instructor.name
        assert student_text.count("raise NotImplementedError()") == solutions, student.name
        assert "SOLUTION" not in student_text, student.name
        assert CHECK_CALL.search(student_text), f"{student.name} has no check cell"


# -- running them ------------------------------------------------------------------


def with_my_chat_user(path: Path) -> nbformat.NotebookNode:
    """Notebook ``path`` as a student who switches in their ChatUser from notebook 3 would run it."""
    notebook_3 = nbformat.read(ROOT / "instructor" / "03-chat-user.ipynb", as_version=4)
    mine = next(c.source for c in notebook_3.cells if c.source.startswith("class ChatUser"))
    mine = "\n".join(line for line in mine.splitlines() if "SOLUTION" not in line)
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if "paste your ChatUser" in c.source)
    cell.source = cell.source.replace("\nPORT = ", f"\n\n{mine}\n\n\nPORT = ", 1)
    assert mine in cell.source
    return notebook


PASTED = [Path("pasted") / p.name for p in INSTRUCTOR if p.name[:2] in ("04", "05")]


#: Notebooks running at once: all fourteen kernels starting together on a loaded 2-core
#: machine (the suite runs in parallel) took over a minute to answer their first message.
AT_ONCE = (os.cpu_count() or 1) + 2


async def _execute(path: Path) -> nbformat.NotebookNode:
    if path.parts[0] == "pasted":
        notebook = with_my_chat_user(ROOT / "instructor" / path.name)
    else:
        notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=60, startup_timeout=120, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    await client.async_execute()
    return notebook


@pytest.fixture(scope="session")
def executed() -> dict[Path, nbformat.NotebookNode]:
    """Every notebook in both versions (and two with a student's ChatUser), each in its own
    kernel, ``AT_ONCE`` at a time."""
    paths = INSTRUCTOR + STUDENT + PASTED
    slots = asyncio.Semaphore(AT_ONCE)

    async def bounded(path: Path) -> nbformat.NotebookNode:
        async with slots:
            return await _execute(path)

    async def run_all():
        return await asyncio.gather(*(bounded(path) for path in paths))

    return dict(zip(paths, asyncio.run(run_all())))


def outputs(cell) -> str:
    """A code cell's printed text (stdout, stderr, plain-text results)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"ERROR {output.ename}: {output.evalue}")
    return "".join(parts)


def errors(notebook) -> list[str]:
    return [
        f"{output.ename}: {output.evalue} in {cell.source[:60]!r}"
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if output.output_type == "error"
    ]


def check_cells(notebook) -> list[str]:
    return [outputs(cell) for cell in notebook.cells
            if cell.cell_type == "code" and CHECK_CALL.search(cell.source)]


def all_text(notebook) -> str:
    return "\n".join(outputs(cell) for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", INSTRUCTOR + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_and_its_checks_report_in_plain_words(executed, path):
    """Instructor: every check passes. Student: every check says "not done yet". Never a traceback."""
    notebook = executed[path]
    assert errors(notebook) == []
    reports = check_cells(notebook)
    assert reports, "no check cell ran"
    solved = path.parent.name == "instructor"
    for report in reports:
        assert bool(re.search(r"^All \d+ checks pass\.$", report, re.M)) is solved, report
        assert ("not done yet" in report) is not solved, report
    text = all_text(notebook)
    assert "Traceback" not in text
    assert ("does not pass every check yet" in text) is (not solved and path.name[:2] >= "03")


# What each step shows, in both versions (a stuck student still sees the flow, run by the reference).
SHOWS = {
    "01": ["open\n", "close 1000 sent 3 numbers, bye", "error: ConnectionRefusedError", "close 1006",
           "InvalidStateError: still connecting", "echo says: hello, echo"],
    "02": ["address already in use", "got: people: hello",
           "RuntimeError: asyncio.run() cannot be called from a running event loop",
           "'hello from a coroutine'", "server on the kernel's loop: ['no answer (TimeoutError)']",
           "server on its own thread: ['answered']", "stopped"],
    "03": ['Juanita got {"type":"note","text":"Colt joined \\"people\\"."}',  # JSON.stringify's text
           'Colt got {"type":"chat","name":"Colt","text":"hi all"}',
           'Juanita got {"type":"note","text":"Colt left people."}'],
    "04": ['(note) Jenny joined "people".', "Colt: hi all", "Jenny: hi Colt!",
           "(note) Colt left people.", "Bob: hi Ann, I am a panel too"],
    "05": ['In room: jeff"', '"Server"',  # the reference writes compact JSON, a solution may not "jeff is now known as Jeffrey.",
           "unknown command /dance", '<img src=x onerror="alert(document.cookie)">',
           "&lt;img src=x onerror=&quot;alert(document.cookie)&quot;&gt;"],
    "07": ["Bob heard Ann: False", "'data': 'hello, subscribers'",
           " Bob got  Ann: hi Bob, are you there?", " Ann got  Bob: yes! I am on server B",
           'Ann #2 got  (error) "Ann" is already taken in "people"', "Bob got  (note) In room: Ann, Bob",
           " Ann got  Bob: psst, only you see this", "Dan: hi Cleo, I am a panel on server B",
           "stopped"],
    "08": ["close: 1001", "ready_state after the drop: 3", "exponential, no jitter:",
           "30 of them in the busiest 100 ms", "Bob | the homework is due Friday",
           "in order, none twice: True", "stopped",
           # ... and the same scene on the real server (chatkit.start, LiveServer.cut)
           "connections cut: 1", "#4   (note) | Ann left people.", "Bob | see you",
           "on the real server, every message once, in order: True", "stopped the real server"],
}


@pytest.mark.parametrize("path", INSTRUCTOR + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_notebook_shows_its_step_live(executed, path):
    text = all_text(executed[path])
    for expected in SHOWS[path.name[:2]]:
        assert expected in text, f"{path.name}: {expected!r} not in the outputs"
    if path.name[:2] in ("04", "07", "08"):  # the message flow (the herd, in 8) is drawn
        assert "<Figure size" in text
        assert any("image/png" in output.get("data", {})
                   for cell in executed[path].cells for output in cell.get("outputs", []))


@pytest.mark.parametrize("path", PASTED, ids=lambda p: p.name)
def test_a_students_own_chat_user_switched_in_runs_the_later_notebooks(executed, path):
    notebook = executed[path]
    assert errors(notebook) == []
    for report in check_cells(notebook):
        assert re.search(r"^All \d+ checks pass\.$", report, re.M), report
    text = all_text(notebook)
    assert "Traceback" not in text and "does not pass every check yet" not in text
    for expected in SHOWS[path.name[:2]]:
        assert expected in text


# -- answers only on request -----------------------------------------------------------

ANSWER_SIGNS = ("# a solution to the exercise", "--- yours:", "# the exercise's solution")


@pytest.mark.parametrize("path", INSTRUCTOR + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_run_all_prints_no_answer_and_offers_one_per_exercise(executed, path):
    """Seeing a solution is the student's choice: a commented line after each check."""
    text = all_text(executed[path])
    for sign in ANSWER_SIGNS:
        assert sign not in text, f"{path.name} prints an answer ({sign!r}) on Run All"
    notebook = nbformat.read(path, as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    offered = set(re.findall(r'^# reference\.solution\("(\w+)"\)', sources, re.M))
    instructor = nbformat.read(ROOT / "instructor" / path.name, as_version=4)
    exercises = set(load_generator().solution_cells(instructor))
    assert exercises and exercises <= offered, (path.name, exercises, offered)


def test_notebook_1_explains_async_before_its_first_await():
    notebook = nbformat.read(INSTRUCTOR[0], as_version=4)
    first_await = next(i for i, cell in enumerate(notebook.cells)
                       if cell.cell_type == "code" and re.search(r"^await ", cell.source, re.M))
    before = "\n".join(cell.source for cell in notebook.cells[:first_await])
    for term in ("event loop", "`async def`", "`await x`", "`async for message in websocket:`",
                 "never awaited", "asyncio.sleep"):
        assert term in before, term


# -- notebook 8: a wrong solution fails its check, in the notebook ------------------------

#: Slips in notebook 8's answers (instructor line -> the slip), one per exercise.
SLIPS_8 = {
    "return random() * min(cap, base * 2 ** attempt)": "return min(cap, base * 2 ** attempt)",
    'kept = [message for message in self.messages if message["id"] > last_id]':
        'kept = [message for message in self.messages if message["id"] >= last_id]',
    "                self.epoch, self.last_id = message[\"epoch\"], None":
        "                self.epoch = message[\"epoch\"]",
}


def test_notebook_8_with_a_slip_in_each_answer_fails_each_check():
    notebook = nbformat.read(ROOT / "instructor" / "08-when-the-connection-drops.ipynb",
                             as_version=4)
    for cell in notebook.cells:
        for right, wrong in SLIPS_8.items():
            cell.source = cell.source.replace(right, wrong)
    assert sum(wrong in cell.source for cell in notebook.cells for wrong in SLIPS_8.values()) == 3
    client = NotebookClient(notebook, timeout=60, startup_timeout=120, kernel_name="python3",
                            allow_errors=True,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()
    assert errors(notebook) == []
    reports = check_cells(notebook)
    assert len(reports) == 3
    assert "✗ full jitter" in reports[0] and "All 3 checks pass." not in reports[0]
    assert "✗ since(last_id) returns the messages after last_id" in reports[1]
    assert "✗ after a server restart (a new epoch)" in reports[2]
    assert "Traceback" not in all_text(notebook)
