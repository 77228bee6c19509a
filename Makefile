# Gradlab: `make run` sets up and serves, `make test` sets up and runs every suite.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-deps
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup sandbox run test test-engine bench clean

setup: $(STAMP) sandbox

$(STAMP): pyproject.toml tools/fetch_digits.sh
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	tools/fetch_digits.sh $(VENV)/share/gradlab/mnist
	touch $(STAMP)

# Kernels run in bubblewrap: install Debian's package when it is missing and we are root.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (kernel sandbox)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "bubblewrap (bwrap) is missing: install it with 'sudo apt-get install bubblewrap'," \
	         "or run with GRADLAB_SANDBOX=none on a trusted single-user machine."; \
	  fi; }

# Serves the playground at http://$(HOST):$(PORT) (HOST and PORT override).
run: setup
	HOST=$(HOST) PORT=$(PORT) $(VPY) -m backend

test: setup
	$(VPY) -m pytest -q -n 2 tests

test-engine: setup
	$(VPY) -m pytest -q -n 2 tests/engine tests/nn tests/optim tests/data

bench: setup
	$(VPY) tests/bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
