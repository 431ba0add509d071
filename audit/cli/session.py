"""What a command needs before it calls its pipeline: settings, a client, a confirmation.

`settings(args)` merges the flags over the config file (`--config`, `$CLONE_AUDIT_CONFIG` or
the default location: `audit.core.loading.find_config`; -v says which) and the environment;
`with_client` runs the command's work with one `WavesClient` for its whole lifetime (the
account's concurrency, as found, is remembered for the next run even when the work failed);
`confirmer` shows what apply or retire is about to do (the voices, the first 20 and a count
of the rest, and the cost) and asks on the terminal before it changes the account.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from rich.markup import escape

from audit.console import REDACTOR, BarProgress, stderr, terminal
from audit.core.apikey import api_key_from_env
from audit.core.config import Settings
from audit.core.errors import UsageError
from audit.core.loading import find_config, load_settings

if TYPE_CHECKING:
    from audit.api.client import WavesClient
    from audit.migrate.proposal import Confirm, Proposal

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Voices a confirmation lists before it says how many more there are.
SHOWN = 20


def settings(args: argparse.Namespace) -> Settings:
    flag = lambda name: getattr(args, name, None)  # noqa: E731
    path, origin = find_config(flag("config"))
    if path is not None:
        log.info("config file: %s (from %s)", path, origin)
    else:
        log.info("%s", origin)
    return load_settings(
        path,
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
    """Run `work` with a client built from `settings` and the key in the environment (the
    event loop, the client and the per-user state are imported here: `report`, `history` and
    `review` never load them)."""
    import asyncio

    from audit.api.client import WavesClient
    from audit.api.limiter import level_to_remember
    from audit.core import aio, userstate

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
        # about a plan or report that was would be a lie. A cancellation asked for while the work
        # ran its last, local steps is delivered at the first await after them: here, where it is
        # dropped (closing may not await at all; a task that returns with one pending ends cancelled).
        with contextlib.suppress(asyncio.CancelledError):
            await client.aclose()
            await asyncio.sleep(0)
        return result

    return aio.run(run())


def confirmer(assume_yes: bool, bar: BarProgress) -> Confirm:
    """A confirmation that shows the proposal, then asks to type the count on the terminal (or
    `--yes`); any other answer, an empty one or the end of input, is a no."""
    def ask(proposal: Proposal) -> bool:
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"about to {proposal.what}, but there is no terminal to confirm on.",
                             hint="Review the plan, then pass --yes.")
        quiet, stderr.quiet = stderr.quiet, False  # a question is shown under --quiet too
        try:
            with bar.paused():
                for line in proposal_lines(proposal):
                    stderr.print(escape(line), soft_wrap=True)
                stderr.print(f"Type {proposal.count} to go on, anything else cancels: ", end="")
                try:
                    answer = input()  # the question is on stderr: stdout is kept for the result
                except EOFError:
                    answer = None
                if answer is None or not stderr.is_terminal:  # the terminal echoed no line break
                    stderr.print()
                return answer is not None and answer.strip() == str(proposal.count)
        finally:
            stderr.quiet = quiet

    return ask


def proposal_lines(proposal: Proposal) -> list[str]:
    """What is about to happen, the voices (the first SHOWN, then how many more) and the cost."""
    lines = [f"About to {terminal(proposal.what, one_line=True)}:"]
    lines += [f"  {terminal(voice, one_line=True)}" for voice in proposal.voices[:SHOWN]]
    if proposal.count > SHOWN:
        lines.append(f"  … and {proposal.count - SHOWN} more")
    lines.append(f"Cost: {terminal(proposal.cost, one_line=True)}")
    return lines
