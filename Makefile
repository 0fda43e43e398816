# gonghui-workflow — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# the suite runs in one process per core (pytest-xdist); each process has its own database (tests/conftest.py)
PYTEST_WORKERS ?= auto
PG_URL ?= postgresql+psycopg://root@127.0.0.1:5432/test
# branch coverage of api/ and workflow/, reported at the end of `make test` (COVERAGE= to run without it)
COVERAGE ?= --cov=api --cov=workflow --cov-branch --cov-report=term:skip-covered
# the fifteen slowest tests, listed at the end of every run: where the suite's time goes as it grows
DURATIONS ?= --durations=15

.PHONY: run system-deps test test-pg bench bench-deps bench-full fuzz lint typecheck check-definitions clean

# Debian packages the PDF documents need (WeasyPrint's Pango, a Chinese font embedded in every PDF).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## make run: venv, install, schema, demo data, then API + scheduler + UI on http://127.0.0.1:5000
run: $(STAMP) system-deps
	$(BIN)/gonghui init-db
	$(BIN)/gonghui seed-demo
	$(BIN)/gonghui run --host 127.0.0.1 --port 5000

## system-deps: install the Debian packages above when missing (as root, like .ci/run); otherwise say which
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "PDF documents need the Debian packages:" $$missing "(sudo apt-get install ...)"; fi; \
	fi

# axe-core for the browser tests' accessibility check (from npm; skipped by those tests when npm is missing)
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
$(AXE):
	-npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@4.14.1

## make test: venv, install, the whole suite (SQLite; TEST_DATABASE_URL=postgresql+psycopg://... for PostgreSQL)
test: $(STAMP) system-deps $(AXE)
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(COVERAGE) $(DURATIONS) $(PYTEST_ARGS)

test-pg: $(STAMP) system-deps $(AXE)
	TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) $(COVERAGE) $(DURATIONS) $(PYTEST_ARGS)

bench-deps: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
		echo "wrk is not installed: the HTTP benchmark will be skipped (Debian package wrk)"

bench: bench-deps
	$(BIN)/python -m bench --quick

bench-full: bench-deps
	$(BIN)/python -m bench --full

fuzz: $(STAMP)
	FUZZ_EXAMPLES=2000 $(BIN)/pytest tests/api/test_fuzz.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check workflow api tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check-definitions: $(STAMP)
	$(BIN)/gonghui definitions check

clean:
	rm -rf $(VENV) instance .pytest_cache
