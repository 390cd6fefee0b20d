# Two commands on a fresh Debian/Ubuntu machine: `make` (set up + build), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all build check test bench watch clean sysdeps conformance

all: build

sysdeps:
	@scripts/sysdeps.sh

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

build: sysdeps $(STAMP)
	@$(BIN)/python build.py

check: $(STAMP)
	@$(BIN)/python build.py check

test: sysdeps $(STAMP)
	@$(BIN)/python -m pytest -q

# veraPDF on every output (booklet, excerpts, sheets, archive variant): each failed rule per file.
conformance: sysdeps $(STAMP)
	@$(BIN)/python -m livret.conformance --build output/conformance

bench: sysdeps $(STAMP)
	@$(BIN)/python benchmarks/bench_build.py
	@$(BIN)/python benchmarks/bench_mail.py

watch: sysdeps $(STAMP)
	@$(BIN)/python build.py watch

clean:
	rm -rf output .pytest_cache
