# Two commands on a fresh Debian/Ubuntu machine: `make` (set up + build), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all build check lint test bench watch clean sysdeps i18n conformance

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

# Every core (pytest-xdist); the tests of the session build share one worker (loadgroup), so
# the booklet and excerpts are built once. PYTEST_ARGS='-m "not slow"' skips the slow ones.
PYTEST_ARGS ?=
test: sysdeps $(STAMP) node_modules/.package-lock.json
	@$(BIN)/python -m pytest -q -n auto --dist loadgroup $(PYTEST_ARGS)

# The web edition's checkers (axe-core, vnu-jar) from package-lock.json; without npm, the
# tests that need them say so (and fail in CI).
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --ignore-scripts; fi

# veraPDF on every output (booklet, excerpts, sheets, archive variant): each failed rule per file.
conformance: sysdeps $(STAMP)
	@$(BIN)/python -m livret.conformance --build output/conformance

bench: sysdeps $(STAMP)
	@$(BIN)/python benchmarks/bench_build.py
	@$(BIN)/python benchmarks/bench_mail.py
	@$(BIN)/python benchmarks/bench_preview.py

watch: sysdeps $(STAMP)
	@$(BIN)/python build.py watch

# Messages: extract every _() into livret.pot, merge it into the French catalog (new or changed
# messages appear untranslated or fuzzy: translate them in livret.po), compile the .mo shipped
# with the package. tests/test_i18n.py fails while a message has no French translation.
LOCALE := livret/locale
i18n: $(STAMP)
	@$(BIN)/pybabel -q extract -F babel.cfg --add-location=file --sort-output --no-wrap \
		--project=livret --version=$$($(BIN)/python -c 'import livret; print(livret.__version__)') \
		--copyright-holder='Club des territoires' --omit-header -o $(LOCALE)/livret.pot livret
	@$(BIN)/pybabel -q update -D livret -i $(LOCALE)/livret.pot -d $(LOCALE) -l fr \
		--no-wrap --ignore-obsolete --ignore-pot-creation-date
	@$(BIN)/pybabel -q compile -D livret -d $(LOCALE) -l fr --statistics

clean:
	rm -rf output .pytest_cache
