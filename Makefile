# The two quick-start commands: `make demo` and `make test`. Each does all set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench,parquet]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/hierax demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/radon_nuts.py --repeats 3
	$(BIN)/python benchmarks/reml.py --repeats 5 --timeout 600
	$(BIN)/python benchmarks/laplace.py --repeats 5
	$(BIN)/python benchmarks/sbc_radon.py --simulations 100 --workers 2

clean:
	rm -rf $(VENV) build dist src/*.egg-info
