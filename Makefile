# Two commands for a newcomer (see README.md):
#   make course   set everything up and open the course in JupyterLab
#   make test     set everything up and run all the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# JupyterLab refuses to run as root unless told; on a student's laptop this is empty.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: course setup test test-setup chromium seed students bench serve clean

course: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ALLOW_ROOT)

setup: $(VENV)/.course-installed

$(VENV)/.course-installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

test: test-setup
	$(BIN)/python -m pytest

test-setup: setup $(VENV)/.test-installed chromium seed

$(VENV)/.test-installed: requirements-test.txt
	$(BIN)/python -m pip install -q -r requirements-test.txt
	touch $@

chromium:
	@scripts/install-chromium

# The express-ws original for the benchmark (skipped with a message where node is missing).
seed: setup
	@VENV=$(VENV) scripts/install-seed

# After editing a notebook in instructor/: regenerate the students' notebooks/
# (solutions replaced by stubs) and strip outputs from both versions.
students: setup
	$(BIN)/python scripts/make_student_notebooks.py

serve: setup
	$(BIN)/python -m chatkit serve

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
