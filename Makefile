# Two commands for a newcomer (see README.md):
#   make course   set everything up and open the course in JupyterLab
#   make test     set everything up and run all the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# JupyterLab refuses to run as root unless told; on a student's laptop this is empty.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: course setup test test-setup chromium redis seed students bench serve clean instructor

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
	$(BIN)/python -m pytest

test-setup: setup $(VENV)/.test-installed $(VENV)/.hub-test-installed chromium redis seed instructor

$(VENV)/.test-installed: requirements-test.txt
	$(BIN)/python -m pip install -q -r requirements-test.txt
	touch $@

# JupyterHub and its proxy (npm), for tests/test_hub.py.
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

# The instructor's venv: the course plus nbgrader (README: "Grading with nbgrader").
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
	rm -rf $(VENV) .venv-instructor .pytest_cache test-artifacts
