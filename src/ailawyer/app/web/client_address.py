"""The client's address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def client_address(scope: Mapping[str, Any], trusted_proxies: Iterable[str]) -> str:
    """The address to rate-limit and audit by; never trusts a header from an untrusted peer."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    trusted = set(trusted_proxies)
    if peer not in trusted:
        return peer
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            # The right-most address not added by one of our own proxies is the client.
            hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
            for hop in reversed(hops):
                if hop not in trusted:
                    return hop
    return peer
