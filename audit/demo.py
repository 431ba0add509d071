"""`clone-audit demo`: the whole story against the built-in emulator.

Starts the emulator on 127.0.0.1 with a generated organisation (a seeded mix of v3.1,
legacy-only, lying and broken clones) and a matching archive of recordings (some
missing, too long, corrupt…), points an ordinary client at it with the emulator's own
key, and runs what a real migration runs: scan → plan (from the scan) → apply → scan again.
One create is answered with the wrong speaker (the emulator's `wrong_speaker` fault on the last
create), so the story shows a replacement that speaks but does not sound like its source: the
fidelity check flags it `mismatch`, it is not ready, and the report lets you listen to both.
The emulator's TTS analytics log holds a generated week of traffic and the scans read it
(`scan --usage 7`), so the reports lead with the legacy voices still called and the plan
goes most called first. Then the voice agents' part (`audit.demo_agents`): the emulator's
seeded Atoms agents (and one more, naming the voices no other agent names) that still name
legacy voices are found and switched (`cutover --agents --write`), and the emulator's clock
moves on an hour so the agents' calls show the switched old ids quiet in `usage`. Nothing here
touches a real account.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from audit.api.client import WavesClient
from audit.console import REDACTOR
from audit.core import aio
from audit.core.config import Settings
from audit.core.models import Fidelity, Progress, marked_origin
from audit.core.secrets import Secret
from audit.demo_agents import CALL_EVERY_S, AgentsChapter, language_line, tell_agents
from audit.emulator import (EmulatorConfig, EmulatorServer, EmulatorState, ManualClock, generate_archive,
                            generate_org)
from audit.emulator.agentseed import generate_agents
from audit.emulator.knobs import Fault
from audit.migrate.selection import ApplyOptions
from audit.pipeline import apply as apply_flow
from audit.pipeline import plan as plan_flow
from audit.pipeline import scan as scan_flow
from audit.report.tables import records, voice_frame
from audit.report.text import traffic
from audit.runs.record import RunRecord

#: The emulator allows this many TTS calls at once, and the demo client uses as many.
DEMO_CONCURRENCY = 4
#: Days of generated TTS traffic in the emulator's analytics log, and the scans' usage window.
DEMO_TRAFFIC_DAYS = 7
DEMO_LATENCY = {"list": 0.02, "tts": 0.02, "create": 0.2, "delete": 0.02, "health": 0.0}


@dataclass(frozen=True)
class DemoStory:
    before: scan_flow.ScanRun
    before_record: RunRecord
    planned: plan_flow.PlanRun
    applied: apply_flow.ApplyRun
    after: scan_flow.ScanRun
    after_record: RunRecord
    agents: AgentsChapter

    @property
    def before_folder(self) -> Path:
        assert self.before_record.folder is not None
        return self.before_record.folder

    @property
    def after_folder(self) -> Path:
        assert self.after_record.folder is not None
        return self.after_record.folder

    @property
    def folder(self) -> Path:
        return self.planned.folder

    def fidelity_line(self) -> str:
        rows = [r for r in self.applied.rows if r.fidelity]
        counts = {f: sum(1 for r in rows if r.fidelity == f) for f in Fidelity}
        line = "Fidelity: " + ", ".join(f"{n} {f}" for f, n in counts.items() if n) + "."
        for r in rows:
            if r.fidelity == Fidelity.MISMATCH and r.review is None:
                line += (f"\n  {r.old_voice_id} → {r.new_voice_id} does not sound like its source "
                         f"(similarity {r.similarity:.3f}): not ready; listen in the report, then "
                         f"`clone-audit review {self.planned.plan_path} --accept {r.old_voice_id}` or --reject.")
        return line

    def summary(self) -> str:
        totals = self.planned.plan.totals()
        replacements = {r.clone.voice_id for r in self.after.results if marked_origin(r.clone)}
        verdicts = [r.verdict.value for r in self.after.results if r.clone.voice_id not in replacements]
        called = traffic(records(voice_frame(self.before.results, self.before.finished_at, self.before.usage)),
                         None if self.before.usage_window is None else self.before.usage_window.as_dict())
        return "\n".join([
            *([f"Usage: {called}"] if called else []),
            f"Plan: {totals['RECLONE']} to re-clone (most called first), {totals['BLOCKED']} blocked, "
            f"{totals['KEEP']} to keep, {totals['SKIP']} skipped.",
            "Apply: " + ", ".join(f"{v} {k}" for k, v in self.applied.states.items() if v) + ".",
            self.fidelity_line(),
            f"After: {verdicts.count('migrated')} migrated, {verdicts.count('non-compliant')} still "
            f"non-compliant (blocked, failed, or a replacement awaiting review), {verdicts.count('compliant')} compliant "
            f"(the {len(replacements)} replacement clones are counted through the voices they replace).",
            *self.agents.lines(),
            self.agents.summary_line(),
            f"Compliance before: {self.before_folder / 'report.html'}",
            f"Plan, mapping and report: {self.folder}",
            f"Compliance after the migration: {self.after_folder / 'report.html'}",
            *([f"Agents' cutover (migration folder's cutover section): {self.agents.report}"]
              if self.agents.report else []),
            "Demo finished (emulator only; a real account was never touched).",
        ])


def run_demo(
    *, out_root: Path, clones: int, seed: int, progress: Progress | None = None,
    settings: Settings | None = None,
) -> DemoStory:
    settings = settings or Settings()
    org = generate_org(clones, seed)
    with tempfile.TemporaryDirectory(prefix="clone-audit-demo-archive-") as archive:
        truth = generate_archive(org, Path(archive), seed)
        usable = sum(1 for outcome in truth.outcomes.values() if outcome in ("ok", "fit"))
        config = EmulatorConfig(
            seed=seed, tts_concurrency=DEMO_CONCURRENCY, latency=DEMO_LATENCY, pending_s=0.2, processing_s=0.3,
            wrong_speaker=Fault(every=max(1, usable)),  # the last create comes back as another speaker
            traffic_days=DEMO_TRAFFIC_DAYS, agent_call_every_s=CALL_EVERY_S,
        )
        agents = generate_agents(org.clones, seed, config.agent_count)
        extra = language_line((v for v, o in truth.outcomes.items() if o in ("ok", "fit")), agents, seed)
        clock = ManualClock(ticking=True)  # follows real time; the agents' chapter moves it on an hour
        with EmulatorServer(EmulatorState(config, org.clones, clock, [*agents, *([extra] if extra else [])])) as server:
            return _run(server, clock, settings, archive, out_root, progress)


def _run(server: EmulatorServer, clock: ManualClock, settings: Settings, archive: str, out_root: Path,
         progress: Progress | None) -> DemoStory:
    key = Secret(server.api_key)
    REDACTOR.add(key)
    settings = replace(
        settings,
        api=replace(settings.api, base_url=server.base_url, concurrency=DEMO_CONCURRENCY),
        archive=replace(settings.archive, folder=archive, manifest=""),
        apply=replace(settings.apply, poll_interval_s=0.1, settle_s=0.5),
        plan=replace(settings.plan, create_estimate_s=1.0),  # the emulator's clones finish in ~0.5 s
        report=replace(settings.report, usage_days=settings.report.usage_days or DEMO_TRAFFIC_DAYS),
    )
    return aio.run(_story(settings, key, clock, out_root, progress))


async def _story(
    settings: Settings, key: Secret, clock: ManualClock, out_root: Path, progress: Progress | None
) -> DemoStory:
    async with WavesClient(settings.api, key) as client:
        first = await scan_flow.scan_organisation(client, settings, progress, out_root=out_root)
        scanned = scan_flow.write_scan_reports(first, out_root)
        planned = await plan_flow.plan_migration(client, settings, out_root, progress, scan_folder=scanned.folder)
        applied = await apply_flow.apply_plan(
            client, settings, planned.plan_path, ApplyOptions(), confirm=lambda proposal: True,
            progress=progress,
        )
        after = await scan_flow.scan_organisation(client, settings, progress, out_root=out_root)
        after_record = scan_flow.write_scan_reports(after, out_root)
        agents = await tell_agents(client, planned.folder / "mapping.csv", clock.advance, clock.now)
    return DemoStory(first, scanned, planned, applied, after, after_record, agents)
