"""Inline SVG icons from lucide-static, copied into static/vendor/icons/ by build_assets()."""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

from ailawyer.app.assets import ICON_ALIASES, ICONS, ICONS_DIR

_KNOWN_ICONS = frozenset(ICONS)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_SVG_RE = re.compile(r"<svg\b([^>]*)>(.*?)</svg>", re.DOTALL)
_ATTRIBUTE_RE = re.compile(r'([\w:-]+)="([^"]*)"')
# Set per call by icon(); the file's own values would duplicate or contradict them.
_PER_CALL_ATTRIBUTES = frozenset(
    {"class", "width", "height", "aria-hidden", "aria-label", "role", "focusable"}
)


@lru_cache(maxsize=len(ICONS))
def _load(name: str) -> tuple[str, str]:
    """Read an icon once: its fixed attributes and its inner markup, license comment removed."""
    text = _COMMENT_RE.sub("", (ICONS_DIR / f"{name}.svg").read_text(encoding="utf-8"))
    match = _SVG_RE.search(text)
    if match is None:
        raise ValueError(f"{ICONS_DIR / name}.svg contains no <svg> element")
    attributes = " ".join(
        f'{key}="{value}"'
        for key, value in _ATTRIBUTE_RE.findall(match.group(1))
        if key not in _PER_CALL_ATTRIBUTES
    )
    # The files are pretty-printed; the whitespace between elements only bloats every page.
    body = re.sub(r">\s+<", "><", match.group(2).strip())
    return attributes, body


# Pages call this a dozen times per render with a handful of distinct arguments.
@lru_cache(maxsize=1024)
def icon(name: str, *, label: str | None = None, size: int = 18, css_class: str = "icon") -> Markup:
    """Return the named Lucide icon as inline SVG; decorative unless a label is given."""
    canonical = ICON_ALIASES.get(name, name)
    if canonical not in _KNOWN_ICONS:
        raise KeyError(f"unknown icon {name!r}; add it to ICONS in ailawyer.app.assets")
    attributes, body = _load(canonical)
    if label is None:
        # Decorative: the text next to it already says what it means.
        accessibility = 'aria-hidden="true"'
    else:
        accessibility = f'role="img" aria-label="{escape(label)}"'
    pixels = int(size)
    return Markup(
        f'<svg class="{escape(css_class)}" width="{pixels}" height="{pixels}" {attributes} '
        f'{accessibility} focusable="false">{body}</svg>'
    )
