"""The tool's own TTS calls: which entries of the analytics log clone-audit's probes made.

Owns `SentCalls` (the TTS calls one run made with one voice, model, language and text
length: what the analytics log would show of them), `OwnRun` (a recorded run's window and
the calls it made), `sent_calls` (a client's tally as `SentCalls`), and the pure
`leave_out_own`: the calls of a log that are the output folder's own probes, left out of
"who still calls this voice" so that a scan or apply's verification never makes a legacy
voice look called.

Any doubt keeps a call as another caller's: a call is left out only when its voice was
probed by a recorded run, its time is known, given with a zone and within that run's
window (widened by `CLOCK_MARGIN` either side for clock skew between the tool and the
server), and its model, language and text length (where the log gives them) are what the
probe sent; and never more calls per run and voice than the run recorded making. A time
without a zone or unread, a call beyond the count, or to another voice stays a caller.
Pure: imports nothing of audit but `audit.core.usage`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from audit.core.usage import TtsCall

#: How far a call's time may lie outside a run's recorded window and still be one of its
#: probes: the clocks of this machine and of the API may disagree by this much.
CLOCK_MARGIN = timedelta(seconds=120)

#: (voice id, model, language, characters) of one answered TTS call, as a client tallies them.
SentKey = tuple[str, str | None, str | None, int]


@dataclass(frozen=True, slots=True)
class SentCalls:
    """`calls` answered TTS calls a run made to `voice_id` with this model, language and text length."""

    voice_id: str
    calls: int
    characters: int = 0  # the text length each call sent (0: not known, any length matches)
    model: str | None = None
    language: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"voice_id": self.voice_id, "calls": self.calls, "characters": self.characters,
                "model": self.model, "language": self.language}

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> SentCalls:
        """From run.json's object (ValueError when a field has the wrong type)."""
        voice_id, calls, characters = value.get("voice_id"), value.get("calls"), value.get("characters", 0)
        model, language = value.get("model"), value.get("language")
        if not isinstance(voice_id, str) or not isinstance(calls, int) or not _count(calls) or not _count(characters):
            raise ValueError("a tts_calls entry needs a voice_id and whole, non-negative calls and characters")
        if not all(v is None or isinstance(v, str) for v in (model, language)):
            raise ValueError("a tts_calls entry's model and language are text")
        return cls(voice_id, calls, characters, model, language)

    def made(self, call: TtsCall) -> bool:
        """Whether `call` looks like one of these: same voice, and model, language and length
        where both sides know them."""
        return (call.voice_id == self.voice_id
                and _same(call.model, self.model, _model) and _same(call.language, self.language, _language)
                and (not call.characters or not self.characters or call.characters == self.characters))


@dataclass(frozen=True, slots=True)
class OwnRun:
    """A run recorded in the output folder: when it ran, and the TTS calls it made."""

    run_id: str
    kind: str
    started_at: datetime
    finished_at: datetime
    sent: tuple[SentCalls, ...]

    def holds(self, call: TtsCall, margin: timedelta) -> bool:
        """Whether the call's time is surely within the run's window (widened by `margin`)."""
        return (call.at is not None and not call.zoneless
                and self.started_at - margin <= call.at <= self.finished_at + margin)


@dataclass(frozen=True)
class LeftOut:
    """A log with the output folder's own probes taken out, and how many were."""

    calls: tuple[TtsCall, ...]  # every other call: the callers
    left_out: int = 0
    by_voice: Mapping[str, int] = field(default_factory=dict)
    runs: int = 0  # recorded runs that made TTS calls (their windows were looked in)
    doubtful: int = 0  # calls to a probed voice whose time (unread or without a zone) could not be placed: kept

    def describe(self) -> str:
        """The sentence a command prints ("" when no run of the folder made a TTS call)."""
        if not self.runs:
            return ""
        said = (f"Left out {self.left_out} call(s) made by clone-audit's own probes "
                f"({self.runs} recorded scan(s) and verification(s) of this output folder); every other call counts.")
        if self.doubtful:
            said += (f" {self.doubtful} call(s) to probed voices at a time without a zone or unread could not be "
                     "told from them and count as callers: to prove those voices quiet, choose a date more than "
                     "14 h after the last recorded scan or verification ended (a time without a zone may be off "
                     "by up to 14 h).")
        return said

    def as_dict(self) -> dict[str, Any]:
        return {"left_out": self.left_out, "by_voice": dict(sorted(self.by_voice.items())), "runs": self.runs,
                "doubtful": self.doubtful}


def sent_calls(tally: Mapping[SentKey, int], before: Mapping[SentKey, int] | None = None) -> tuple[SentCalls, ...]:
    """The calls of a client's tally (made since `before`, a copy taken when the run started)."""
    made = Counter(tally)
    made.subtract(before or {})
    return tuple(SentCalls(voice, n, chars, model, language)
                 for (voice, model, language, chars), n in sorted(made.items(), key=lambda kv: str(kv[0])) if n > 0)


def leave_out_own(calls: Iterable[TtsCall], runs: Sequence[OwnRun], since: datetime | None = None,
                  margin: timedelta = CLOCK_MARGIN) -> LeftOut:
    """The `calls` that may fall on or after `since`, without those the `runs` made (see the
    module docstring; earliest first within each run's window and count)."""
    calls = tuple(c for c in calls if since is None or c.may_fall_in(since, None))
    runs = [r for r in runs if r.sent]
    taken: set[int] = set()
    by_voice: Counter[str] = Counter()
    by_id: dict[str, list[int]] = {}
    for index, call in enumerate(calls):
        by_id.setdefault(call.voice_id, []).append(index)
    for run in runs:
        for sent in run.sent:
            found = [i for i in by_id.get(sent.voice_id, ())
                     if i not in taken and run.holds(calls[i], margin) and sent.made(calls[i])]
            found.sort(key=lambda i: (calls[i].at or run.started_at, i))
            for i in found[: sent.calls]:
                taken.add(i)
                by_voice[sent.voice_id] += 1
    sent_to: list[dict[str, list[SentCalls]]] = [{} for _ in runs]  # per run: voice id → what it sent it
    for run, to in zip(runs, sent_to, strict=True):
        for made in run.sent:
            to.setdefault(made.voice_id, []).append(made)
    doubtful = sum(1 for i, c in enumerate(calls) if i not in taken and (c.at is None or c.zoneless)
                   and any(c.may_fall_in(r.started_at - margin, r.finished_at + margin)
                           and any(s.made(c) for s in to.get(c.voice_id, ()))
                           for r, to in zip(runs, sent_to, strict=True)))
    kept = tuple(c for i, c in enumerate(calls) if i not in taken)
    return LeftOut(kept, len(taken), dict(by_voice), len(runs), doubtful)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _same(logged: str | None, sent: str | None, norm: Any) -> bool:
    return logged is None or sent is None or norm(logged) == norm(sent)


def _model(name: str) -> str:
    """A model name as compared: case and `-`/`_` aside (`lightning-v3.1` is `lightning_v3.1`)."""
    return name.strip().lower().replace("-", "_")


def _language(code: str) -> str:
    """A language as compared: its primary subtag, case aside (`en-US` is `en`)."""
    return code.strip().lower().replace("_", "-").split("-")[0]
