"""What apply and retire ask before they change the account, and what a "no" means.

A `Proposal` says what is about to happen, to which voices (one line each) and at what cost
(apply: the plan's forecast for the voices about to be worked on; retire: deletions that cannot
be undone); `Confirm` is the caller's answer to it (the CLI asks on the terminal, `--yes` and
the demo agree). A refusal is `refused(...)`: a `Cancelled` (exit 130, nothing changed), not an
error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from audit.core.errors import Cancelled


@dataclass(frozen=True)
class Proposal:
    what: str  # "work on 3 voice(s) on https://…, creating a clone for each that has none yet"
    voices: tuple[str, ...]  # one line per voice: its id and name (and, for retire, its replacement)
    cost: str  # what it costs: calls, characters, uploads, clones on the account

    @property
    def count(self) -> int:
        return len(self.voices)


#: A proposal → whether the user agreed.
Confirm = Callable[[Proposal], bool]


def refused(nothing: str) -> Cancelled:
    """What a "no" raises: `nothing` says what was left alone ("nothing was created")."""
    return Cancelled(f"cancelled: {nothing}.", hint="")


def apply_cost(forecast: Mapping[str, Any]) -> str:
    """The cost of an apply, from `audit.migrate.planner.forecast` of the voices about to go."""
    n = forecast["reclones"]
    quota = forecast.get("clone_quota")
    within = "" if quota is None else f" (quota {quota}{'' if forecast.get('within_quota') else ': over it'})"
    return (f"{n} clone create(s) on {forecast['target_model']}, {forecast['api_calls']['verify_tts']} verification "
            f"TTS call(s) ({forecast['tts_characters']:,} characters), {_size(forecast['upload_bytes'])} of "
            f"recordings uploaded; clones on the account {forecast['clones_now']} → {forecast['clones_after']}"
            f"{within}; about {_duration(forecast['estimated_seconds'])}")


def retire_cost(deleting: int, clones_now: int) -> str:
    return (f"{deleting} clone(s) deleted for good (a delete cannot be undone); no TTS characters; "
            f"clones on the account {clones_now} → {clones_now - deleting}")


def proposal_line(voice_id: str, name: str | None, replacement: str | None = None) -> str:
    return voice_id + (f"  {name}" if name else "") + (f"  → {replacement}" if replacement else "")


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes:,} bytes"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"

