#!/bin/sh
# What the official image's entrypoint does for `redis-server ...` without a config file:
# turn protected mode off (the compose network is the boundary) and drop to the redis user.
set -e
if [ "$1" = "redis-server" ]; then
    case "${2:-}" in
        *.conf) ;;
        *) shift; set -- redis-server --protected-mode no "$@" ;;
    esac
    if [ "$(id -u)" = 0 ]; then
        chown -R redis:redis /data
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
