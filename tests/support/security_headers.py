"""The security headers every answer of the app must carry, checked in one place."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

SAFE_REFERRER_POLICIES = frozenset(
    {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
)
# Sources that would let injected markup run script despite the policy.
UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:")


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [sources]}."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            parsed[name.lower()] = sources
    return parsed


def header_problems(headers: Mapping[str, str], label: str) -> list[str]:
    """What is missing or too weak in `headers` (lower-case names); empty: all is well."""
    problems = []
    policy = directives(headers.get("content-security-policy", ""))
    script = policy.get("script-src", policy.get("default-src"))
    if script is None:
        problems.append(f"{label}: no script-src")
    elif script != ["'self'"] or any(s in script for s in UNSAFE_SCRIPT_SOURCES):
        problems.append(f"{label}: script-src {script}")
    if policy.get("object-src") != ["'none'"]:
        problems.append(f"{label}: object-src {policy.get('object-src')}")
    if policy.get("base-uri") not in (["'self'"], ["'none'"]):
        problems.append(f"{label}: base-uri {policy.get('base-uri')}")
    framing = policy.get("frame-ancestors")
    if framing not in (["'none'"], ["'self'"]) or headers.get("x-frame-options") != "DENY":
        problems.append(f"{label}: framing {framing} / {headers.get('x-frame-options')}")
    if headers.get("x-content-type-options") != "nosniff":
        problems.append(f"{label}: x-content-type-options {headers.get('x-content-type-options')}")
    if headers.get("referrer-policy") not in SAFE_REFERRER_POLICIES:
        problems.append(f"{label}: referrer-policy {headers.get('referrer-policy')}")
    return problems


def response_header_problems(response: httpx.Response) -> list[str]:
    label = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    return header_problems(response.headers, label)
