"""Fuzz every operation of the app's own OpenAPI schema, anonymous and as each role.

schemathesis generates the requests from the schema the running `ailawyer serve` publishes;
they go to that server, with a real worker behind it. No answer may be a 5xx or give away a
stack trace, a file path or an exception name, and every answer carries the security
headers. CI runs a short, deterministic form (SECURITY_FUZZ_EXAMPLES per operation and
generation mode, seed SECURITY_FUZZ_SEED); `make security` runs a long one.

Logging out (POST /abmelden) would end the fuzzer's session, so it is fuzzed only
anonymously; after each role's run the session must still be alive.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import Case, GenerationMode, Response
from schemathesis.core import NOT_SET
from tests.support.factories import PASSWORD
from tests.support.http import csrf_token_from
from tests.support.leaks import leaks
from tests.support.processes import AilawyerProcess
from tests.support.security_headers import header_problems
from tests.support.tenants import ROLES, Tenant

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Settings
from ailawyer.domain.roles import Role

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "3"))
SEED = int(os.environ.get("SECURITY_FUZZ_SEED", "20261128"))
LOGOUT = ("POST", "/abmelden")
# Pages whose purpose is to show administrators errors, stack traces and paths: the log
# viewer, the job explorer's failed jobs, and the admins' failure notifications (the
# architecture: "every ADMIN gets the full error"). Only ADMINs reach them.
ADMIN_DIAGNOSTICS = re.compile(r"^/(admin/system|admin/jobs|api/notifications)(/|$)")


@dataclass
class Findings:
    cases: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, case: Case, response: Response, what: str) -> None:
        body = None if case.body is NOT_SET else case.body
        self.problems.append(
            f"{case.method} {response.request.url} body={body!r:.200} -> "
            f"{response.status_code}: {what}"
        )


def fuzzer_session(base_url: str, email: str | None) -> tuple[requests.Session, str]:
    """A requests session like a browser's (logged in unless `email` is None) and its token."""
    session = requests.Session()
    login_page = session.get(f"{base_url}/anmelden", timeout=10)
    token = csrf_token_from(login_page.text)
    if email is None:
        return session, token
    done = session.post(
        f"{base_url}/anmelden",
        data={"email": email, "password": PASSWORD, "_csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code in (302, 303), done.text[:300]
    return session, token


def generation_modes(raw: dict[str, Any], path: str, method: str) -> list[GenerationMode]:
    """Positive always; negative where a parameter can be malformed at all.

    A path of plain strings and an open form body accept anything, so hypothesis would
    only burn time proving that no invalid example exists.
    """
    parameters = raw["paths"][path][method.lower()].get("parameters", [])
    typed = any(
        p["in"] == "query" or p.get("schema", {}).get("type") != "string" for p in parameters
    )
    if typed:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def operations(raw: dict[str, Any], anonymous: bool) -> Iterator[tuple[Any, GenerationMode]]:
    schema = schemathesis.openapi.from_dict(raw)
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) == LOGOUT and not anonymous:
            continue
        for mode in generation_modes(raw, operation.path, operation.method):
            yield operation, mode


def check(
    case: Case,
    response: Response,
    who: str,
    findings: Findings,
    server_paths: list[str],
) -> None:
    findings.cases += 1
    if response.status_code >= 500:
        findings.add(case, response, "server error")
    headers = {name.lower(): values[-1] for name, values in response.headers.items()}
    if weak := header_problems(headers, "headers"):
        findings.add(case, response, "; ".join(weak))
    diagnostics = who == Role.ADMIN.value and ADMIN_DIAGNOSTICS.match(case.formatted_path)
    if not diagnostics and (found := leaks(response.text, server_paths)):
        findings.add(case, response, f"shows {', '.join(found)}")


def fuzz(
    raw: dict[str, Any],
    base_url: str,
    who: str,
    email: str | None,
    server_paths: list[str],
) -> Findings:
    """Run EXAMPLES generated cases per operation and mode; collect, never stop early."""
    session, token = fuzzer_session(base_url, email)
    findings = Findings()
    for operation, mode in operations(raw, anonymous=email is None):

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            # Findings are collected, not raised: nothing to shrink, and every run counts.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Case) -> None:
            response = case.call(
                base_url=base_url,
                session=session,
                headers={"x-csrftoken": token},
                allow_redirects=False,
                timeout=15,
            )
            check(case, response, who, findings, server_paths)

        run()
    if email is not None:
        # Nothing fuzzed may have ended the session (logout is left out on purpose).
        assert SESSION_COOKIE in session.cookies
        assert session.get(f"{base_url}/", allow_redirects=False, timeout=10).status_code == 200
    return findings


@pytest.fixture
async def openapi(live_server: str, attacker: Tenant) -> dict[str, Any]:
    """The schema as the running server publishes it (to administrators)."""
    session, _ = fuzzer_session(live_server, attacker.users[Role.ADMIN].email)
    response = session.get(f"{live_server}/schema/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


# About 0.05 s a case on a quiet machine; generous, since CI machines are rarely quiet.
@pytest.mark.timeout(300 + 20 * EXAMPLES)
async def test_no_operation_answers_with_a_server_error_or_a_stack_trace(
    live_server: str,
    settings: Settings,
    openapi: dict[str, Any],
    attacker: Tenant,
    victim: Tenant,
    worker_process: AilawyerProcess,
    defaults_restored: None,
) -> None:
    server_paths = [str(settings.data_dir.resolve()), str(settings.effective_log_dir.resolve())]
    callers: list[tuple[str, str | None]] = [("anonymous", None)]
    callers += [(role.value, attacker.users[role].email) for role in ROLES]
    started = time.monotonic()
    total = 0
    problems: list[str] = []

    for who, email in callers:
        # In a thread: requests and hypothesis block, the test's event loop must not.
        findings = fuzz(openapi, live_server, who, email, server_paths)
        total += findings.cases
        problems += [f"{who}: {problem}" for problem in findings.problems]
        print(f"{who}: {findings.cases} cases, {len(findings.problems)} problems")

    print(f"fuzzed {total} cases in {time.monotonic() - started:.1f} s (seed {SEED})")
    assert problems == [], f"{len(problems)} of {total} cases:\n" + "\n".join(problems[:50])
    assert total >= len(callers) * len(openapi["paths"])
