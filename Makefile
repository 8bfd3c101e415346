# regwatch — `make install`, `make run`, `make test` (lint, then the tests), `make demo`, `make bench`
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: install dev run demo lint test test-lowest model bench browse report lock clean

# The runtime set (requirements.lock): what `make install`, `make run` and deploy/Dockerfile install.
$(VENV)/.runtime: pyproject.toml requirements.lock
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "regwatch needs Python 3.11 or newer; $(PY) is $$($(PY) --version 2>&1): make install PY=python3.11 (or newer)" >&2; exit 1; }
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
		echo "$(VENV) was made with $$($(BIN)/python --version 2>&1): made again with $(PY)"; rm -rf $(VENV); fi
	$(PY) -m venv $(VENV)
	$(PIP) -r requirements.lock
	$(PIP) --no-deps -e .
	@touch $@

# The development set (requirements-dev.lock): the runtime set plus tests, benchmarks, Datasette,
# apprise, the platforms' own libraries the test receivers verify with, ruff, mypy, uv.
$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(PIP) -r requirements-dev.lock
	@touch $@

install: $(VENV)/.runtime

dev: $(VENV)/.dev

run: install
	$(BIN)/regwatch run

demo: install
	$(BIN)/regwatch demo

# ruff (pyproject's [tool.ruff]) on the code, tests and benchmarks; mypy (pyproject's [tool.mypy]) on the package.
lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# Two test processes a core: most tests wait on a subprocess, a local server or a timer, not on the CPU.
TEST_WORKERS ?= $(shell echo $$(( 2 * $$(nproc 2>/dev/null || echo 1) )))
test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# The learned stage shipped with the bundled pack, trained on the dev split of eval/ (never on the test split).
model: dev
	$(BIN)/regwatch train eval/dev.jsonl --out src/regwatch/pipeline/packs/cn-consumer-finance.model.json -c /dev/null

bench: dev
	$(BIN)/python bench/run_all.py

# Datasette on the store (or, without one, on the demo's), with regwatch's table descriptions,
# canned queries and Chinese search.
DB ?= regwatch.db
browse: dev
	@db=$(DB); if [ ! -f $$db ]; then echo "no $$db: browsing the demo's store"; \
	  $(BIN)/regwatch demo --keep .demo > /dev/null; db=.demo/regwatch.db; fi; \
	$(BIN)/datasette $$db -m deploy/datasette/metadata.yml --plugins-dir deploy/datasette/plugins -h 127.0.0.1 -p 8001

report: install
	$(BIN)/regwatch report --out report.html

# Re-resolve both locks after changing pyproject.toml's dependencies: the runtime set, then the
# development set with the runtime pins as constraints (the same versions in both).
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11
lock: dev
	$(UV_COMPILE) pyproject.toml -o requirements.lock
	$(UV_COMPILE) pyproject.toml --extra dev -c requirements.lock -o requirements-dev.lock

# The lower bounds in pyproject.toml hold: the test suite on the lowest versions they allow.
test-lowest: dev
	$(BIN)/uv pip compile --quiet --python-version 3.11 --resolution lowest-direct pyproject.toml --extra dev -o $(VENV)-lowest.txt
	$(BIN)/uv venv --quiet --allow-existing -p $(BIN)/python $(VENV)-lowest
	VIRTUAL_ENV=$(VENV)-lowest $(BIN)/uv pip install --quiet -r $(VENV)-lowest.txt
	VIRTUAL_ENV=$(VENV)-lowest $(BIN)/uv pip install --quiet --no-deps -e .
	$(VENV)-lowest/bin/python -m pytest -p no:cacheprovider

clean:
	rm -rf $(VENV) $(VENV)-lowest $(VENV)-lowest.txt build *.egg-info src/*.egg-info .pytest_cache
