#!/usr/bin/env bash
# The images the stack test (tests/deployment/, `make stack`) runs with podman, made without
# any image registry:
#  1. a Debian bookworm base from Debian's packages (debootstrap --variant=minbase),
#     imported into podman as localhost/debian:bookworm;
#  2. stand-ins for the base images the Dockerfile and docker-compose.yml name (Python,
#     Node, Redis, PostgreSQL), built FROM that base from scripts/stack/*.Containerfile and
#     tagged with exactly those names, so nothing is pulled;
#  3. the project's image from its real Dockerfile (podman's layer cache keeps a rebuild
#     after a code change short).
# The base and each stand-in are also tagged with a hash of their recipe (the recipe text,
# the files it copies, the base's hash) and are rebuilt only when that hash is new.
#
# Usage: scripts/stack-images.sh [APP_IMAGE]    (default: localhost/ailawyer:stack-test)
# Needs root on Debian: podman, debootstrap and docker-compose are installed with apt-get
# when missing. CONTAINERS_CONF defaults to scripts/stack/containers.conf.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STACK="$ROOT/scripts/stack"
APP_IMAGE="${1:-localhost/ailawyer:stack-test}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$STACK/containers.conf}"
# The host's CA bundle, copied into the stand-ins: see python.Containerfile.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
BASE_RECIPE="debootstrap --variant=minbase $SUITE $MIRROR"
STAND_IN=localhost/ailawyer-stand-in

log() { echo "stack-images: [${SECONDS}s] $*" >&2; }

ensure_tools() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    [ ${#missing[@]} = 0 ] && return
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "missing ${missing[*]}: install Debian's packages (apt-get install ${missing[*]})"
        exit 1
    fi
    log "installing ${missing[*]} …"
    apt-get update -qq
    # No recommends: docker-compose would bring Docker's engine, which is not used here.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" podman netavark aardvark-dns containernetworking-plugins \
        uidmap fuse-overlayfs slirp4netns iptables >/dev/null
}

# The first 12 hex digits of the sha256 of the arguments' contents (files) or text.
hash_of() { cat "$@" | sha256sum | cut -c1-12; }

image_exists() { podman image exists "$1"; }

# Untag the older builds of REPOSITORY, so a changed recipe does not pile up images.
prune_older() {
    local repository="$1" keep="$2" each
    for each in $(podman images --format '{{.Repository}}:{{.Tag}}' "$repository"); do
        [ "$each" = "$keep" ] || podman rmi --force "$each" >/dev/null
    done
}

build_base() {
    local hash tag rootfs
    hash="$(echo "$BASE_RECIPE" | hash_of)"
    tag="$STAND_IN/debian:$SUITE-$hash"
    if ! image_exists "$tag"; then
        log "debootstrap $SUITE (about a minute) …"
        rootfs="$(mktemp -d)"
        debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
            || { tail -n 20 "$rootfs.log" >&2; exit 1; }
        tar -C "$rootfs" -c . | podman import --quiet - "$tag" >/dev/null
        rm -rf "$rootfs" "$rootfs.log"
        prune_older "$STAND_IN/debian" "$tag"
    fi
    podman tag "$tag" "localhost/debian:$SUITE"
    echo "$tag"
}

# build_stand_in KIND BASE_TAG NAME: scripts/stack/KIND.Containerfile -> NAME (and a hash tag).
build_stand_in() {
    local kind="$1" base="$2" name="$3" files hash tag context
    files=("$STACK/$kind.Containerfile")
    if [ -e "$STACK/$kind-entrypoint.sh" ]; then files+=("$STACK/$kind-entrypoint.sh"); fi
    hash="$( (echo "$base"; cat "${files[@]}" "$CA_BUNDLE") | hash_of)"
    tag="$STAND_IN/$kind:$hash"
    if ! image_exists "$tag"; then
        log "building the $kind stand-in for $name …"
        context="$(mktemp -d)"
        cp "${files[@]}" "$context/"
        cp "$CA_BUNDLE" "$context/host-ca.crt"
        podman build --quiet --pull=never --build-arg "BASE=$base" \
            -f "$context/$kind.Containerfile" -t "$tag" "$context" >/dev/null
        rm -rf "$context"
        prune_older "$STAND_IN/$kind" "$tag"
    fi
    # docker.io/library/…: the name a short reference such as python:3.12-slim stands for.
    podman tag "$tag" "docker.io/library/$name"
}

# The image names the Dockerfile (ARG defaults) and docker-compose.yml (image:) use.
dockerfile_arg() { sed -n "s/^ARG $1=//p" "$ROOT/Dockerfile"; }
compose_image() { sed -n "s/^ *image: *\($1:[^ ]*\) *$/\1/p" "$ROOT/docker-compose.yml"; }

main() {
    ensure_tools
    local base python node redis postgres
    base="$(build_base)"
    python="$(dockerfile_arg PYTHON_IMAGE)"
    node="$(dockerfile_arg NODE_IMAGE)"
    redis="$(compose_image redis)"
    postgres="$(compose_image postgres)"
    for name in "$python" "$node" "$redis" "$postgres"; do
        [ -n "$name" ] || { log "an image name was not found in Dockerfile/docker-compose.yml"; exit 1; }
    done
    build_stand_in python "$base" "$python"
    build_stand_in node "$base" "$node"
    build_stand_in redis "$base" "$redis"
    build_stand_in postgres "$base" "$postgres"
    log "building $APP_IMAGE from the Dockerfile …"
    podman build --quiet --pull=never --format docker -t "$APP_IMAGE" "$ROOT" >/dev/null
    # The previous build of the project's image, now untagged (its cached layers stay).
    podman image prune --force >/dev/null
    log "done"
    echo "$APP_IMAGE"
}

main
