"""A seeded fake organisation: realistic, messy clone lists with a known right answer.

This module owns `generate_org(n, seed)`: `n` clone records mixing every case the scanner
must handle (v3.1, Pro, legacy-only, both, empty/absent/odd `modelIds`, metadata that lies,
silent engines, failed/pending/processing/absent status, absent language, unicode and hostile
display names) plus `truth`, the (probe verdict, overall verdict) the scanner must reach for
each voice under probe policy "all". Same (n, seed), same org. Generated clones keep their
status forever: only clones created through the API progress over time.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

from audit.core.models import ProbeVerdict, Verdict
from audit.emulator.state import CloneRecord, Engine
from audit.emulator.tts import V31_LANGUAGES

ABSENT = object()  # a field left out of the JSON entirely

V31 = ["lightning-v3.1"]
LEGACY = ["lightning-large"]


@dataclass(frozen=True)
class Category:
    """One kind of clone: its listed modelIds and status, and what its TTS really does."""

    name: str
    weight: float
    model_ids: tuple[Any, ...]  # choices; ABSENT leaves the field out
    engines: tuple[Engine, ...]
    status: Any = "completed"


CATEGORIES = (
    Category("v3.1", 32, (V31,), ("v3.1",)),
    Category("v3.1-pro", 4, (["lightning-v3.1-pro"],), ("v3.1",)),
    Category("legacy-only", 28, (LEGACY,), ("legacy",)),
    Category("both", 6, (["lightning-large", "lightning-v3.1"],), ("v3.1",)),
    Category("empty-models", 4, ([],), ("v3.1", "legacy")),
    Category("absent-models", 4, (ABSENT,), ("legacy", "v3.1")),
    Category("odd-models", 2, (["lightning-v2"], ["lightning"], None), ("legacy",)),
    Category("lying-metadata", 3, (V31,), ("legacy",)),
    Category("silent", 3, (V31,), ("silent",)),
    Category("failed", 4, (V31, LEGACY), ("v3.1",), status="failed"),
    Category("pending", 3, (V31,), ("v3.1",), status="pending"),
    Category("processing", 3, (V31,), ("v3.1",), status="processing"),
    Category("absent-status", 3, (LEGACY, V31), ("legacy", "v3.1"), status=ABSENT),
)

PLAIN_NAMES = ("Emma", "Raj", "Priya", "Oliver", "Sofia", "Arjun", "Mia", "Lucas", "Ananya", "Noah",
               "Support Voice", "IVR Main", "Narrator", "Sales EN", "Helpdesk", "Emma")  # fmt: skip
NAME_SUFFIXES = ("", " v2", " (calm)", " - support", " 2024", " test")
UNICODE_NAMES = ("Zoë", "日本語の声", "Ñandú ☀️", "Ærøskøbing", "Ελένη", "Голос", "प्रिया", "🎙️ Studio")
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    '"quoted, with comma"',
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "Line one\nline two",
    "Long name " * 50,
    "   padded   ",
    "{{ 7*7 }}",
)
ACCENTS = ("general", "indian", "british", "american")
TAGS = ("support", "ivr", "marketing", "narration", "internal")
CREATED_RANGE = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC))


@dataclass(frozen=True)
class Org:
    """The clones of a generated organisation and the verdicts the scanner must reach."""

    clones: tuple[CloneRecord, ...]
    truth: Mapping[str, tuple[ProbeVerdict, Verdict]]
    categories: Mapping[str, str]  # voice id → Category.name, for tests and the demo


def expected_truth(record: CloneRecord) -> tuple[ProbeVerdict, Verdict]:
    """The scanner's rules under probe policy "all"."""
    status = record.fields.get("status")
    if status == "failed":
        return ProbeVerdict.NOT_PROBED, Verdict.NON_COMPLIANT
    if status in ("pending", "processing"):
        return ProbeVerdict.NOT_PROBED, Verdict.UNKNOWN
    match record.engine:
        case "v3.1":
            return ProbeVerdict.SPEAKS, Verdict.COMPLIANT
        case "legacy":
            return ProbeVerdict.SHORT_WAV, Verdict.NON_COMPLIANT
        case "silent":
            return ProbeVerdict.SILENT, Verdict.NON_COMPLIANT
        case _:
            assert_never(record.engine)


def _categories(n: int, rng: random.Random) -> list[Category]:
    """One of each category when n allows, the rest drawn by weight, shuffled."""
    forced = list(CATEGORIES) if n >= len(CATEGORIES) else []
    drawn = rng.choices(CATEGORIES, weights=[c.weight for c in CATEGORIES], k=n - len(forced))
    chosen = forced + drawn
    rng.shuffle(chosen)
    return chosen


def _names(n: int, rng: random.Random) -> list[str]:
    """Mostly plain names; every unicode and hostile name once when n allows."""
    special = list(UNICODE_NAMES + HOSTILE_NAMES) if n >= 30 else []
    plain = [rng.choice(PLAIN_NAMES) + rng.choice(NAME_SUFFIXES) for _ in range(n - len(special))]
    names = special[:n] + plain
    rng.shuffle(names)
    return names


def _voice_ids(n: int, rng: random.Random) -> list[str]:
    alphabet = string.ascii_letters + string.digits
    ids: dict[str, None] = {}
    while len(ids) < n:
        ids["voice_" + "".join(rng.choices(alphabet, k=10))] = None
    return list(ids)


def _created_at(rng: random.Random, engine: Engine) -> str:
    """Legacy clones are older (2024-2025), the others spread over 2024-2026."""
    start, end = CREATED_RANGE
    if engine == "legacy":
        end = datetime(2025, 9, 30, tzinfo=UTC)
    moment = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _language(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.06:
        return ABSENT
    return "en" if roll < 0.6 else rng.choice(V31_LANGUAGES)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _fields(rng: random.Random, category: Category, name: str, engine: Engine) -> dict[str, Any]:
    language = _language(rng)
    tags = rng.sample(TAGS, k=rng.randrange(3)) + ([language] if isinstance(language, str) else [])
    description = rng.choice(("", "Cloned from the studio recording", None, ABSENT))
    fields = {
        "_id": "".join(rng.choices("0123456789abcdef", k=24)),
        "displayName": name,
        "description": description,
        "accent": rng.choice(ACCENTS),
        "tags": tags,
        "language": language,
        "status": category.status,
        "cloningType": "professional" if rng.random() < 0.1 else "instant",
        "modelIds": _copy(rng.choice(category.model_ids)),
        "createdAt": _created_at(rng, engine),
    }
    return {key: value for key, value in fields.items() if value is not ABSENT}


def generate_org(n: int, seed: int) -> Org:
    """`n` clones (every category present when n >= 13), reproducible from `seed`."""
    rng = random.Random(seed)
    categories, names, voice_ids = _categories(n, rng), _names(n, rng), _voice_ids(n, rng)
    clones: list[CloneRecord] = []
    for category, name, voice_id in zip(categories, names, voice_ids, strict=True):
        engine = rng.choice(category.engines)
        clones.append(CloneRecord(voice_id, engine, _fields(rng, category, name, engine)))
    return Org(
        clones=tuple(clones),
        truth={c.voice_id: expected_truth(c) for c in clones},
        categories={c.voice_id: cat.name for c, cat in zip(clones, categories, strict=True)},
    )
