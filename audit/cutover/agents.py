"""Old voice ids in voice agents' configs: where each one stands, and the config that replaces it.

Owns the pure half of the agents' cutover. An Atoms agent's config (the resolved config of a
branch's head revision, or of its open draft) is walked whole, generically: every key the
vendor names a voice id (`voiceId`, and its spellings `voice_id`, `voiceID`) holding a string
is a place a voice is named: the synthesizer's (`synthesizer.voiceConfig.voiceId`), any
per-node voice of a workflow graph (`workflowGraph.nodes[3].data.voiceId`), wherever else it
appears. `find` gives one `AgentHit` per place that names an old id of the mapping: agent,
branch, live or not, head or draft, the field's path, old → new, ready or why not.
`switch_fields` gives the patch a draft write sends: only the path down to each ready id
(`{"synthesizer": {"voiceConfig": {"voiceId": NEW}}}`, the API merging objects key by key, so
a sibling someone published meanwhile is never overwritten with what was read before), a list
on the way (a workflow graph's nodes) whole, as lists are replaced, not merged; `patched` is
the config such a patch gives; `diff_lines` the dry run's diff of one branch. A config nested
deeper than `MAX_DEPTH` is `TooDeep` (its voice ids cannot all be read; never copied).
Nothing here reads the network or a file.
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


class TooDeep(ValueError):
    """A config nested deeper than `MAX_DEPTH`: its voice ids cannot all be read."""


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
    """Every (path, voice id) in a config: string values under a voice-id key, down to
    `MAX_DEPTH` levels; an object or list deeper than that is `TooDeep`."""
    stack: list[tuple[tuple[Part, ...], Any]] = [((), config)]
    while stack:
        parts, value = stack.pop()
        if len(parts) > MAX_DEPTH and isinstance(value, Mapping | list):
            raise TooDeep(f"the config nests deeper than {MAX_DEPTH} levels (at {path_text(parts[:8])}...): "
                          "its voice ids cannot all be read")
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
    """The patch to write: for each ready hit whose place still holds its old id, the path down
    to it with the new id (a list on the way sent whole, with the id replaced in it); a hit not
    ready, or whose place no longer holds its old id, adds nothing. `config` must have passed
    `voice_places` (no deeper than `MAX_DEPTH`)."""
    patch: dict[str, Any] = {}
    for hit in hits:
        if not hit.ready or hit.new_voice_id is None or not hit.parts or _at(config, hit.parts) != hit.old_voice_id:
            continue
        holder: Any = patch
        source: Any = config
        in_copy = False  # past a list: walking the whole copy of it the patch holds
        for part in hit.parts[:-1]:
            if in_copy:
                holder = holder[part]
                continue
            source = source[part]
            if isinstance(source, list):  # lists are replaced, not merged: this one goes whole
                if part not in holder:
                    holder[part] = copy.deepcopy(source)
                holder, in_copy = holder[part], True
            else:
                holder = holder.setdefault(part, {})
        holder[hit.parts[-1]] = hit.new_voice_id
    return patch


def patched(config: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`config` as a draft write of `patch` leaves it: objects merged key by key, anything else replaced."""
    out = dict(config)
    for key, value in patch.items():
        before = out.get(key)
        out[key] = patched(before, value) if isinstance(value, Mapping) and isinstance(before, Mapping) else value
    return out


def _at(config: Any, parts: Sequence[Part]) -> Any:
    for part in parts:
        try:
            config = config[part]
        except (KeyError, IndexError, TypeError):
            return None
    return config


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
