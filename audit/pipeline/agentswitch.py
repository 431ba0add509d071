"""One branch of the agents' cutover switched: re-checked, written, read back, published, recorded.

Owns `switch_branch` (and the types the agents' cutover passes around: `AgentOptions`,
`BranchRead`, `BranchOutcome`). Per branch with ready ids, each step recorded in the
`AgentRecord` before the next call:

    no open draft, head unchanged, no publish in its scan (the newest revision is the head)
    → draft write of the patch (only the path down to each id) based on the head
    → the write made draft revision 1 and the read-back shows one edit, on the head read, whose
      config is that head with the switch exactly: else not published (a colleague's draft, or a
      head that moved), with the reason → `publishing` → publish → the scan waited out
    → the head checked against what the publish answered → `published` / `scanning` / `failed`

A publish refused is worded by its `error_type` (a failed scan, a publish already in progress,
another refusal); a publish whose outcome cannot be read is recorded `scanning` (it may be
live: rollback finds its revision by the draft it came from).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.api.atoms import BranchRefused, refusal
from audit.api.atomswire import BranchInfo, DraftInfo, RevisionInfo
from audit.api.client import WavesClient
from audit.core.errors import ApiError
from audit.cutover import agents as found_in
from audit.cutover.agentrecord import AgentRecord
from audit.cutover.agents import AgentHit

#: The `expectedRevision` of a write to a branch with no open draft: based on the committed head,
#: no draft edit yet. The API refuses it only when an edit since touched one of the same fields: a
#: draft a colleague opened meanwhile on other fields is merged into, not refused. So the write's
#: answer (`draftRevision` 1: the draft is ours alone) and a read-back decide whether it is published.
FRESH_DRAFT = 0
LABEL = "clone-audit: switch legacy voice ids to their replacements"


@dataclass(frozen=True)
class AgentOptions:
    write: bool = False
    include_archived: bool = False
    scan_wait_s: float = 300.0  # how long a publish's security scan is waited for
    poll_s: float = 2.0
    rollback_dir: Path | None = None


@dataclass
class BranchRead:
    agent_id: str
    agent_name: str
    archived: bool
    branch: BranchInfo
    head: RevisionInfo | None
    draft: DraftInfo | None


@dataclass
class BranchOutcome:
    agent_id: str
    agent_name: str
    branch_id: str
    branch_name: str
    live: bool
    state: str  # switched, scanning, scan-failed, skipped, failed
    reason: str = ""
    revision_before: str | None = None
    revision_after: str | None = None
    switched: int = 0  # places switched

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("agent_id", "agent_name", "branch_id", "branch_name", "live", "state",
                                              "reason", "revision_before", "revision_after", "switched")}


async def switch_branch(client: WavesClient, read: BranchRead, hits: Sequence[AgentHit], book: AgentRecord,
                         outcome: BranchOutcome, options: AgentOptions) -> None:
    atoms = client.atoms
    if read.branch.open_draft_id is not None or read.draft is not None:
        editors = ", ".join(read.draft.editors) if read.draft and read.draft.editors else "someone"
        outcome.reason = (f"an open draft (by {editors}) is being edited on this branch: publishing would ship its "
                          "unpublished changes too; not touched. Publish or discard it, then run again.")
        return
    assert read.head is not None
    head = read.head.config or {}
    fields = found_in.switch_fields(head, hits)
    if not fields:
        outcome.reason = "the config no longer holds the old ids where they were found"
        return
    now = {b.branch_id: b for b in await atoms.list_branches(read.agent_id)}.get(read.branch.branch_id)
    if now is None or now.head_revision_id != read.branch.head_revision_id or now.open_draft_id is not None:
        outcome.reason = "the branch changed since it was read (a new head, or a draft opened): not touched"
        return
    newest = await atoms.latest_revision(read.agent_id, read.branch.branch_id)
    if newest is not None and newest.revision_id != now.head_revision_id and not (
            newest.committed or newest.scan_failed):
        outcome.reason = (f"a publish (revision {newest.revision_id}) is still in its security scan on this branch: "
                          "not touched; run again once it has ended")
        return
    changes = [{"path": h.path, "old": h.old_voice_id, "new": h.new_voice_id or ""} for h in hits]
    entry = book.add(agent_id=read.agent_id, agent_name=read.agent_name, branch_id=read.branch.branch_id,
                     branch_name=read.branch.name, live=read.branch.is_live,
                     revision_before=read.head.revision_id, changes=changes)
    try:
        draft_id, draft_revision = await atoms.write_draft(read.agent_id, read.branch.branch_id, fields, FRESH_DRAFT)
    except BranchRefused as exc:
        book.update(entry, state="failed", reason=exc.reason)
        outcome.state = "skipped" if exc.conflict else "failed"
        outcome.reason = (f"{exc.reason}; someone else's edit came first: never overwritten" if exc.conflict
                          else exc.reason)
        return
    book.update(entry, state="drafted", draft_revision=draft_revision, draft_id=draft_id)
    why_not = await _not_ours_alone(client, read, draft_id, draft_revision, fields)
    if why_not:
        book.update(entry, state="failed", reason=why_not)
        outcome.reason = why_not
        return
    book.update(entry, state="publishing")
    try:
        published = await atoms.publish(read.agent_id, read.branch.branch_id, LABEL)
    except BranchRefused as exc:
        _publish_refused(book, entry, outcome, exc, draft_id)
        return
    try:
        revision = await atoms.settle(read.agent_id, read.branch.branch_id, published, read.head.revision_id,
                                      wait_s=options.scan_wait_s, interval_s=options.poll_s)
        if revision is not None and revision.committed:
            answered, revision = revision, await _head_truth(client, read, revision, draft_id)
            if revision is None:
                outcome.revision_after = answered.revision_id
                _unknown(book, entry, outcome, f"the publish answered revision {answered.revision_id} committed, "
                         "but the branch's head is another revision")
                return
    except ApiError as exc:
        _unknown(book, entry, outcome, refusal(exc))
        return
    _settled(book, entry, outcome, revision, options.scan_wait_s, draft_id)
    if outcome.state in ("switched", "scanning"):
        outcome.switched = len(hits)


async def _not_ours_alone(client: WavesClient, read: BranchRead, draft_id: str | None, draft_revision: int | None,
                          patch: Mapping[str, Any]) -> str:
    """Why the draft just written must not be published (empty when it holds our switch alone,
    on the head we read: its config is that head's, resolved alike, with `patch` exactly): a
    colleague's draft opened meanwhile, or a head that moved."""
    atoms = client.atoms
    leave = (" clone-audit's switch was merged into it and is not published; their draft is left alone "
             "(its editor publishes or discards it)")
    if draft_revision != 1 or not draft_id:
        return (f"a colleague's draft was opened on this branch after it was read (the write made draft revision "
                f"{draft_revision}, not 1):{leave}")
    draft = await atoms.get_draft(read.agent_id, read.branch.branch_id)
    if draft is None or draft.draft_id != draft_id or draft.edit_count != 1:
        return f"the branch's draft holds other edits than clone-audit's (a colleague's draft):{leave}"
    branch = {b.branch_id: b for b in await atoms.list_branches(read.agent_id)}.get(read.branch.branch_id)
    head_id = read.branch.head_revision_id
    config = await atoms.get_agent_config(read.agent_id, draft_id=draft_id)
    if branch is None or branch.head_revision_id != head_id or dict(config) != found_in.patched(
            await atoms.get_agent_config(read.agent_id, version_id=head_id), patch):
        return (f"the branch's head moved (someone published) or its draft holds more than the switch: not published; "
                f"clone-audit's own draft {draft_id} is left open on the branch: roll back (which discards it) or "
                "discard it in the dashboard, then run again")
    return ""


async def _head_truth(client: WavesClient, read: BranchRead, revision: RevisionInfo,
                      draft_id: str | None) -> RevisionInfo | None:
    """The committed revision as the branch shows it: a 200 whose revision is not the branch's
    head is checked against the revision published from our draft; None when neither is the head."""
    atoms = client.atoms
    branch = {b.branch_id: b for b in await atoms.list_branches(read.agent_id)}.get(read.branch.branch_id)
    if branch is not None and branch.head_revision_id == revision.revision_id:
        return revision
    ours = None if not draft_id else await atoms.revision_from_draft(read.agent_id, read.branch.branch_id, draft_id)
    if ours is not None and branch is not None and branch.head_revision_id == ours.revision_id:
        return ours
    return None  # not confirmed: recorded as of unknown outcome


def _publish_refused(book: AgentRecord, entry: dict[str, Any], outcome: BranchOutcome, exc: BranchRefused,
                     draft_id: str | None) -> None:
    left = f"clone-audit's draft {draft_id or ''} stays open on the branch: discard it in the dashboard (or roll back)"
    if exc.error_type == "security_scan_failed":
        why, state = f"{exc.reason} (the security scan refused the draft; nothing went live; {left})", "scan-failed"
        book.update(entry, state="failed", reason=why, scan_failed=True)
    elif exc.error_type == "publish_in_progress":
        why, state = f"{exc.reason} (another publish is in its security scan on this branch; {left})", "skipped"
        book.update(entry, state="failed", reason=why)
    else:
        why, state = f"{exc.reason} (the publish was refused; {left})", "failed"
        book.update(entry, state="failed", reason=why)
    outcome.state, outcome.reason = state, why


def _unknown(book: AgentRecord, entry: dict[str, Any], outcome: BranchOutcome, message: str) -> None:
    outcome.state = "scanning"
    outcome.reason = (f"the publish went out, but its outcome could not be read ({message}): it may be live; "
                      "run again to see, or roll back (it finds the revision by its draft)")
    book.update(entry, state="scanning", reason=outcome.reason)


def _settled(book: AgentRecord, entry: dict[str, Any], outcome: BranchOutcome, revision: RevisionInfo | None,
             wait_s: float, draft_id: str | None = None) -> None:
    after = None if revision is None else revision.revision_id
    outcome.revision_after = after
    if revision is not None and revision.committed:
        outcome.state = "switched"
        book.update(entry, state="published", revision_after=after)
    elif revision is not None and revision.scan_failed:
        outcome.state = "scan-failed"
        outcome.reason = (f"the security scan failed: {revision.scan_reason or 'no reason given'}; nothing went live; "
                          f"the vendor reopened clone-audit's draft {draft_id or ''} on the branch: discard it in the "
                          "dashboard, or roll back (which discards it)")
        book.update(entry, state="failed", revision_after=after, reason=outcome.reason, scan_failed=True)
    else:
        outcome.state = "scanning"
        outcome.reason = f"the security scan had not ended after {wait_s:g} s; it goes live when it passes"
        book.update(entry, state="scanning", revision_after=after, reason=outcome.reason)
