"""Fuzz every operation of the app's own OpenAPI schema, anonymous and as each role.

schemathesis generates the requests from the schema the running `ailawyer serve` publishes;
each goes to that server (a real worker behind it) anonymously and as every role. No answer
may be a 5xx or give away a stack trace, a file path or an exception name, and every answer
carries the security headers. CI runs a short, deterministic form (SECURITY_FUZZ_EXAMPLES
cases per operation and generation mode, seed SECURITY_FUZZ_SEED); `make security` runs a
long one.

Logging out (POST /abmelden) would end the fuzzer's session, so it is fuzzed only
anonymously; afterwards every role's session must still be alive.

Two explicit passes add what generated cases rarely hit: every write route of the route
table with each form field sent twice (and every query parameter of the schema twice), and
every route with a `{job_id}` with the names bullmq uses inside a queue's key space.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import pytest
import requests
import schemathesis
from bullmq.queue_keys import QueueKeys
from hypothesis import HealthCheck, Phase, given, seed, settings
from litestar.enums import RequestEncodingType
from litestar.routes import HTTPRoute
from schemathesis import Case, GenerationMode, Response
from schemathesis.core import NOT_SET
from tests.support.factories import PASSWORD, Factory
from tests.support.http import csrf_token_from
from tests.support.leaks import leaks
from tests.support.personas import ROLES, Tenant
from tests.support.processes import AilawyerProcess
from tests.support.route_table import fill, http_routes, methods_of, path_values
from tests.support.security_headers import header_problems

import ailawyer.app
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Settings
from ailawyer.domain.roles import Role
from ailawyer.jobs.catalog import QUEUES
from ailawyer.notifications.sounds import SoundEvent
from ailawyer.runtime_settings.definitions import RUNTIME_SETTINGS

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("SECURITY_FUZZ_SEED", "20261128"))
LOGOUT = ("POST", "/abmelden")
# Pages whose purpose is to show administrators errors, stack traces and paths: the log
# viewer, the job explorer's failed jobs, and the admins' failure notifications (the
# architecture: "every ADMIN gets the full error"). Only ADMINs (and the operator) reach them.
ADMIN_DIAGNOSTICS = re.compile(r"^/(admin/system|admin/jobs|api/notifications)(/|$)")
OPERATOR = "operator"
ADMINS = (Role.ADMIN.value, OPERATOR)


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
    diagnostics = who in ADMINS and ADMIN_DIAGNOSTICS.match(case.formatted_path)
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
async def operator_email(factory: Factory, attacker: Tenant) -> str:
    """The e-mail of the installation's operator, an ADMIN of the attacking Kanzlei too."""
    user = await factory.user(Role.ADMIN, kanzlei=attacker.kanzlei, is_operator=True)
    return user.email


@pytest.fixture
async def callers(live_server: str, attacker: Tenant, operator_email: str) -> list[Caller]:
    """Anonymous, the operator, and one user per role of the attacking Kanzlei."""
    found = [Caller("anonymous", *fuzzer_session(live_server, None))]
    found.append(Caller(OPERATOR, *fuzzer_session(live_server, operator_email)))
    found += [
        Caller(role.value, *fuzzer_session(live_server, attacker.users[role].email))
        for role in ROLES
    ]
    return found


