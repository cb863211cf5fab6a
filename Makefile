# The same commands CI runs (.ci/run). `make setup` once, then `make check`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup lint typecheck imports test demo bench check

setup:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"

lint:
	$(VENV)/bin/ruff check bot handlers tests bench .ci
	$(VENV)/bin/ruff format --check bot handlers tests bench .ci

typecheck:
	$(VENV)/bin/mypy

imports:
	$(PY) .ci/import_cycles.py

test:
	$(PY) -m pytest -q

demo:
	$(VENV)/bin/blandbot demo

bench:
	$(PY) bench/ack_latency.py

check: lint typecheck imports test
