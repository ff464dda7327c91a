"""Create one notification from a process of its own, as the worker does.

Run as `python -m tests.support.notify_process <user_id> <title> [--role-of-kanzlei K ROLE]`
with the environment of `process_env(settings)`; it uses the same Services as the worker
(a write-only emitter over Redis), then exits.
"""

from __future__ import annotations

import argparse
import asyncio

from tests.support.notifications import notify

from ailawyer.config import get_settings
from ailawyer.domain.roles import Role
from ailawyer.services import Services


async def main(arguments: argparse.Namespace) -> None:
    services = Services.create(get_settings())
    try:
        if arguments.kanzlei is not None:
            await services.emitter.to_role(arguments.kanzlei, Role(arguments.role)).emit(
                "probe", {"title": arguments.title}
            )
        else:
            await notify(
                services.db,
                services.notifications,
                arguments.user_id,
                type="info",
                title=arguments.title,
            )
    finally:
        await services.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("user_id", type=int)
    parser.add_argument("title")
    parser.add_argument("--kanzlei", type=int)
    parser.add_argument("--role")
    asyncio.run(main(parser.parse_args()))
