"""What a command needs before it calls its pipeline: settings, a client, a confirmation.

`settings(args)` merges the flags over the config file and the environment; `with_client`
runs the command's work with one `WavesClient` for its whole lifetime (the account's
concurrency, as found, is remembered for the next run even when the work failed);
`confirmer` asks on the terminal before apply or retire changes the account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from rich.markup import escape

from audit.console import REDACTOR, BarProgress, stderr, terminal
from audit.core import aio, userstate
from audit.core.apikey import api_key_from_env
from audit.core.config import Settings
from audit.core.errors import UsageError
from audit.core.loading import load_settings

if TYPE_CHECKING:
    from audit.api.client import WavesClient

T = TypeVar("T")

#: (what is about to happen, how many) → whether the user agreed.
Confirm = Callable[[str, int], bool]


def settings(args: argparse.Namespace) -> Settings:
    flag = lambda name: getattr(args, name, None)  # noqa: E731
    return load_settings(
        flag("config"),
        overrides={
            "api": {"base_url": flag("base_url"), "concurrency": flag("concurrency"),
                    "allow_insecure_http": flag("allow_insecure_http")},
            "probe": {"policy": flag("probe"), "reuse": flag("reuse_probes")},
            "report": {"out_dir": flag("out"), "fail_on": flag("fail_on"), "exceptions": flag("exceptions"),
                       "csv_bom": flag("excel"), "usage_days": flag("usage")},
            "archive": {"folder": flag("archive"), "manifest": flag("manifest")},
        },
    )


def with_client(settings: Settings, work: Callable[[WavesClient], Awaitable[T]]) -> T:
    """Run `work` with a client built from `settings` and the key in the environment."""
    from audit.api.client import WavesClient
    from audit.api.limiter import level_to_remember

    key = api_key_from_env()
    REDACTOR.add(key)

    api = settings.api
    discovering = api.concurrency <= 0
    remembered = userstate.remembered_limit(api.base_url, key, api.max_concurrency) if discovering else None

    async def run() -> T:
        client = WavesClient(api, key, remembered_limit=remembered)
        try:
            result = await work(client)
        except BaseException:
            await client.aclose()
            raise
        finally:  # what discovery learned is kept even when the work failed or was stopped
            used = client.concurrency()
            if (level := level_to_remember(used)) is not None:
                userstate.remember_limit(api.base_url, key, level, used.known is not None,
                                         datetime.now(UTC).isoformat(timespec="seconds"))
        # Ctrl-C or SIGTERM once the work is done: it stands, and saying "nothing was written"
        # about a plan or report that was would be a lie.
        with contextlib.suppress(asyncio.CancelledError):
            await client.aclose()
        return result

    return aio.run(run())


def confirmer(assume_yes: bool, bar: BarProgress) -> Confirm:
    """A confirmation that asks to type the count on the terminal (or `--yes`)."""
    def ask(what: str, count: int) -> bool:
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"about to {what}, but there is no terminal to confirm on.",
                             hint="Review the plan, then pass --yes.")
        with bar.paused():
            stderr.print(f"About to {escape(terminal(what, one_line=True))}.")
            return input(f"Type {count} to go on, anything else to stop: ").strip() == str(count)

    return ask
