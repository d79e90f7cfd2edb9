# modelkit: `make demo`, `make test`, `make lab` work on a fresh clone; each creates/uses .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORPUS ?= $(abspath ../shared/sonata/corpus)
PYTEST_ARGS ?=

.PHONY: demo test test-ts lab lint typecheck bench fuzz-long clean

# the JupyterLab extension's sources: a change rebuilds it into the venv (pip's build hook runs jlpm)
EXTENSION_SRC := extension/package.json extension/yarn.lock $(wildcard extension/src/*.ts extension/style/* extension/schema/*.json)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(EXTENSION_SRC) | $(BIN)/python
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
	$(BIN)/python -m mypy modelkit/sonata modelkit/simulator modelkit/builder modelkit/analysis modelkit/cluster \
		modelkit/plotting modelkit/datasets modelkit/errors.py modelkit/options.py modelkit/runstatus.py modelkit/labserver

test: $(VENV)/.installed-test lint typecheck test-ts
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# unit tests of the extension's TypeScript models (node's test runner; jlpm comes with jupyterlab)
test-ts: $(VENV)/.installed-test
	cd extension && export PATH="$(abspath $(BIN)):$$PATH" && { test -d node_modules || jlpm install; } && jlpm test

# the documented long run of the hostile-input fuzz: 21,000 cases (make test runs 2,100), about an hour on 2 cores;
# MODELKIT_FUZZ_COLLECT=FILE lists every failing case instead of stopping at the first
fuzz-long: $(VENV)/.installed-test
	MODELKIT_FUZZ_SCALE=10 $(BIN)/python -m pytest tests/sonata/test_fuzz_hostile.py -n 2 -p no:cacheprovider --durations=0

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_sonata.py

lab: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[jupyter]' jupyterlab
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf demo_output .pytest_cache .mypy_cache
