"""Fuzz every operation of the app's own OpenAPI schema, anonymous and as each role.

schemathesis generates the requests from the schema the running `ailawyer serve` publishes;
each goes to that server (a real worker behind it) anonymously and as every role. No answer
may be a 5xx or give away a stack trace, a file path or an exception name, and every answer
carries the security headers. CI runs a short, deterministic form (SECURITY_FUZZ_EXAMPLES
cases per operation and generation mode, seed SECURITY_FUZZ_SEED); `make security` runs a
long one.

Logging out (POST /abmelden) would end the fuzzer's session, so it is fuzzed only
anonymously; afterwards every role's session must still be alive.
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

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("SECURITY_FUZZ_SEED", "20261128"))
LOGOUT = ("POST", "/abmelden")
# Pages whose purpose is to show administrators errors, stack traces and paths: the log
# viewer, the job explorer's failed jobs, and the admins' failure notifications (the
# architecture: "every ADMIN gets the full error"). Only ADMINs reach them.
ADMIN_DIAGNOSTICS = re.compile(r"^/(admin/system|admin/jobs|api/notifications)(/|$)")


@dataclass
class Findings:
    sent: int = 0
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


def operations(raw: dict[str, Any]) -> Iterator[tuple[Any, GenerationMode]]:
    schema = schemathesis.openapi.from_dict(raw)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in generation_modes(raw, operation.path, operation.method):
            yield operation, mode


@dataclass(frozen=True)
class Caller:
    who: str
    session: requests.Session
    token: str

    @property
    def anonymous(self) -> bool:
        return SESSION_COOKIE not in self.session.cookies


def check(
    case: Case,
    response: Response,
    who: str,
    findings: Findings,
    server_paths: list[str],
) -> None:
    findings.sent += 1
    if response.status_code >= 500:
        findings.add(case, response, "server error")
    headers = {name.lower(): values[-1] for name, values in response.headers.items()}
    if weak := header_problems(headers, "headers"):
        findings.add(case, response, "; ".join(weak))
    diagnostics = who == Role.ADMIN.value and ADMIN_DIAGNOSTICS.match(case.formatted_path)
    if not diagnostics and (found := leaks(response.text, server_paths)):
        findings.add(case, response, f"shows {', '.join(found)}")


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    callers: list[Caller],
    findings: dict[str, Findings],
    server_paths: list[str],
) -> None:
    """EXAMPLES generated cases of one operation, each sent as every caller."""
    logout = (operation.method.upper(), operation.path) == LOGOUT

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        # Nothing is raised, so there is nothing to shrink.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        for caller in callers:
            if logout and not caller.anonymous:
                continue
            response = case.call(
                base_url=base_url,
                session=caller.session,
                headers={"x-csrftoken": caller.token},
                allow_redirects=False,
                timeout=15,
            )
            check(case, response, caller.who, findings[caller.who], server_paths)

    run()


def fuzz(
    raw: dict[str, Any], base_url: str, callers: list[Caller], server_paths: list[str]
) -> dict[str, Findings]:
    """Every operation and generation mode; findings are collected, never raised.

    Generating a case costs far more than sending it, so every caller gets the same ones.
    """
    findings = {caller.who: Findings() for caller in callers}
    for operation, mode in operations(raw):
        fuzz_operation(operation, mode, base_url, callers, findings, server_paths)
    for caller in callers:
        if not caller.anonymous:
            # Nothing fuzzed may have ended a session (logout is left out on purpose).
            home = caller.session.get(f"{base_url}/", allow_redirects=False, timeout=10)
            assert home.status_code == 200, f"{caller.who} was logged out"
    return findings


@pytest.fixture
async def openapi(live_server: str, attacker: Tenant) -> dict[str, Any]:
    """The schema as the running server publishes it (to administrators)."""
    session, _ = fuzzer_session(live_server, attacker.users[Role.ADMIN].email)
    response = session.get(f"{live_server}/schema/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


# About 0.06 s a generated case (five requests) on a quiet machine, thrice that when busy.
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
    callers = [Caller("anonymous", *fuzzer_session(live_server, None))]
    callers += [
        Caller(role.value, *fuzzer_session(live_server, attacker.users[role].email))
        for role in ROLES
    ]
    started = time.monotonic()

    # In a thread: requests and hypothesis block, the test's event loop must not.
    findings = await asyncio.to_thread(fuzz, openapi, live_server, callers, server_paths)

    total = sum(found.sent for found in findings.values())
    problems = [
        f"{who}: {problem}" for who, found in findings.items() for problem in found.problems
    ]
    for who, found in findings.items():
        print(f"{who}: {found.sent} requests, {len(found.problems)} problems")
    print(f"fuzzed {total} requests in {time.monotonic() - started:.1f} s (seed {SEED})")
    assert problems == [], f"{len(problems)} of {total} requests:\n" + "\n".join(problems[:50])
    assert total >= len(callers) * len(openapi["paths"])


async def test_a_nul_byte_in_any_text_input_is_refused_not_a_server_error(
    live_server: str, openapi: dict[str, Any], attacker: Tenant
) -> None:
    """PostgreSQL text cannot hold NUL: every query parameter and the login form, with one."""
    admin = Caller(Role.ADMIN.value, *fuzzer_session(live_server, attacker.users[Role.ADMIN].email))
    anonymous = Caller("anonymous", *fuzzer_session(live_server, None))
    failures: list[str] = []

    def send(caller: Caller, method: str, path: str, **kwargs: Any) -> None:
        response = caller.session.request(
            method,
            f"{live_server}{path}",
            headers={"x-csrftoken": caller.token},
            allow_redirects=False,
            timeout=15,
            **kwargs,
        )
        if response.status_code >= 500:
            failures.append(f"{caller.who} {method} {path} {kwargs}: {response.status_code}")

    def send_all() -> None:
        for path, item in openapi["paths"].items():
            if "{" in path or "get" not in item:
                continue
            for parameter in item["get"].get("parameters", []):
                if parameter["in"] == "query":
                    send(admin, "GET", path, params={parameter["name"]: "a\x00b"})
        for field_name in ("email", "password", "next"):
            form = {"email": "a@b.de", "password": "x", "_csrf_token": anonymous.token}
            send(anonymous, "POST", "/anmelden", data={**form, field_name: "a\x00b"})

    await asyncio.to_thread(send_all)

    assert failures == []
