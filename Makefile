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

# tests/e2e/test_nginx.py needs the app built for its nginx origin (Reflex bakes PUBLIC_URL into the
# frontend), so it runs in a session of its own; it installs Debian's nginx itself when missing (root).
# tests/e2e/test_scale_out.py needs the app with two workers on stand-in external servers: its own too.
test: $(VENV)/.test-installed $(BUN) chromium
	$(PY) -m ruff check .
	$(PY) -m pytest --ignore=tests/e2e/test_nginx.py --ignore=tests/e2e/test_scale_out.py
	$(PY) -m pytest tests/e2e/test_nginx.py
	$(PY) -m pytest tests/e2e/test_scale_out.py

lint: $(VENV)/.test-installed
	$(PY) -m ruff check .

bench: $(VENV)/.test-installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) -m bench

clean-data:
	rm -rf .data
