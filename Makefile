# One command for everything a change must pass: `make check`.
PY := .venv/bin/python

.PHONY: check fmt lint types test
check: fmt lint types test

fmt:
	$(PY) -m ruff format --check .

lint:
	$(PY) -m ruff check .

types:
	$(PY) -m mypy

test:
	bash scripts/test.sh
