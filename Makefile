# GoSales Assets. `make demo` and `make test` work from a fresh clone with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
export GOSALES_HOME ?= $(CURDIR)/.gosales_home
export GOSALES_RAW_DIR ?= $(CURDIR)/data/raw
export DAGSTER_HOME ?= $(GOSALES_HOME)/dagster

.PHONY: setup demo test test-slow test-concurrency test-postgres test-browser lint dev bench bench-ci clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

## demo: set up, generate the sample data, run the pipeline for the newest cutoff, summarize
demo: setup
	$(BIN)/gosales generate --out "$(GOSALES_RAW_DIR)"
	$(BIN)/gosales run --cutoff latest
	$(BIN)/gosales top --n 10

## test: set up, lint, run the test suite (slow suites excluded; see test-slow)
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/pytest -n 2 -q

test-slow: setup
	$(BIN)/pytest -q -m slow

## test-concurrency: two backfills at once through dagster-daemon, and the nightly end to end
test-concurrency: setup
	$(BIN)/pytest -q -m slow gosales_assets_tests/test_concurrency.py

## test-postgres: the PostgreSQL instance and DuckLake catalog tests; a missing server
## fails (it starts a throwaway one from /usr/lib/postgresql/*/bin, or GOSALES_TEST_PG_URL)
test-postgres: setup
	GOSALES_REQUIRE_PG=1 $(BIN)/pytest -q -m postgres

## test-browser: the Dagster UI in headless Chromium (/usr/bin/chromium + chromedriver);
## a missing browser fails. Screenshots land in reports/screenshots/.
test-browser: setup
	GOSALES_REQUIRE_BROWSER=1 GOSALES_SCREENSHOT_DIR="$(CURDIR)/reports/screenshots" \
		$(BIN)/pytest -q -m browser

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

## dev: the Dagster UI on 127.0.0.1:3000
dev: setup
	mkdir -p "$(DAGSTER_HOME)" && [ -f "$(DAGSTER_HOME)/dagster.yaml" ] || cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

## bench: generate data at SCALE (XS, S, M, L), run retraining and nightly, report
## timings, targets and growth in reports/benchmark.* (fails if the JSON is incomplete)
SCALE ?= S
bench: setup
	$(BIN)/gosales bench --scale $(SCALE)

## bench-ci: the CI mode: scale XS with 2 targets, a small ingestion at scale and a
## profile, in a scratch folder (never reports/); fails if benchmark.json is incomplete
BENCH_CI := $(GOSALES_HOME)/bench-ci
bench-ci: setup
	rm -rf "$(BENCH_CI)"
	GOSALES_HOME="$(BENCH_CI)" GOSALES_REPORTS_DIR="$(BENCH_CI)/reports" \
		DAGSTER_HOME="$(BENCH_CI)/dagster" \
		$(BIN)/gosales bench --scale XS --targets 2 --ingest-lines 50000 --profile

clean:
	rm -rf "$(GOSALES_HOME)" data/raw
