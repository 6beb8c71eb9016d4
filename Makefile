# The two commands of the README: `make run` and `make test`.
.PHONY: setup run test test-image lint bench

setup:
	./scripts/setup.sh

run:
	TIDEWELL_SETUP_DEBIAN=0 TIDEWELL_SETUP_PEERS=0 TIDEWELL_SETUP_EXTRAS= ./scripts/setup.sh
	.venv/bin/tidewell $(ARGS)

# Two pytest runs: the `serial` tests (every e2e/ and integration/ test, and the unit tests
# that bound wall-clock time or GIL hold) one at a time, first (their Numba warm-up fills the
# cache); then the others on two pytest-xdist workers, the long conformance scripts first so
# no worker is left with one at the end. The second names its two directories (workers that
# also collect e2e/ and integration/ spend ~10 s importing them); a new test directory is
# added there. Both run; `make test` fails if either fails. PYTEST_ARGS: one plain run.
PYTEST = .venv/bin/python -m pytest -q -p no:cacheprovider
test: setup
	.venv/bin/ruff check src tests benchmarks
ifeq ($(PYTEST_ARGS),)
	status=0; \
	$(PYTEST) -m 'serial and not image' || status=$$?; \
	$(PYTEST) -m 'not serial and not image' -n 2 tests/conformance tests/unit || status=$$?; \
	exit $$status
else
	$(PYTEST) $(PYTEST_ARGS)
endif

# The container image built with podman from an mmdebstrap root filesystem and smoke-tested
# (minutes; out of `make test`).
test-image: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider -m image tests/e2e/deploy

lint:
	.venv/bin/ruff check src tests benchmarks

bench:
	./scripts/peers.sh
	.venv/bin/python -m benchmarks run $(ARGS)
