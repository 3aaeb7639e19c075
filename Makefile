# incident-workbench: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages the real-service tests and the browser test need.
DEB_PACKAGES := prometheus prometheus-alertmanager victoria-metrics postgresql chromium

.PHONY: demo test bench lint format typecheck venv system-deps clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[all,test]'
	touch $@

# JupyterChart's offline JavaScript, built once per installation (vl-convert bundles it
# in seconds; it holds no data): a new user's first notebook run need not build it
$(VENV)/.chart-bundle: $(VENV)/.installed
	$(BIN)/python -c 'from workbench.charts.render import ship_jupyterchart_bundle as s; print("chart bundle:", s())'
	touch $@

venv: $(VENV)/.installed $(VENV)/.chart-bundle

# the baselines the benchmarks measure beside ours (drain3, other PostgreSQL loaders)
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[bench]'
	touch $@

## demo: open JupyterLab on the incident notebook over the embedded demo incident, already
# executed (outputs present). It is run into out/demo/ (ignored by git), so opening and
# saving it never modifies the tracked notebooks/incident.ipynb.
# (JupyterLab refuses to run as root without --allow-root: containers often are root)
DEMO_DIR := out/demo
demo: venv
	$(BIN)/workbench demo --prepare
	$(BIN)/workbench demo --execute $(DEMO_DIR)
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	  --LabApp.default_url=/lab/tree/$(DEMO_DIR)/incident.ipynb

## system-deps: install the Debian packages the tests start (only those missing)
system-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

## test: install what the tests need and run them all
test: system-deps venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: run every benchmark under bench/
bench: system-deps venv $(VENV)/.bench-installed
	@for f in bench/bench_*.py; do echo "# $$f"; $(BIN)/python $$f || exit 1; done

lint: venv
	$(BIN)/ruff check workbench widgets tests bench
	$(BIN)/ruff format --check workbench widgets tests bench

## typecheck: mypy over workbench/ and widgets/ (configured in pyproject.toml; also a test)
typecheck: venv
	$(BIN)/python -m mypy --config-file pyproject.toml workbench widgets

format: venv
	$(BIN)/ruff format workbench widgets tests bench
	$(BIN)/ruff check --fix workbench widgets tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
