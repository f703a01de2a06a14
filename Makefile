# Two entry points for a fresh clone: `make quickstart` and `make test`.
# Both create .venv and install what is missing first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/hm-week
HOST ?= 127.0.0.1
PORT ?= 8000
INSTALLED := $(VENV)/.installed

.PHONY: install quickstart test lint clean

# torch and torchvision are pinned here and installed before the project, so
# pip never resolves them to another build on its own.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $@

install: $(INSTALLED)

quickstart: $(INSTALLED)
	$(BIN)/milliner quickstart --data $(DATA) --host $(HOST) --port $(PORT)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
