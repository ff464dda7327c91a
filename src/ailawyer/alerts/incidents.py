"""Open incidents in Redis, and the claims that make every start and every end happen once.

Keys (under the installation's key prefix):
- `alerts:incidents` — hash: incident key -> the open incident (JSON);
- `alerts:pending` — hash: incident key -> since when its condition holds, for conditions
  that must last a while before they count (no worker for 60 s).

A start is claimed with HSETNX and an end with HDEL; only the call that changed the hash
reports the transition, so two evaluators racing (a lease that ran out mid-evaluation)
still announce each once. A transition that could not be announced is undone (`undo`),
so the next evaluation claims it again. Redis losing its data loses the open incidents:
a condition that still holds then starts again (announced again), an end while Redis was
empty is not announced.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from redis.asyncio import Redis

from ailawyer.db.models import Severity


@dataclass(frozen=True)
class Finding:
    """A condition a check found now. `key` names the incident ("workers", "disk:uploads");
    the texts are German, for the operator; `hold_seconds`: how long the condition must last
    before it is an incident."""

    key: str
    title: str
    detail: str
    severity: Severity = Severity.WARNING
    hold_seconds: float = 0.0


@dataclass(frozen=True)
class Incident:
    """An open incident: the finding that opened it, the check it belongs to, and when."""

    key: str
    check: str
    title: str
    detail: str
    severity: Severity
    since: float  # epoch seconds: when the condition was first seen
    opened_at: float  # when it became an incident (after its hold)

    @property
    def started(self) -> datetime:
        """When the condition was first seen, for the system page."""
        return datetime.fromtimestamp(self.since, UTC)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> Incident:
        data = json.loads(raw)
        return cls(**{**data, "severity": Severity(data["severity"])})


@dataclass(frozen=True)
class Transition:
    """An incident started ("opened") or ended ("resolved", at `at`)."""

    kind: Literal["opened", "resolved"]
    incident: Incident
    at: float


class IncidentStore:
    """The installation's open incidents and pending conditions."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self._incidents = f"{prefix}:alerts:incidents"
        self._pending = f"{prefix}:alerts:pending"

    async def open_incidents(self) -> list[Incident]:
        """Every open incident, oldest first."""
        raw = await self.redis.hgetall(self._incidents)
        return sorted(
            (Incident.from_json(value) for value in raw.values()), key=lambda i: i.opened_at
        )

    async def reconcile(self, check: str, findings: list[Finding], now: float) -> list[Transition]:
        """Bring `check`'s incidents in line with what it found now; the transitions this
        call claimed (each start and end is claimed by one caller only)."""
        found = {finding.key: finding for finding in findings}
        opened = {i.key: i for i in await self.open_incidents() if i.check == check}
        raw_pending = await self.redis.hgetall(self._pending)
        pending = {key: json.loads(value) for key, value in raw_pending.items()}
        transitions: list[Transition] = []
        for key, finding in found.items():
            if key in opened:
                continue
            since = now
            if finding.hold_seconds > 0:
                since = await self._pending_since(check, key, pending, now)
                if now - since < finding.hold_seconds:
                    continue
            incident = Incident(
                key=key,
                check=check,
                title=finding.title,
                detail=finding.detail,
                severity=finding.severity,
                since=since,
                opened_at=now,
            )
            if await self.redis.hsetnx(self._incidents, key, incident.to_json()):
                transitions.append(Transition("opened", incident, now))
            if key in pending or finding.hold_seconds > 0:
                await self.redis.hdel(self._pending, key)
        for key, incident in opened.items():
            if key not in found and await self.redis.hdel(self._incidents, key):
                transitions.append(Transition("resolved", incident, now))
        gone = [k for k, v in pending.items() if v["check"] == check and k not in found]
        if gone:
            await self.redis.hdel(self._pending, *gone)
        return transitions

    async def undo(self, transition: Transition) -> None:
        """Take back a transition that could not be announced: the next evaluation claims it
        again."""
        incident = transition.incident
        if transition.kind == "opened":
            await self.redis.hdel(self._incidents, incident.key)
        else:
            await self.redis.hsetnx(self._incidents, incident.key, incident.to_json())

    async def _pending_since(
        self, check: str, key: str, pending: dict[str, dict[str, object]], now: float
    ) -> float:
        if key in pending:
            return float(pending[key]["since"])  # type: ignore[arg-type]
        if not await self.redis.hsetnx(
            self._pending, key, json.dumps({"check": check, "since": now})
        ):
            # Another evaluator noted it a moment ago: its time counts.
            noted = json.loads(await self.redis.hget(self._pending, key) or "{}")
            return float(noted.get("since", now))
        return now
