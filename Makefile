# Two commands on a fresh Debian/Ubuntu machine: `make` (set up + build), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all build check lint test bench watch clean sysdeps

all: build

sysdeps:
	@scripts/sysdeps.sh

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[test,lint]'
	@touch $@

build: sysdeps $(STAMP)
	@$(BIN)/python build.py

check: $(STAMP)
	@$(BIN)/python build.py check

# Lint, format and types: what CI runs before the tests.
lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

test: sysdeps $(STAMP)
	@$(BIN)/python -m pytest -q

bench: sysdeps $(STAMP)
	@$(BIN)/python benchmarks/bench_build.py
	@$(BIN)/python benchmarks/bench_mail.py

watch: sysdeps $(STAMP)
	@$(BIN)/python build.py watch

clean:
	rm -rf output .pytest_cache
