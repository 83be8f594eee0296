# Two commands set everything up on a fresh machine:
#   make run    create .venv, install advisor, start the guided session (advisor ask)
#   make test   same set-up, then the whole test suite
# durable-rules builds a C extension: gcc and the Python headers must be present.

VENV   := .venv
BIN    := $(VENV)/bin
# The first interpreter in the supported range (durable-rules does not import on 3.13).
PYTHON ?= $(shell for p in python3.11 python3.12 python3.10 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null \
            && { echo $$p; break; }; done)

.PHONY: run test bench install check-python clean

run: install
	$(BIN)/advisor ask

test: install
	$(BIN)/advisor rules check
	$(BIN)/pytest -q -p no:cacheprovider

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/engine.py

check-python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: advisor needs Python 3.10, 3.11 or 3.12 (durable-rules does not import on 3.13);" \
	       "install one (e.g. apt-get install python3.11) or run: make PYTHON=/path/to/python3.11 ..." >&2; \
	  exit 2; fi

# Dependencies are installed once per change of pyproject.toml; the package itself is
# reinstalled (not editable, so the shipped YAML is what runs) on every run and test.
$(VENV)/.deps: pyproject.toml | check-python
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet '.[test,charts]'
	touch $@

# build/ is removed first: setuptools would otherwise ship files deleted from the tree since.
install: $(VENV)/.deps
	rm -rf build
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --force-reinstall .

clean:
	rm -rf $(VENV) build *.egg-info
