"""The review pipeline: a person's decision on replacements that do not sound like their source.

    plan.json → ledger → every --accept / --reject id must be a `mismatch` row of it
    → record the decision, the reviewer and the time → mapping.csv/json beside the plan
    → a review run of its own (report.html with the decisions; history)

A composition root, with no API call: a fidelity mismatch (the new clone speaks, but its voice
is not its source's, audit.fidelity) is never ready and never retires its original until a
person listened (report.html's listening section) and accepted it by its old voice id. A
rejected one stays not ready; delete the wrong clone in the dashboard and
`apply --retry-failed` makes it again. Nothing is recorded when any named id is not a mismatch
of this plan. Without ids, `awaiting_review` lists the mismatches no one has decided on, with
their similarity and listening clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.core.errors import ExitCode, UsageError
from audit.core.runfolder import RunFolder, check_writable
from audit.migrate.document import read_plan
from audit.migrate.ledger import Ledger
from audit.migrate.state import Review, State
from audit.pipeline import history
from audit.report import files
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord


@dataclass(frozen=True)
class Reviewed:
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]
    by: str
    folder: Path
    record: RunRecord  # the review run (its folder, report and history entry)

    @property
    def exit_code(self) -> ExitCode:
        return self.record.exit_code

    def lines(self) -> list[str]:
        lines = []
        if self.accepted:
            lines.append(f"Accepted by {self.by}: {', '.join(self.accepted)} (now ready; retire may delete the originals).")
        if self.rejected:
            lines.append(f"Rejected by {self.by}: {', '.join(self.rejected)} (not ready; the originals stay).")
        return [*lines, f"Mapping: {self.folder / 'mapping.csv'}"]


@dataclass(frozen=True)
class Awaiting:
    """A mismatch no one has decided on yet: whose replacement, how like its source, where to listen."""

    old_voice_id: str
    display_name: str
    new_voice_id: str | None
    similarity: float | None
    clips: tuple[Path, Path] | None  # the source's and the new clone's listening clips, when kept

    def as_dict(self) -> dict[str, Any]:
        return {"old_voice_id": self.old_voice_id, "new_voice_id": self.new_voice_id,
                "display_name": self.display_name, "similarity": self.similarity,
                "clips": None if self.clips is None else [str(c) for c in self.clips]}

    def line(self) -> str:
        similar = "unknown" if self.similarity is None else f"{self.similarity:.2f}"
        listen = (f"  listen: {self.clips[0]}  {self.clips[1]}" if self.clips
                  else "  (no listening clip kept: compare in the dashboard)")
        return f"{self.old_voice_id} → {self.new_voice_id or '?'}  similarity {similar}  ({self.display_name}){listen}"


def awaiting_review(plan_path: Path) -> list[Awaiting]:
    """The mismatches of an applied plan that await a person's decision, least similar first."""
    read_plan(plan_path)
    folder = RunFolder.of_plan(plan_path)
    if not folder.ledger.exists():
        raise UsageError(f"no ledger beside {plan_path}: nothing was applied from this plan yet.")
    with Ledger(folder.ledger) as ledger:
        rows = [r for r in ledger.all() if r.state is State.MISMATCH and r.review is None]
    clips = files.listen_clips(folder, [r.old_voice_id for r in rows])
    found = [Awaiting(r.old_voice_id, r.display_name or "", r.new_voice_id, r.similarity,
                      (folder.path / clips[r.old_voice_id][0], folder.path / clips[r.old_voice_id][1])
                      if r.old_voice_id in clips else None) for r in rows]
    return sorted(found, key=lambda a: (a.similarity is None, a.similarity or 0.0, a.old_voice_id))


def awaiting_lines(found: Sequence[Awaiting], plan_path: Path) -> list[str]:
    """What `review PLAN` without ids prints."""
    if not found:
        return ["No mismatch awaits review in this migration."]
    return [*(a.line() for a in found),
            f"{len(found)} mismatch(es) await review. Listen, then: clone-audit review {plan_path} "
            "--accept ID (keep the new clone) or --reject ID (keep the original)."]


def review_mismatches(plan_path: Path, accept: Sequence[str], reject: Sequence[str], by: str) -> Reviewed:
    """Record `by`'s decision on each named mismatch, all or none; re-write the mapping and report."""
    if not accept and not reject:
        raise UsageError("name at least one voice to --accept or --reject.",
                         hint="Use old voice ids of `mismatch` rows in mapping.csv.")
    both = sorted(set(accept) & set(reject))
    if both:
        raise UsageError(f"{', '.join(both)} is both accepted and rejected.", hint="Name each voice once.")
    if not by.strip():
        raise UsageError("the reviewer's name is empty.", hint="Pass --by NAME (default: $USER).")
    started = datetime.now(UTC)
    the_plan = read_plan(plan_path)
    folder = RunFolder.of_plan(plan_path)
    if not folder.ledger.exists():
        raise UsageError(f"no ledger beside {plan_path}: nothing was applied from this plan yet.")
    check_writable(folder.path)
    with Ledger(folder.ledger) as ledger:
        rows = {r.old_voice_id: r for r in ledger.all()}
        problems = []
        for voice_id in (*accept, *reject):
            row = rows.get(voice_id)
            if row is None:
                problems.append(f"{voice_id} is not in this migration")
            elif row.state is not State.MISMATCH:
                problems.append(f"{voice_id} is {row.state.value}, not a fidelity mismatch")
        if problems:
            raise UsageError("nothing was recorded: " + "; ".join(problems) + ".",
                             hint="Only voices whose mapping status is `mismatch` are reviewed.")
        for voice_id in dict.fromkeys(accept):
            ledger.record_review(voice_id, Review.ACCEPTED, by.strip())
        for voice_id in dict.fromkeys(reject):
            ledger.record_review(voice_id, Review.REJECTED, by.strip())
        files.write_migration_files(folder, the_plan, ledger.all())
        accepted, rejected = tuple(dict.fromkeys(accept)), tuple(dict.fromkeys(reject))
        record = history.write_migration_report(
            RunKind.REVIEW, "", the_plan, folder.path, ledger.all(), started, ExitCode.OK, None,
            changes={"review": {"by": by.strip(), "accepted": list(accepted), "rejected": list(rejected)}})
    return Reviewed(accepted, rejected, by.strip(), folder.path, record)
