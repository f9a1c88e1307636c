# Two commands: `make run` serves the page, `make test` runs every test. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
REPLICAS ?= 2

.PHONY: run serve test test-fast bench lint clean

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --retries 0 -r requirements.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --retries 0 -r requirements-dev.txt
	touch $@

run: $(BIN)/.runtime
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

# REPLICAS Streamlit processes on PORT+1.. behind nginx on PORT, sticky per browser (deploy/serve.py).
serve: $(BIN)/.runtime
	$(BIN)/python deploy/serve.py --replicas $(REPLICAS) --port $(PORT)

test: $(BIN)/.dev
	$(BIN)/ruff check explorer tests bench deploy streamlit_app.py
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

# The tests without a real server, Chromium or a run over ~5 s (the pytest markers in pyproject.toml).
test-fast: $(BIN)/.dev
	$(BIN)/python -m pytest -m "not e2e and not slow"

bench: $(BIN)/.dev
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
