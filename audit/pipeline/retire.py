"""The retire pipeline: delete the legacy clones a verified migration replaced.

    plan.json → ledger → fresh list → retirable voices → (--quiet-since: TTS analytics log,
    hold back the ones still called) → confirmation → retire stage (audit.migrate.retire)
    → mapping.csv/json + report.html

A composition root: which voices may go and how deletion is read is decided in
`audit.migrate.retire`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from audit.api.client import WavesClient
from audit.compliance.history import check_history
from audit.core.config import Settings
from audit.core.errors import RunError, UsageError
from audit.core.runfolder import RunFolder, check_writable
from audit.migrate.document import read_plan
from audit.migrate.ledger import Ledger
from audit.core.usage import VoiceUsage, usage_by_voice
from audit.migrate.retire import Retired, awaiting_review, retirable, retire, still_called
from audit.pipeline import history
from audit.pipeline.apply import Confirm, same_account
from audit.report import files


async def retire_replaced(
    client: WavesClient, settings: Settings, plan_path: Path, confirm: Confirm,
    quiet_since: datetime | None = None,
) -> Retired:
    """Delete legacy clones whose replacement is verified and still completed on the
    account; never anything else. With `quiet_since`, also only those the TTS analytics
    log shows no call to since then (a log that cannot be read back that far stops it)."""
    started = datetime.now(UTC)
    the_plan = read_plan(plan_path)
    folder = RunFolder.of_plan(plan_path)
    same_account(the_plan, settings)
    if not folder.ledger.exists():
        raise UsageError(f"no ledger beside {plan_path}: nothing was applied from this plan yet.")
    check_writable(folder.path)  # the ledger and mapping are updated there: fail before any delete
    check_history(folder.path.parent)
    with Ledger(folder.ledger) as ledger:
        live = {c.voice_id: c for c in await client.list_clones()}
        ready = retirable(ledger.all(), live)
        review = tuple(awaiting_review(ledger.all(), live))
        if not ready:
            return Retired((), (), "no legacy clone with a verified, completed replacement awaits retirement",
                           awaiting_review=review)
        called: list[VoiceUsage] = []
        if quiet_since is not None:
            logs = await client.tts_logs(since=quiet_since, max_pages=settings.report.usage_max_pages)
            if not logs.complete:
                why = f"; {logs.stopped}" if logs.stopped else ""
                raise RunError(
                    f"the TTS analytics log could not be read back to {quiet_since.isoformat()} "
                    f"({logs.pages} pages read{why}): whether the old ids are quiet is unknown, nothing was deleted.",
                    hint="Choose a later --quiet-since date, or check the calls with `clone-audit usage`.",
                )
            ready, called = still_called(ready, usage_by_voice(logs.calls, quiet_since, voice_ids=ready))
            if not ready:
                return Retired((), (), f"every retirable legacy clone was called since {quiet_since.date()}",
                               tuple(called), review)
        if not confirm(f"delete {len(ready)} legacy clone(s) whose replacement is verified", len(ready)):
            raise UsageError("not confirmed: nothing was deleted.", hint="Pass --yes to skip the question.")
        outcome = await retire(client, ledger, ready)
        files.write_migration_files(folder, the_plan, ledger.all())
        history.write_migration_report("retire", client.account, the_plan, folder.path, ledger.all(), started, 0,
                                       settings)
    return replace(outcome, still_called=tuple(called), awaiting_review=review)
