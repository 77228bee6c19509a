# Gradlab: `make run` sets up and serves, `make test` sets up and runs every suite.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-deps

.PHONY: setup run test test-engine bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	tools/fetch_digits.sh $(VENV)/share/gradlab/mnist
	touch $(STAMP)

# Until the playground server lands, `make run` trains a small model on the engine and shows
# the autograd graph it recorded.
run: setup
	$(VPY) -m engine.run examples/quickstart.py

test: setup
	$(VPY) -m pytest -q -n 2 tests

test-engine: setup
	$(VPY) -m pytest -q -n 2 tests/engine

bench: setup
	$(VPY) tests/bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
