# Two commands set everything up: `make demo` and `make test`. Each creates .venv, installs
# scratchnet into it and fetches Fashion-MNIST when it is not there yet.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL  ?= runs/mlp
REPORT ?= runs/mlp-report

.PHONY: install data browser demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/scratchnet data fetch

# Trains $(MODEL) and writes the report to $(REPORT) (demo's default); --force: each run
# replaces the model the previous `make demo` trained.
demo: data
	$(BIN)/scratchnet demo --out $(MODEL) --report $(REPORT) --force

# The browser tests drive Debian's Chromium; as root on Debian it is installed here (elsewhere
# install it yourself, or those tests skip with one line; under CI=true they fail instead).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	  || echo "chromium not installed: the browser tests will skip"

test: data browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The side-by-side benchmark; PyTorch is installed only here, never as a dependency.
bench: data
	$(BIN)/python -m pip install -q -e '.[bench]' torch==2.13.0
	$(BIN)/python -m benchmarks.mlp --json docs/bench-mlp.json
	$(BIN)/python -m benchmarks.cnn --json docs/bench-cnn.json
	$(BIN)/python -m benchmarks.profile_mlp --epochs 5 --json docs/profile-mlp.json

# The loaders of untrusted files (model directories, IDX data) against 10,000 mutated cases
# each; prints the counts (anything else and hangs must be 0), slowest case and peak RSS.
fuzz: $(STAMP)
	$(BIN)/python -m benchmarks.fuzz --cases 10000

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
