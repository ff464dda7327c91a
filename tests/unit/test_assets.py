"""Browser assets: vendor build from npm, inline icons, synthesised sounds, no third-party URLs."""

from __future__ import annotations

import json
import re
import wave
import xml.etree.ElementTree as ET
from array import array
from pathlib import Path

import pytest

from ailawyer.app import assets
from ailawyer.app.assets import (
    FRONTEND_DIR,
    ICON_ALIASES,
    ICONS,
    SOUNDS_DIR,
    assets_missing,
    build_assets,
)
from ailawyer.app.sounds import SAMPLE_RATE, generate_sounds
from ailawyer.app.web.icons import icon
from ailawyer.notifications.sounds import SOUND_FILES, SoundEvent

# Documentation links inside error-message strings and the SVG namespace: text, never fetched.
ALLOWED_URL_HOSTS = frozenset({"socket.io", "www.w3.org"})
CDN_MARKERS = ("//cdn", "unpkg", "jsdelivr", "cdnjs", "googleapis", "gstatic")


@pytest.fixture(scope="module")
def vendor_dir() -> Path:
    # The first run on a machine installs from the npm registry; later runs reuse the build.
    return build_assets()


def test_build_produces_every_vendor_file(vendor_dir: Path) -> None:
    assert assets_missing() == []
    for name in ("socket.io.min.js", "htmx.min.js", "VERSIONS.json"):
        assert (vendor_dir / name).stat().st_size > 0


def test_versions_match_the_exact_pins(vendor_dir: Path) -> None:
    manifest = json.loads((FRONTEND_DIR / "package.json").read_text(encoding="utf-8"))
    versions = json.loads((vendor_dir / "VERSIONS.json").read_text(encoding="utf-8"))
    assert versions == manifest["dependencies"]
    assert versions["socket.io-client"].startswith("4.")
    assert versions["htmx.org"].startswith("2.")


def test_socketio_bundle_exports_io(vendor_dir: Path) -> None:
    text = (vendor_dir / "socket.io.min.js").read_text(encoding="utf-8")
    assert "Socket.IO v4." in text
    # The UMD wrapper assigns the global `io` and exports io/connect/Manager/Socket.
    assert ").io=" in text
    assert re.search(r"\bio:[\w$]+,connect:[\w$]+", text)


def test_htmx_bundle_is_version_2(vendor_dir: Path) -> None:
    text = (vendor_dir / "htmx.min.js").read_text(encoding="utf-8")
    assert text.startswith("var htmx=")
    assert 'version:"2.' in text


def test_fresh_build_is_skipped(vendor_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def npm_must_not_run(args: tuple[str, ...]) -> None:
        raise AssertionError(f"npm {args} ran although the vendor files are fresh")

    monkeypatch.setattr(assets, "_run_npm", npm_must_not_run)
    before = (vendor_dir / "socket.io.min.js").stat().st_mtime_ns
    assert build_assets() == vendor_dir
    assert (vendor_dir / "socket.io.min.js").stat().st_mtime_ns == before


def test_missing_assets_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "VENDOR_DIR", tmp_path)
    missing = assets_missing()
    assert "socket.io.min.js" in missing
    assert "htmx.min.js" in missing
    assert "icons/bell.svg" in missing
    assert "sounds/job-completed.wav" in missing
    assert len(missing) == len(ICONS) + len(SOUND_FILES) + 3


@pytest.mark.parametrize("name", ICONS)
def test_every_icon_renders_inline(vendor_dir: Path, name: str) -> None:
    markup = str(icon(name))
    assert markup.startswith('<svg class="icon" width="18" height="18" ')
    assert markup.endswith("</svg>")
    assert 'aria-hidden="true"' in markup
    assert 'focusable="false"' in markup
    assert "role=" not in markup
    assert "<!--" not in markup
    assert "license" not in markup.lower()
    element = ET.fromstring(markup)
    assert element.get("class") == "icon"
    assert element.get("viewBox") == "0 0 24 24"
    assert len(element) > 0


def test_icon_size_and_class(vendor_dir: Path) -> None:
    element = ET.fromstring(str(icon("bell", size=24, css_class='icon "x"')))
    assert element.get("width") == element.get("height") == "24"
    assert element.get("class") == 'icon "x"'


@pytest.mark.parametrize(("alias", "canonical"), ICON_ALIASES.items())
def test_old_icon_names_map_to_current_ones(vendor_dir: Path, alias: str, canonical: str) -> None:
    assert canonical in ICONS
    assert icon(alias) == icon(canonical)


def test_labelled_icon_escapes_the_label(vendor_dir: Path) -> None:
    markup = str(icon("bell", label='Neu "<script>alert(1)</script>'))
    assert "<script>" not in markup
    assert 'aria-label="Neu &#34;&lt;script&gt;alert(1)&lt;/script&gt;"' in markup
    assert 'role="img"' in markup
    assert "aria-hidden" not in markup
    element = ET.fromstring(markup)
    assert element.get("aria-label") == 'Neu "<script>alert(1)</script>'


@pytest.mark.parametrize("name", ["alert-triangel", "house", "", "../bell"])
def test_unknown_icon_raises_key_error(name: str) -> None:
    with pytest.raises(KeyError):
        icon(name)


@pytest.mark.parametrize("event", list(SoundEvent))
def test_sounds_are_short_mono_wavs(vendor_dir: Path, event: SoundEvent) -> None:
    with wave.open(str(SOUNDS_DIR / SOUND_FILES[event]), "rb") as sound:
        assert sound.getframerate() == SAMPLE_RATE == 44_100
        assert sound.getnchannels() == 1
        assert sound.getsampwidth() == 2
        seconds = sound.getnframes() / sound.getframerate()
        assert 0.2 < seconds < 0.6
        samples = array("h", sound.readframes(sound.getnframes()))
    # Fade-in and fade-out: no click at either end, and no clipping in between.
    assert abs(samples[0]) < 100
    assert abs(samples[-1]) < 100
    assert 0.2 * 32767 < max(abs(s) for s in samples) < 0.9 * 32767


def test_generate_sounds_is_deterministic(tmp_path: Path) -> None:
    first = generate_sounds(tmp_path / "a")
    second = generate_sounds(tmp_path / "b")
    assert [p.name for p in first] == [SOUND_FILES[e] for e in SoundEvent]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_vendor_files_load_nothing_from_third_party_hosts(vendor_dir: Path) -> None:
    files = [p for p in vendor_dir.rglob("*") if p.suffix in {".js", ".css", ".svg"}]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        # Source map comments point to a same-origin file and only matter to developer tools.
        text = re.sub(r"//# sourceMappingURL=\S+", "", text)
        for marker in CDN_MARKERS:
            assert marker not in text, f"{path.name} references {marker}"
        hosts = set(re.findall(r"(?:https?:)?//([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", text))
        assert hosts <= ALLOWED_URL_HOSTS, f"{path.name} references {hosts - ALLOWED_URL_HOSTS}"
