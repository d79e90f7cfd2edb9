# modelkit: `make demo`, `make test`, `make lab` work on a fresh clone; each creates/uses .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORPUS ?= $(abspath ../shared/sonata/corpus)
PYTEST_ARGS ?=

.PHONY: demo test lab lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m modelkit demo --output demo_output --overwrite

lint: $(VENV)/.installed-test
	$(BIN)/lint-imports
	$(BIN)/ruff check modelkit tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/python -m mypy modelkit/sonata modelkit/errors.py modelkit/options.py

test: $(VENV)/.installed-test lint typecheck
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_sonata.py

lab: $(VENV)/.installed
	$(BIN)/python -m pip install -q jupyterlab ipywidgets
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf demo_output .pytest_cache .mypy_cache
