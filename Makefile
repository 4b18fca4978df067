# The two quick-start commands: `make demo` and `make test`. Each does all set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

PEERS  := .venv-peers
# The default stack is pinned to ArviZ 0.23 (InferenceData) and JAX 0.10, as measured in benchmarks/;
# hierax allows newer releases, which test-py313 tests.
DEFAULT_STACK := .ci/constraints-default.txt
# CI's second stack: Python 3.13 with the newest releases beside PyMC >= 6 and bambi >= 0.21 (ArviZ 1.x,
# DataTree). pyenv's 3.13.0 if installed, else python3.13 on PATH; without either it is skipped.
PY313  ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13.0/bin/python /root/.pyenv/versions/3.13.0/bin/python) \
            $(shell command -v python3.13 2>/dev/null))
VENV313 := .venv313
.PHONY: demo test test-py313 setup bench clean browser

$(STAMP): pyproject.toml $(DEFAULT_STACK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(DEFAULT_STACK) -e ".[test,bench,parquet,dask]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/hierax demo

# The report's browser test needs Chromium; as root on Debian it is installed here (else that one
# test is skipped, saying so).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing Debian's chromium for the report's browser test" && \
	  { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { timeout 120 apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	    echo "chromium not installed: the browser test will be skipped"; }; } || true

# Two pytest workers, one test file each at a time (--dist loadfile: a module's fixtures, such as
# the family-recovery fits, are built once): CI's machine has two cores and most of a test's time
# is compiling, which runs on one (on the 2-core machine with a warm compilation cache: 13.0 min
# against 21.6 min in one process).
PYTEST := -m pytest -q -n 2 --dist loadfile

test: $(STAMP) browser
	$(BIN)/python $(PYTEST)

$(VENV313)/.installed: pyproject.toml
	$(PY313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test,parquet,dask]" "pymc>=6" "bambi>=0.21"
	$(VENV313)/bin/python -m pip list --format=freeze | grep -iE '^(arviz|jax|jaxlib|blackjax|numpy|pandas|xarray|pymc|bambi)[-_a-z]*=='
	touch $@

test-py313: browser
	@if [ -z "$(PY313)" ]; then \
	  echo "test-py313 SKIPPED: no Python 3.13 found (neither $(HOME)/.pyenv/versions/3.13.0/bin/python nor" \
	       "python3.13 on PATH); install one or run 'make test-py313 PY313=/path/to/python3.13'"; \
	else \
	  $(MAKE) --no-print-directory $(VENV313)/.installed && $(VENV313)/bin/python $(PYTEST); \
	fi

# The peers of the sampler benchmark live in their own environment: PyMC and bambi need
# companions of ArviZ that do not work with the plotting stack of hierax's environment.
$(PEERS)/.installed:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet "pymc==5.28.5" "bambi==0.17.2" "numpyro==0.22.0" \
	  "nutpie==0.16.8" "jax>=0.10,<0.11" "matplotlib<3.11"
	touch $@

# Every benchmark, in the order and with the arguments of benchmarks/bench_all.py (about five hours on
# the 2-core machine). Each script's log and record go to benchmarks/results/<key of the committed
# code>/; a later `make bench` on the same code runs only what has not finished, so one run of the
# list can span sessions. `make bench BENCH_ARGS=--fresh` runs everything again.
bench: $(STAMP) $(PEERS)/.installed
	$(BIN)/python benchmarks/bench_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV313) $(PEERS) build dist src/*.egg-info
