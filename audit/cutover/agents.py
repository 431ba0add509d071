"""Old voice ids in voice agents' configs: where each one stands, and the config that replaces it.

Owns the pure half of the agents' cutover. An Atoms agent's config (the resolved config of a
branch's head revision, or of its open draft) is walked whole, generically: every key the
vendor names a voice id (`voiceId`, and its spellings `voice_id`, `voiceID`) holding a string
is a place a voice is named: the synthesizer's (`synthesizer.voiceConfig.voiceId`), any
per-node voice of a workflow graph (`workflowGraph.nodes[3].data.voiceId`), wherever else it
appears. `find` gives one `AgentHit` per place that names an old id of the mapping: agent,
branch, live or not, head or draft, the field's path, old → new, ready or why not.
`switch_fields` gives the top-level fields a draft write sends, whole, with only the ready
ids replaced (and only where the config still holds the old id); `diff_lines` the dry run's
diff of one branch. Nothing here reads the network or a file.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.cutover.mapping import VoiceMapping

#: Key spellings (lower case, `_` and `-` dropped) that name a voice id.
VOICE_KEYS = frozenset({"voiceid"})
#: Configs nest no deeper than this (a hostile one is walked this far).
MAX_DEPTH = 64
HEAD = "head"
DRAFT = "draft"

Part = str | int


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """One config of one agent's branch: its head revision's, or its open draft's."""

    agent_id: str
    agent_name: str
    archived: bool
    branch_id: str
    branch_name: str
    live: bool
    kind: str  # HEAD or DRAFT
    revision_id: str | None  # the head revision, or the draft's id
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AgentHit:
    agent_id: str
    agent_name: str
    archived: bool
    branch_id: str
    branch_name: str
    live: bool
    kind: str
    revision_id: str | None
    parts: tuple[Part, ...]
    old_voice_id: str
    new_voice_id: str | None
    ready: bool
    why_not: str

    @property
    def path(self) -> str:
        return path_text(self.parts)

    def to_json(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "agent_name": self.agent_name, "archived": self.archived,
                "branch_id": self.branch_id, "branch": self.branch_name, "live": self.live, "config": self.kind,
                "revision_id": self.revision_id, "path": self.path, "old_voice_id": self.old_voice_id,
                "new_voice_id": self.new_voice_id, "ready": self.ready, "why_not": self.why_not}


def is_voice_key(key: str) -> bool:
    return key.lower().replace("_", "").replace("-", "") in VOICE_KEYS


def voice_places(config: Any) -> Iterator[tuple[tuple[Part, ...], str]]:
    """Every (path, voice id) in a config: string values under a voice-id key, at any depth."""
    stack: list[tuple[tuple[Part, ...], Any]] = [((), config)]
    while stack:
        parts, value = stack.pop()
        if len(parts) > MAX_DEPTH:
            continue
        if isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                key = str(key)
                if is_voice_key(key) and isinstance(item, str):
                    yield (*parts, key), item
                else:
                    stack.append(((*parts, key), item))
        elif isinstance(value, list):
            stack.extend(((*parts, i), item) for i, item in reversed(list(enumerate(value))))


def path_text(parts: Sequence[Part]) -> str:
    """`synthesizer.voiceConfig.voiceId`, `workflowGraph.nodes[3].data.voiceId`."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def find(sources: Sequence[ConfigSource], mapping: VoiceMapping) -> list[AgentHit]:
    """Every place in these configs that names an old id of the mapping."""
    by_old = mapping.by_old
    hits = []
    for source in sources:
        for parts, voice in voice_places(source.config):
            row = by_old.get(voice)
            if row is None:
                continue
            hits.append(AgentHit(
                source.agent_id, source.agent_name, source.archived, source.branch_id, source.branch_name,
                source.live, source.kind, source.revision_id, parts, voice, row.new_voice_id, row.ready, row.why_not,
            ))
    return hits


def switch_fields(config: Mapping[str, Any], hits: Sequence[AgentHit]) -> dict[str, Any]:
    """The top-level fields to write, whole, with each ready hit's old id replaced by its new
    one; a hit not ready, or whose place no longer holds its old id, changes nothing."""
    fields: dict[str, Any] = {}
    for hit in hits:
        if not hit.ready or hit.new_voice_id is None or not hit.parts:
            continue
        top = hit.parts[0]
        if not isinstance(top, str) or top not in config:
            continue
        if top not in fields:
            fields[top] = copy.deepcopy(config[top])
        holder: Any = fields
        for part in hit.parts[:-1]:
            try:
                holder = holder[part]
            except (KeyError, IndexError, TypeError):
                holder = None
                break
        last = hit.parts[-1]
        if isinstance(holder, Mapping) and holder.get(last) == hit.old_voice_id:
            holder[last] = hit.new_voice_id  # type: ignore[index]
    return {k: v for k, v in fields.items() if v != config[k]}


def diff_lines(hits: Sequence[AgentHit]) -> list[str]:
    """The dry run's diff of one branch's config: `- path: old` / `+ path: new` per ready place,
    the others named with why they stay."""
    lines = []
    for hit in hits:
        if hit.ready and hit.new_voice_id:
            lines += [f"-  {hit.path}: {hit.old_voice_id}", f"+  {hit.path}: {hit.new_voice_id}"]
        else:
            lines.append(f"   {hit.path}: {hit.old_voice_id}  (stays: not ready, {hit.why_not})")
    return lines


def where(hit: AgentHit) -> str:
    """agent (name) · branch [live] · head/draft: the place a hit was found, for one line."""
    live = " [live]" if hit.live else ""
    archived = " [archived]" if hit.archived else ""
    return f"agent {hit.agent_id} ({hit.agent_name}){archived} · branch {hit.branch_name}{live} · {hit.kind}"


def by_branch(hits: Sequence[AgentHit]) -> dict[tuple[str, str, str], list[AgentHit]]:
    """Hits grouped by (agent, branch, head/draft), in the order found."""
    groups: dict[tuple[str, str, str], list[AgentHit]] = {}
    for hit in hits:
        groups.setdefault((hit.agent_id, hit.branch_id, hit.kind), []).append(hit)
    return groups
