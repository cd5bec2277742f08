# kingme: `make test` and `make train` set up .venv first when it is missing or stale.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup browser test test-fast train lint typecheck clean

setup: $(STAMP)

# The CPU build of torch is installed first (the machine keeps a wheel of it), so that the package's
# own `torch>=2.2` requirement is already satisfied and pip does not fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	@touch $(STAMP)

# The browser test needs Debian's chromium: installed here when missing (one line says so).
browser:
	@bash .ci/ensure-browser

# One test worker per core (pytest-xdist): the suite is CPU-bound and most tests use one thread.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n auto --dist worksteal

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal -m "not slow and not learning"

# The main training job: self-play PPO on checkers, 20 minutes by default (MINUTES=...).
MINUTES ?= 20
train: $(STAMP)
	$(BIN)/kingme train checkers --minutes $(MINUTES)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
