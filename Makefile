# GoSales Assets. `make demo` and `make test` work from a fresh clone with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
export GOSALES_HOME ?= $(CURDIR)/.gosales_home
export GOSALES_RAW_DIR ?= $(CURDIR)/data/raw
export DAGSTER_HOME ?= $(GOSALES_HOME)/dagster

.PHONY: setup demo test test-slow lint dev bench clean

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
	$(BIN)/dagster definitions validate -m gosales_assets.definitions -a defs
	$(BIN)/pytest -n 2 -q

test-slow: setup
	$(BIN)/pytest -q -m slow

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

## dev: the Dagster UI on 127.0.0.1:3000
dev: setup
	mkdir -p "$(DAGSTER_HOME)" && [ -f "$(DAGSTER_HOME)/dagster.yaml" ] || cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m gosales_assets.definitions -a defs

## bench: generate data at SCALE (S, M, L), run the nightly graph, report timings
SCALE ?= S
bench: setup
	$(BIN)/gosales bench --scale $(SCALE)

clean:
	rm -rf "$(GOSALES_HOME)" data/raw
