# Two commands for a newcomer: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PACKAGES := bot pulses storage sandbox benchmarks

.PHONY: run test lint typecheck pytest bench scale validity clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Coherence needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/coherence run

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy $(PACKAGES)

pytest: $(STAMP)
	PYTEST=$(BIN)/pytest bash scripts/pytest-with-postgres.sh

# With a throwaway PostgreSQL when one is installed, so the burst is measured on both.
bench: $(STAMP)
	PYTEST=$(BIN)/python bash scripts/pytest-with-postgres.sh -m benchmarks $(BENCH_ARGS)

# Replicas sharing a fan-out on a throwaway PostgreSQL, one SIGKILLed mid-fan-out, against the
# posting floor, with where the CPU went (benchmarks/scale.py; SCALE_ARGS="WORKSPACES GROUPS LEADERS").
scale: $(STAMP)
	PYTEST=$(BIN)/python bash scripts/pytest-with-postgres.sh -m benchmarks.scale $(SCALE_ARGS)

validity: $(STAMP)
	$(BIN)/python -m benchmarks.validity

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
