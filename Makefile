# Two commands on a fresh Debian/Ubuntu machine: `make` (set up + build), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev
# Every package at the version of constraints.txt (the lock: same inputs, same bytes; update it
# with `make lock`, see scripts/lock.sh). setuptools' notice that an editable install of a
# package whose design lives beside it (layouts/, styles/) goes through an import hook is not
# printed: it is information, not a problem.
INSTALL := PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install -q -c constraints.txt

.PHONY: all build check lint test test-fast bench watch clean sysdeps sysdeps-test sysdeps-test-fast i18n conformance lock

all: build

# What building needs (WeasyPrint's libraries); the tests add their tools (Chromium, Java…).
sysdeps:
	@scripts/sysdeps.sh build

sysdeps-test:
	@scripts/sysdeps.sh test

sysdeps-test-fast:
	@scripts/sysdeps.sh test-fast

# livret and what building needs; reinstalled only when the dependencies or the lock change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(INSTALL) -e .
	@touch $@

# + the test and lint tools (make test, make lint, CI).
$(DEV): $(STAMP)
	@$(INSTALL) -e '.[test,lint]'
	@touch $@

# constraints.txt again, from the newest versions pyproject.toml allows (scripts/lock.sh).
lock:
	@PYTHON=$(PYTHON) scripts/lock.sh

# Everything the edition publishes: the booklet, the theme excerpts, a sheet per card, the EPUB
# and the web edition (whose card pages then offer their sheet for download).
build: sysdeps $(STAMP)
	@$(BIN)/python build.py --only booklet --only themes --only actions --only epub --only web

check: $(STAMP)
	@$(BIN)/python build.py check

# Lint, format and types: what CI runs before the tests.
lint: $(DEV)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

# Every core (pytest-xdist); the tests of a file, and of the press builds, share one worker
# (loadgroup), so what they build is built once; the long groups go first, in the order
# tests/conftest.py gives them. PYTEST_ARGS='-m "not slow"' skips the slow ones.
PYTEST_ARGS ?=
XDIST := -n auto --dist loadgroup --no-loadscope-reorder
test: sysdeps-test $(DEV) node_modules/.package-lock.json
	@$(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

# The fast tier, between two edits: no browser, no Java, no wheel install, no real process
# killed (the markers of pyproject.toml), every module touched. `make test` runs everything.
FAST := not browser and not java and not slow
test-fast: sysdeps-test-fast $(DEV)
	@$(BIN)/python -m pytest -q $(XDIST) -m "$(FAST)" $(PYTEST_ARGS)

# The web edition's and the EPUB's checkers (axe-core, vnu-jar, Ace) from package-lock.json,
# no browser downloaded; without npm, the
# tests that need them say so (and fail in CI).
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null; then PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts; fi

# veraPDF on every output (booklet, excerpts, sheets, archive variant): each failed rule per file.
conformance: sysdeps-test $(DEV)
	@$(BIN)/python -m livret.conformance --build output/conformance

bench: sysdeps-test-fast $(DEV)
	@$(BIN)/python benchmarks/bench_build.py
	@$(BIN)/python benchmarks/bench_mail.py
	@$(BIN)/python benchmarks/bench_preview.py

watch: sysdeps $(STAMP)
	@$(BIN)/python build.py watch

# Messages: extract every _() into livret.pot, merge it into the French catalog (new or changed
# messages appear untranslated or fuzzy: translate them in livret.po), compile the .mo shipped
# with the package. tests/test_i18n.py fails while a message has no French translation.
LOCALE := livret/locale
i18n: $(DEV)
	@$(BIN)/pybabel -q extract -F babel.cfg --add-location=file --sort-output --no-wrap \
		--project=livret --version=$$($(BIN)/python -c 'import livret; print(livret.__version__)') \
		--copyright-holder='Club des territoires' --omit-header -o $(LOCALE)/livret.pot livret
	@$(BIN)/pybabel -q update -D livret -i $(LOCALE)/livret.pot -d $(LOCALE) -l fr \
		--no-wrap --ignore-obsolete --ignore-pot-creation-date
	@$(BIN)/pybabel -q compile -D livret -d $(LOCALE) -l fr --statistics

clean:
	rm -rf output .pytest_cache
