# The two commands of the README: `make run` and `make test`.
.PHONY: setup run test test-image lint bench

setup:
	./scripts/setup.sh

run:
	TIDEWELL_SETUP_DEBIAN=0 TIDEWELL_SETUP_PEERS=0 TIDEWELL_SETUP_EXTRAS= ./scripts/setup.sh
	.venv/bin/tidewell $(ARGS)

test: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The container image built with podman from an mmdebstrap root filesystem and smoke-tested
# (minutes; out of `make test`).
test-image: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider -m image tests/e2e/deploy

lint:
	.venv/bin/ruff check src tests benchmarks

bench:
	./scripts/peers.sh
	.venv/bin/python -m benchmarks run $(ARGS)
