# The two commands of the README: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV := .venv
INFRA_VENV := .venv-infra
PY := $(VENV)/bin/python
PORT ?= 7071

.PHONY: run test demo bench setup clean

setup: $(VENV)/.installed $(INFRA_VENV)/.installed node_modules/.installed local.settings.json

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov pins its own dependency versions, so it lives apart from the app's environment.
$(INFRA_VENV)/.installed: requirements-infra.txt
	test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

local.settings.json:
	cp local.settings.example.json $@

run: $(VENV)/.installed node_modules/.installed local.settings.json
	PORT=$(PORT) PY=$(PY) bash tools/run-local.sh

# Azurite, the identity platform simulator and the local host; a dozen customers; Verify All; the status table.
demo: $(VENV)/.installed node_modules/.installed
	$(PY) -m tools.demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

# Verify All's throughput, CPU and memory, then what foresight's Graph reads add to a run (README, Tests).
bench: setup
	$(PY) benchmarks/verify_all.py
	$(PY) benchmarks/foresight.py

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .local .pytest_cache