@pytest.fixture
async def openapi(live_server: str, operator_email: str) -> dict[str, Any]:
    """The schema as the running server publishes it (to the operator)."""
    session, _ = fuzzer_session(live_server, operator_email)
    response = session.get(f"{live_server}/schema/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


# About 0.06 s a generated case (five requests) on a quiet machine, thrice that when busy.
@pytest.mark.timeout(300 + 20 * EXAMPLES)
async def test_no_operation_answers_with_a_server_error_or_a_stack_trace(
    live_server: str,
    settings: Settings,
    openapi: dict[str, Any],
    callers: list[Caller],
    victim: Tenant,
    worker_process: AilawyerProcess,
    defaults_restored: None,
) -> None:
    server_paths = server_paths_of(settings)
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


def server_paths_of(settings: Settings) -> list[str]:
    """Where the server keeps its files: no answer may show these paths."""
    return [str(settings.data_dir.resolve()), str(settings.effective_log_dir.resolve())]


@dataclass
class Pass:
    """An explicit pass: how many requests it sent and the answers that broke a rule."""

    base_url: str
    server_paths: list[str]
    sent: int = 0
    problems: list[str] = field(default_factory=list)

    def send(
        self,
        caller: Caller,
        method: str,
        path: str,
        *,
        expect: int | None = None,
        **kwargs: Any,
    ) -> None:
        """One request as `caller`: never a 5xx or a leak; `expect`: the only right status."""
        response = caller.session.request(
            method,
            f"{self.base_url}{path}",
            headers={"x-csrftoken": caller.token, **kwargs.pop("headers", {})},
            allow_redirects=False,
            timeout=15,
            **kwargs,
        )
        self.sent += 1
        what = f"{caller.who} {method} {path} {kwargs!r:.200} -> {response.status_code}"
        if response.status_code >= 500:
            self.problems.append(f"{what}: server error")
        elif expect is not None and response.status_code != expect:
            self.problems.append(f"{what}: expected {expect}")
        diagnostics = caller.who in ADMINS and ADMIN_DIAGNOSTICS.match(urlsplit(path).path)
        if not diagnostics and (found := leaks(response.text, self.server_paths)):
            self.problems.append(f"{what}: shows {', '.join(found)}")


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_FORM_INPUT = re.compile(r'<(?:input|select|textarea|button)\b[^>]*?\bname="([^"{}]+)"')
TEMPLATES = Path(ailawyer.app.__file__).parent / "templates"


def form_field_names() -> list[str]:
    """Every field name the app's forms send: the templates' inputs, and the names that
    templates build from data (the runtime settings' keys, the sound switches)."""
    names = {
        name for path in TEMPLATES.rglob("*.html") for name in _FORM_INPUT.findall(path.read_text())
    }
    names |= {definition.key for definition in RUNTIME_SETTINGS}
    names |= {f"sound-{event.value}" for event in SoundEvent}
    return sorted(names)


def refuses_repeats(route: HTTPRoute, method: str, name: str) -> bool:
    """Whether the handler takes a URL-encoded form with a field `name`: then sending it
    twice must be refused with 400 (`ailawyer.app.web.forms`), whoever may use the route."""
    handler = next(h for h in route.route_handlers if method in h.http_methods)
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None or getattr(data.kwarg_definition, "media_type", None) != (
        RequestEncodingType.URL_ENCODED
    ):
        return False
    if isinstance(data.annotation, type) and issubclass(data.annotation, msgspec.Struct):
        return name in data.annotation.__struct_fields__
    return True  # an open form (FormData): every field counts


def repeated(*names: str) -> str:
    return "&".join(f"{quote(name)}={value}" for name in names for value in ("1", "2"))


async def test_a_form_field_or_query_parameter_sent_twice_is_never_a_server_error(
    live_server: str,
    settings: Settings,
    openapi: dict[str, Any],
    callers: list[Caller],
    attacker: Tenant,
    defaults_restored: None,
) -> None:
    """Every write route of the route table, each field its forms send twice: 400 where the
    handler takes a URL-encoded form (as the operator, who passes every guard), never a
    5xx for anyone; every query parameter of the schema twice: never a 5xx."""
    names = form_field_names()
    writes = [
        (route, method)
        for route in http_routes()
        for method in methods_of(route)
        if method in WRITES
    ]
    values = path_values(attacker)
    check = Pass(live_server, server_paths_of(settings))

    def run() -> None:
        for route, method in writes:
            path = fill(route, values)
            for caller in callers:
                if (method, path) == LOGOUT and not caller.anonymous:
                    continue  # it would end the session the pass goes on with
                if caller.who != OPERATOR:
                    check.send(caller, method, path, data=repeated(*names), headers=FORM)
                    continue
                for name in names:
                    expect = 400 if refuses_repeats(route, method, name) else None
                    check.send(
                        caller, method, path, data=repeated(name), headers=FORM, expect=expect
                    )
        operator = next(caller for caller in callers if caller.who == OPERATOR)
        for template, item in openapi["paths"].items():
            path = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), template)
            for method, operation in item.items():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "query" and (method.upper(), path) != LOGOUT:
                        check.send(
                            operator, method.upper(), f"{path}?{repeated(parameter['name'])}"
                        )

    await asyncio.to_thread(run)

    print(f"{check.sent} requests with repeated fields, {len(names)} field names")
    assert check.problems == [], "\n".join(check.problems[:50])


def reserved_job_ids(real_job_id: str) -> list[str]:
    """Job ids that name other things in bullmq's key space: the queue's own keys (from
    bullmq's key table), keys it hangs off a job, and digits that only look ASCII."""
    names = {name for name in QueueKeys().getKeys("queue") if name}
    names |= {"metrics", "cleanup"}  # used by its Lua scripts, not listed in the table
    names |= {f"{real_job_id}:{suffix}" for suffix in ("logs", "lock", "dependencies")}
    names |= {"dokument-1:logs", "1:logs", "²", "dokument-²", "dokument-1 ", "dokument-01"}
    return sorted(names)


async def test_a_job_id_from_bullmqs_key_space_is_never_a_server_error(
    live_server: str,
    settings: Settings,
    callers: list[Caller],
    attacker: Tenant,
    worker_process: AilawyerProcess,
) -> None:
    """Every route with a `{job_id}` (read from the route table), for every declared queue,
    with each reserved name: no 5xx, no stack trace. As the operator (sees every job), the
    Kanzlei's ADMIN (sees its own) and the ANWALT whose job it is (may retry it); the other
    roles and anonymous callers are turned away by guards before any job id is read."""
    routes = [route for route in http_routes() if "job_id" in route.path_parameters]
    who = {OPERATOR, Role.ADMIN.value, Role.ANWALT.value}
    callers = [caller for caller in callers if caller.who in who]
    job_ids = reserved_job_ids(attacker.job_id)

    def run(caller: Caller) -> Pass:
        check = Pass(live_server, server_paths_of(settings))
        for route in routes:
            for method in methods_of(route):
                for queue in QUEUES:
                    for job_id in job_ids:
                        path = fill(route, {"queue": queue, "job_id": quote(job_id, safe="")})
                        check.send(caller, method, path, data=b"", headers=FORM)
        return check

    # One thread per caller (each with its own HTTP session): the server is the bottleneck.
    checks = await asyncio.gather(*(asyncio.to_thread(run, caller) for caller in callers))

    sent = sum(check.sent for check in checks)
    problems = [problem for check in checks for problem in check.problems]
    print(f"{sent} requests with {len(job_ids)} reserved job ids on {len(routes)} routes")
    assert routes, "the route table has no job routes"
    assert problems == [], "\n".join(problems[:50])


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
