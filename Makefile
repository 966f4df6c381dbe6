# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The test environment is pinned per Python minor version by constraints/test-pyX.Y.txt
# (`make lock` rewrites it); a Python without a file installs unpinned.
# The Python of .venv when it exists (it may have been made by another PYTHON).
PYVER := $(shell $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) \
	-c 'import sys; print("%d.%d" % sys.version_info[:2])')
CONSTRAINTS := constraints/test-py$(PYVER).txt
PIN := $(if $(wildcard $(CONSTRAINTS)),-c $(CONSTRAINTS))
PIP_INSTALL = python -m pip install --progress-bar off $(PIN)
LOCK_VENV := $(or $(TMPDIR),/tmp)/modelver-lock-venv
# `make lock` pins PYTHON's version (make lock PYTHON=python3.13), whatever .venv holds.
LOCK_PYVER = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK_FILE = constraints/test-py$(LOCK_PYVER).txt

.PHONY: demo test lint venv clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml $(wildcard $(CONSTRAINTS))
	@echo "== installing modelver and the demo's packages into $(VENV)$(if $(PIN), (pinned by $(CONSTRAINTS)))"
	$(BIN)/$(PIP_INSTALL) -e ".[demo]"
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml $(wildcard $(CONSTRAINTS))
	@echo "== installing modelver with its test extras into $(VENV)$(if $(PIN), (pinned by $(CONSTRAINTS)), (unpinned: no $(CONSTRAINTS)))"
	@echo "== the first run downloads torch, transformers, mlflow and more: a few minutes"
	$(BIN)/$(PIP_INSTALL) -e ".[test,demo]"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/python examples/fraud_demo.py

test: $(VENV)/.test-installed
	@echo "== ruff, mypy --strict, then the test suite"
	$(BIN)/python -m ruff check modelver tests benchmarks examples docs
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)

# Re-pin the test environment for this Python: a scratch venv, `.[test,demo]` installed
# without constraints, its freeze written (local labels such as +cpu dropped, so the
# pins also match PyPI's builds). Run it after changing a dependency in pyproject.toml.
lock:
	@echo "== resolving .[test,demo] for Python $(LOCK_PYVER) in $(LOCK_VENV), unpinned: a few minutes"
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --progress-bar off --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --progress-bar off -e ".[test,demo]"
	mkdir -p constraints
	{ echo "# The test environment for Python $(LOCK_PYVER), used by make test. Regenerate with: make lock"; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | sed -E 's/\+[A-Za-z0-9.]+$$//'; } \
	  > $(LOCK_FILE).tmp
	mv $(LOCK_FILE).tmp $(LOCK_FILE)
	rm -rf $(LOCK_VENV)
	@echo "== wrote $(LOCK_FILE)"
