# regwatch — `make install`, `make run`, `make test`, `make demo`, `make bench`
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run demo test bench browse report lock clean

$(BIN)/regwatch: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(BIN)/regwatch

install: $(BIN)/regwatch

run: install
	$(BIN)/regwatch run

demo: install
	$(BIN)/regwatch demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run_all.py

# Datasette on the store (or, without one, on the demo's), with regwatch's table descriptions,
# canned queries and Chinese search.
DB ?= regwatch.db
browse: install
	@db=$(DB); if [ ! -f $$db ]; then echo "no $$db: browsing the demo's store"; \
	  $(BIN)/regwatch demo --keep .demo > /dev/null; db=.demo/regwatch.db; fi; \
	$(BIN)/datasette $$db -m deploy/datasette/metadata.yml --plugins-dir deploy/datasette/plugins -h 127.0.0.1 -p 8001

report: install
	$(BIN)/regwatch report --out report.html

# Re-resolve the pinned versions after changing pyproject.toml's dependencies.
lock:
	$(BIN)/pip install --quiet uv && $(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
