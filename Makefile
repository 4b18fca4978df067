# The two quick-start commands: `make demo` and `make test`. Each does all set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

PEERS  := .venv-peers
.PHONY: demo test setup bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench,parquet]"
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

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The peers of the sampler benchmark live in their own environment: PyMC and bambi need
# companions of ArviZ that do not work with the plotting stack of hierax's environment.
$(PEERS)/.installed:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet "pymc==5.28.5" "bambi==0.17.2" "numpyro==0.22.0" \
	  "nutpie==0.16.8" "jax>=0.10,<0.11" "matplotlib<3.11"
	touch $@

bench: $(STAMP) $(PEERS)/.installed
	$(BIN)/python benchmarks/suite.py --timeout 180 --timeout-for grouseticks=900 --refits 3
	$(BIN)/python benchmarks/precision.py
	$(BIN)/python benchmarks/radon_nuts.py --repeats 3
	$(BIN)/python benchmarks/reml.py --repeats 5 --timeout 600
	$(BIN)/python benchmarks/laplace.py --repeats 5
	$(BIN)/python benchmarks/sbc_radon.py --simulations 100 --workers 2

clean:
	rm -rf $(VENV) $(PEERS) build dist src/*.egg-info
