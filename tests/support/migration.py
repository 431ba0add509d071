"""A migration driven in process against an emulator (tests/support/emulator.py `running`):
`plan` (a scan, then a plan from its verdicts), `apply` (confirming with `YES`), and what the
account then holds (`replacements_on`, `creates`, `reclone_ids`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from audit.api.client import WavesClient
from audit.core.config import Settings
from audit.core.secrets import Secret
from audit.core.models import MARKER_PREFIX, Action
from audit.emulator import EmulatorServer
from audit.migrate.selection import ApplyOptions
from audit.pipeline.apply import apply_plan
from audit.pipeline.plan import plan_migration
from audit.pipeline.scan import scan_organisation, write_scan_reports

YES = lambda proposal: True  # noqa: E731


async def plan(server: EmulatorServer, settings: Settings, out: Path):  # noqa: ANN201
    """A scan (which probes), then a plan from that scan's verdicts."""
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        scanned = write_scan_reports(await scan_organisation(client, settings), out).folder
        return await plan_migration(client, settings, out, scan_folder=scanned)


async def apply(server: EmulatorServer, settings: Settings, plan_path: Path, options: ApplyOptions | None = None):  # noqa: ANN201
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return await apply_plan(client, settings, plan_path, options or ApplyOptions(), YES)


def replacements_on(server: EmulatorServer) -> Counter[str]:
    """How many clones on the account carry each old voice's marker."""
    return Counter(t[len(MARKER_PREFIX):] for c in server.state.clones() for t in c.tags if t.startswith(MARKER_PREFIX))


def creates(server: EmulatorServer) -> int:
    """The create calls the emulator received."""
    return len(server.state.requests(method="POST", path="/waves/v1/voice-cloning"))


def reclone_ids(planned) -> list[str]:  # noqa: ANN001
    return [e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE]
