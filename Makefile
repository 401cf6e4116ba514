# Two commands for a newcomer (see README.md):
#   make course   set everything up and open the course in JupyterLab
#   make test     set everything up and run all the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# make test runs the suite in parallel (pytest-xdist): one worker more than the CPUs, as the
# tests wait (on kernels, browsers, servers) more than they compute. TEST_WORKERS=0: serially.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
# More for pytest, e.g. make test PYTEST_ARGS="tests/core -x"
PYTEST_ARGS ?=
# The newest Python students have: make test-3.13 runs, in .venv-3.13, all that students run
# (the package, the notebooks in a kernel and in JupyterLab, the panel, the client, the
# checks, the chat server and its pages); not what an instructor runs to host a class --
# JupyterHub, Redis across servers, --workers, the benchmark's Node and FastAPI peers,
# nbgrader (in .venv-instructor, made once by make test). `make test` runs those on the
# course's Python. That keeps CI within 10 minutes on 2 cores (docs/testing.md).
PYTHON313 ?= python3.13
# JupyterLab refuses to run as root unless told; on a student's laptop this is empty.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
NOT_FOR_STUDENTS := --ignore=tests/hub --ignore=tests/server/test_hub_service.py --ignore=tests/bench \
	--ignore=tests/course/test_nbgrader.py --ignore=tests/redis \
	--ignore=tests/server/test_workers.py --ignore=tests/server/test_workers_supervisor.py

.PHONY: course setup test test-3.13 test-students test-setup chromium redis seed students bench serve clean instructor

course: setup
	@scripts/install-redis || echo "chatkit: redis-server not installed: notebooks 1-6 do not need it; notebook 7 says how to get it"
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ALLOW_ROOT)

setup: $(VENV)/.course-installed

$(VENV)/.course-installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

test: test-setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-3.13:
	$(MAKE) test-students PYTHON=$(PYTHON313) VENV=.venv-3.13

test-students: setup $(VENV)/.test-installed chromium redis
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(NOT_FOR_STUDENTS) $(PYTEST_ARGS)

test-setup: setup $(VENV)/.test-installed $(VENV)/.hub-test-installed chromium redis seed instructor

$(VENV)/.test-installed: requirements-test.txt
	$(BIN)/python -m pip install -q -r requirements-test.txt
	touch $@

# JupyterHub and its proxy (npm), for tests/hub/.
$(VENV)/.hub-test-installed: requirements-hub-test.txt scripts/install-hub-test
	scripts/install-hub-test $(VENV)
	touch $@

chromium:
	@scripts/install-chromium

# Debian's redis-server, for notebook 7 ("One room, many servers") and the Redis tests.
redis:
	@scripts/install-redis

# The express-ws original for the benchmark (skipped with a message where node is missing).
seed: setup
	@VENV=$(VENV) scripts/install-seed

# After editing a notebook in instructor/: refresh its nbgrader metadata and graded
# cells, regenerate the students' notebooks/ (solutions replaced by stubs) and strip
# outputs from both versions.
students: setup
	$(BIN)/python scripts/nbgrader_metadata.py
	$(BIN)/python scripts/make_student_notebooks.py

# The instructor's venv: the course plus nbgrader (docs/instructors.md, "Grading with nbgrader").
# A venv of its own, because nbgrader switches on its Lab extensions wherever it is.
instructor: .venv-instructor/.installed

.venv-instructor/.installed: requirements-instructor.txt requirements.txt pyproject.toml
	test -x .venv-instructor/bin/python || $(PYTHON) -m venv .venv-instructor
	.venv-instructor/bin/python -m pip install -q --upgrade pip
	.venv-instructor/bin/python -m pip install -q -r requirements-instructor.txt
	touch $@

serve: setup
	$(BIN)/python -m chatkit serve

clean:
	rm -rf $(VENV) .venv-3.13 .venv-instructor .pytest_cache test-artifacts
