# Two commands for a fresh machine (Python 3.11+ and git): `make dev` and `make test`.
# uv is installed into .tools/ when it is not on PATH; everything else comes from uv.lock
# and the npm registry (browser assets). See README.md.

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_ARGS ?=
# `make test` runs the test files in parallel (pytest-xdist); each test process has its own
# Redis, database and directories (tests/conftest.py). TEST_WORKERS=0 runs them one by one.
TEST_WORKERS ?= 3

.PHONY: dev test install assets test-services lint format bench chaos bench-tools security stack

dev: install
	$(UV) run ailawyer dev

test: install test-services
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

install: $(UV)
	$(UV) sync --frozen
	$(UV) run python -c "from ailawyer.app.assets import build_assets; build_assets()"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==0.13.9"

# Chromium for the browser tests and a reachable PostgreSQL (see the script for details).
test-services:
	bash scripts/ensure-test-services.sh

lint: install
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench

format: install
	$(UV) run ruff format src tests bench
	$(UV) run ruff check --fix src tests bench

# The long chaos run and the long forms of tests marked slow (a Redis outage of minutes, a 1 GB
# log file); CI runs the short forms with the tests. See README.md, "Chaos and load".
CHAOS_SECONDS ?= 600
CHAOS_ARGS ?=
chaos: install test-services
	$(UV) run python -m tests.chaos --seconds $(CHAOS_SECONDS) $(CHAOS_ARGS)
	$(UV) run pytest -m slow $(PYTEST_ARGS)

# wrk for bench.http_load: Debian's package, installed with apt-get when running as root.
bench-tools:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y wrk; } \
		|| { echo "wrk is missing: apt-get install -y wrk"; exit 1; }

# The load benchmarks (HTTP, real time, jobs); PY_SPY=/path/to/py-spy adds profiles.
PY_SPY ?=
bench: install test-services bench-tools
	$(UV) run python -m bench.http_load $(if $(PY_SPY),--py-spy $(PY_SPY))
	$(UV) run python -m bench.realtime_fanout $(if $(PY_SPY),--py-spy $(PY_SPY))
	$(UV) run python -m bench.jobs_end_to_end $(if $(PY_SPY),--py-spy $(PY_SPY))

# The security suite's long form (CI runs it with 5 fuzzed cases per operation): see README.md,
# "Security". SECURITY_FUZZ_SEED=N fuzzes other cases.
SECURITY_FUZZ_EXAMPLES ?= 50
security: install test-services
	SECURITY_FUZZ_EXAMPLES=$(SECURITY_FUZZ_EXAMPLES) $(UV) run pytest tests/security $(PYTEST_ARGS)

# The documented Docker deployment brought up for real (root on Debian; README, "Production
# with Docker Compose"): stand-in base images from Debian's packages, built once per recipe,
# the project's image, and docker-compose.yml run by podman. Minutes, so not in `make test`.
stack: install
	$(UV) run pytest tests/deployment -s $(PYTEST_ARGS)
