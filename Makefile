# `make test` is THE test command: CI (.ci/run) runs exactly this.
PYTHON ?= python3

.PHONY: install lint docs docs-check test test-unit bench demo

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

lint:
	$(PYTHON) -m ruff check flafka tests bench devstack
	$(PYTHON) -m mypy --strict flafka devstack

docs:
	$(PYTHON) -m flafka.docs > docs/properties.md

docs-check:
	$(PYTHON) -m flafka.docs --check docs/properties.md

test: lint docs-check
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

test-unit: lint docs-check
	$(PYTHON) -m pytest -q -p no:cacheprovider -m "not integration" tests

bench:
	$(PYTHON) bench/runtime_bench.py

# The Flafka post's fraud demo on the real servers (starts and stops them): see README "The fraud demo".
demo:
	$(PYTHON) -m flafka.examples.fraud demo $(DEMO_ARGS)
