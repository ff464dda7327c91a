#!/bin/sh
# The part of the official image's entrypoint the compose file relies on: on an empty PGDATA,
# create the cluster with POSTGRES_USER as superuser and POSTGRES_PASSWORD as its password,
# create POSTGRES_DB on a server that listens on the unix socket only, then run `postgres`
# as the postgres user, listening on every address.
set -eu
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb -D "$PGDATA" --username="$user" --pwfile="$password_file" \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$database" != "postgres" ]; then
        # From stdin: psql substitutes :"db" (quoted as an identifier) there, not in -c.
        echo 'CREATE DATABASE :"db"' | psql -v ON_ERROR_STOP=1 --username="$user" \
            --dbname=postgres --set=db="$database"
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec "$@"
