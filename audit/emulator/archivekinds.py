"""Which recording the seeded archive keeps for each legacy voice, decided without writing a file.

This module owns the archive's kinds of recording (`Kind`: ok, long, big, missing, corrupt,
too-short, silent), their weights, the planning outcome each leads to (`ArchiveOutcome`), the
seeded draw `draw_kinds` that `recordings.generate_archive` makes first, and
`archive_outcomes(clones, seed)`: the outcome each legacy voice of `clones` gets from
`generate_archive(org, folder, seed)`. The seeded Atoms agents (agentseed.py) use it to name
legacy voices that will, and will not, get a usable recording and so a ready replacement.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Literal, Protocol

ArchiveOutcome = Literal["ok", "fit", "missing", "corrupt", "too-short", "silent"]
Kind = Literal["ok", "long", "big", "missing", "corrupt", "too-short", "silent"]

KIND_WEIGHTS: Mapping[Kind, float] = {
    "ok": 60, "long": 6, "big": 6, "missing": 10, "corrupt": 6, "too-short": 6, "silent": 6,
}  # fmt: skip
OUTCOME: Mapping[Kind, ArchiveOutcome] = {
    "ok": "ok", "long": "fit", "big": "fit", "missing": "missing", "corrupt": "corrupt",
    "too-short": "too-short", "silent": "silent",
}  # fmt: skip


class ArchivedClone(Protocol):
    @property
    def voice_id(self) -> str: ...

    @property
    def engine(self) -> str: ...


def draw_kinds(n: int, rng: random.Random) -> list[Kind]:
    """One of each kind when n allows, the rest drawn by weight, shuffled."""
    kinds: list[Kind] = list(KIND_WEIGHTS)
    forced = kinds if n >= len(kinds) else []
    chosen = forced + rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds], k=n - len(forced))
    rng.shuffle(chosen)
    return chosen


def archive_outcomes(clones: Iterable[ArchivedClone], seed: int) -> dict[str, ArchiveOutcome]:
    """The outcome `generate_archive(org, folder, seed)` gives each legacy voice of `clones`."""
    legacy = [c for c in clones if c.engine == "legacy"]
    kinds = draw_kinds(len(legacy), random.Random(seed))  # the first draw of generate_archive's generator
    return {c.voice_id: OUTCOME[kind] for c, kind in zip(legacy, kinds, strict=True)}
