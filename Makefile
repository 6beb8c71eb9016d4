# The two commands of the README: `make run` and `make test`.
.PHONY: setup run test lint bench

setup:
	./scripts/setup.sh

run:
	TIDEWELL_SETUP_DEBIAN=0 TIDEWELL_SETUP_PEERS=0 TIDEWELL_SETUP_EXTRAS= ./scripts/setup.sh
	.venv/bin/tidewell $(ARGS)

test: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check src tests benchmarks

bench:
	./scripts/peers.sh
	.venv/bin/python -m benchmarks run $(ARGS)
