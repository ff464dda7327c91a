# Two commands for a fresh machine (Python 3.11+ and git): `make dev` and `make test`.
# uv is installed into .tools/ when it is not on PATH; everything else comes from uv.lock
# and the npm registry (browser assets). See README.md.

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_ARGS ?=

.PHONY: dev test install assets test-services lint format bench

dev: install
	$(UV) run ailawyer dev

test: install test-services
	$(UV) run pytest $(PYTEST_ARGS)

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
