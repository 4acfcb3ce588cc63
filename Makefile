# Two commands do all setup: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.4
BUN := .tools/node_modules/.bin/bun

.PHONY: run stop test lint bench clean-data chromium

$(VENV)/.runtime-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.runtime-installed requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# Reflex builds the frontend with bun; it comes from the npm registry into a project folder so
# that Reflex never downloads anything itself.
$(BUN):
	npm install --silent --no-audit --no-fund --prefix .tools bun@$(BUN_VERSION)

run: $(VENV)/.runtime-installed $(BUN)
	$(PY) -m chatai app run

# The embedded servers left running by a process that could not stop them (killed with SIGKILL).
stop: $(VENV)/.runtime-installed
	$(PY) -m chatai servers stop

# Browser tests drive Debian's chromium; install it when missing and we may (root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests will be skipped)"; fi; }

# tests/e2e/test_nginx.py and tests/e2e/test_scale_out.py share one app (tests/e2e/edge.py): scaled out
# (two web workers on Redis, stand-in external PostgreSQL and Redis) behind Debian's nginx (installed when
# missing and root), built for the nginx origin (Reflex bakes PUBLIC_URL into the frontend). The other
# browser tests need the plain app: the two files run in a second session, two app builds in all.
EDGE_TESTS := tests/e2e/test_nginx.py tests/e2e/test_scale_out.py
test: $(VENV)/.test-installed $(BUN) chromium
	$(PY) -m ruff check .
	$(PY) -m pytest $(addprefix --ignore=,$(EDGE_TESTS))
	$(PY) -m pytest $(EDGE_TESTS)

lint: $(VENV)/.test-installed
	$(PY) -m ruff check .

bench: $(VENV)/.test-installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) -m bench

clean-data:
	rm -rf .data
