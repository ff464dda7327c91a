"""Which browser origins may open a socket when ALLOWED_ORIGINS is empty: the page's own."""

from __future__ import annotations

import pytest

from ailawyer.app.realtime.server import is_same_origin


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://kanzlei.example", "kanzlei.example", True),
        ("https://kanzlei.example", "kanzlei.example:443", True),
        ("http://Kanzlei.Example", "kanzlei.example:80", True),
        ("https://kanzlei.example:8443", "kanzlei.example:8443", True),
        ("https://kanzlei.example", "kanzlei.example:8443", False),
        ("http://kanzlei.example:8000", "kanzlei.example:9000", False),
        ("https://boese.example", "kanzlei.example", False),
        ("https://kanzlei.example.boese.example", "kanzlei.example", False),
        ("null", "kanzlei.example", False),
        ("file://", "kanzlei.example", False),
        ("https://kanzlei.example:99999", "kanzlei.example", False),
        ("https://kanzlei.example", "", False),
    ],
)
def test_only_the_host_the_page_came_from_counts_as_same_origin(
    origin: str, host: str, same: bool
) -> None:
    assert is_same_origin(origin, host) is same
