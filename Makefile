# Two commands matter: `make run` and `make test`. Both create the virtual
# environment on first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# JUMBE_FUZZ_EXAMPLES examples per operation, fresh randomness each run (make test runs 6, fixed).
FUZZ_EXAMPLES ?= 200

.PHONY: run test fuzz screenshots lint format clean bench-ingress bench-e2e bench-bulk bench-simportal \
	bench-rest bench-callbacks bench-callback-speed bench-vs-kannel bench-import bench-cluster

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Jumbe needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/jumbe serve

test: $(STAMP)
	$(BIN)/python -m pytest

fuzz: $(STAMP)
	JUMBE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p no:cacheprovider tests/integration/test_api_fuzz.py

# the README's portal screenshots, taken by the browser test (needs chromium, chromium-driver)
screenshots: $(STAMP)
	JUMBE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -p no:cacheprovider -q \
		tests/integration/test_portal_browser.py -k "sqlite and day"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

# Benchmarks (bench/, results in docs/benchmarks.md): one command per scenario.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench-ingress: $(BENCH_STAMP)
	$(BIN)/python -m bench.smpp_ingress $(ARGS)

bench-e2e: $(BENCH_STAMP)
	$(BIN)/python -m bench.end_to_end $(ARGS)

bench-bulk: $(BENCH_STAMP)
	$(BIN)/python -m bench.bulk $(ARGS)

bench-simportal: $(BENCH_STAMP)
	$(BIN)/python -m bench.sim_portal $(ARGS)

bench-rest: $(BENCH_STAMP)
	$(BIN)/python -m bench.rest_sends $(ARGS)

bench-callbacks: $(BENCH_STAMP)
	$(BIN)/python -m bench.callbacks $(ARGS)

bench-callback-speed: $(BENCH_STAMP)
	$(BIN)/python -m bench.callback_speed $(ARGS)

bench-import: $(BENCH_STAMP)
	$(BIN)/python -m bench.contacts_import $(ARGS)

# Installs Debian's kannel package when it is missing (and apt-get can); skips otherwise.
# N nodes on PostgreSQL (JUMBE_BENCH_POSTGRES_URL or --database-url): per-message database cost
bench-cluster: $(BENCH_STAMP)
	$(BIN)/python -m bench.cluster $(ARGS)

bench-vs-kannel: $(BENCH_STAMP)
	$(BIN)/python -m bench.vs_kannel $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
