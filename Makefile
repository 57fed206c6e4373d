# territory-opt: two commands on a fresh machine with Python 3.11 and make.
#   make demo   create .venv, install, run the demo job
#   make test   ruff + mypy + the whole pytest suite + the notebooks
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/territory-opt demo --out demo-output --force

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

# The notebooks run in a second pytest call, so that tests/ never goes through nbmake;
# a cell that fails fails the target, and so does pytest's exit code 5 (nothing collected).
pytest: install
	$(BIN)/pytest src tests
	$(BIN)/pytest --nbmake --nbmake-timeout=600 notebooks

# Regenerate docs/cli-reference.md, docs/scenario-reference.md and scenarios/schema.json
# from the code (tests/test_docs.py fails while they are stale).
docs: install
	$(BIN)/python -m territory_opt._docgen

test: lint typecheck pytest

bench: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/bench_io.py
	$(BIN)/python bench/bench_align.py
	$(BIN)/python bench/bench_lp.py --sizes 1000x20 10000x100 30000x100
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_sizing.py
	$(BIN)/python bench/bench_limits.py
	$(BIN)/python bench/bench_districts.py
	$(BIN)/python bench/bench_growth.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
