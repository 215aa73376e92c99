# The commands people run. `make demo` and `make test` do all set-up on a fresh machine.
.PHONY: demo test lint bench docs stop

demo:
	@scripts/bootstrap
	@.venv/bin/shipyard demo

stop:
	@.venv/bin/shipyard demo --stop

# In parallel (pytest-xdist): one worker per core plus one, as much of a test's time is spent
# waiting on processes it started (8 at most); each file's tests run in order in one worker,
# files in collection order (tests/conftest.py puts the long scenarios first).
# TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= $(shell python3 -c 'import os; print(min(len(os.sched_getaffinity(0)) + 1, 8))')

test:
	@scripts/bootstrap
	@scripts/services
	@.venv/bin/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint:
	@scripts/bootstrap
	@.venv/bin/ruff check src tests bench
	@.venv/bin/mypy

# Every benchmark, then one table of figures, anchors, ratios and targets
# (bench/README.md keeps the latest). BENCH="cli_bench notes_bench" runs only those.
bench:
	@scripts/bootstrap
	@scripts/services
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 \
		|| echo "wrk could not be installed: bench/env_load.py loads with its Python client"
	@.venv/bin/python bench/run_all.py --markdown bench/.work/summary.md $(if $(BENCH),--only $(BENCH))

docs:
	@scripts/bootstrap
	@.venv/bin/python scripts/gen_cli_docs.py > docs/cli.md
