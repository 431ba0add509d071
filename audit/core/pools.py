"""Voice pools: which TTS model a clone speaks on, read from its `modelIds`.

Since the vendor added cloning onto `lightning-v3.1-pro`, a clone belongs to the pool it was
cloned onto and speaks properly only with that pool's TTS model (docs/api-contract.md). This
module owns the pairing of a clone model (hyphen form, as `modelIds` and create use it) with
its TTS model (underscore form), the `Pool` a listed clone is on (standard, pro, both, or
unknown when its `modelIds` name neither), and the TTS model a probe of it must use: its
pool's (the standard one for a clone on both), or the configured `[probe] model` when the
pool is unknown. Pure functions, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from audit.core.models import model_key

STANDARD_MODEL = "lightning-v3.1"
PRO_MODEL = "lightning-v3.1-pro"
#: The models a clone can be created on (hyphen form), the default first.
CLONE_MODELS = (STANDARD_MODEL, PRO_MODEL)
#: Each clone model's TTS model (underscore form).
TTS_MODELS = {STANDARD_MODEL: "lightning_v3.1", PRO_MODEL: "lightning_v3.1_pro"}


class Pool(enum.StrEnum):
    """The pool a clone's `modelIds` put it on."""

    STANDARD = "standard"
    PRO = "pro"
    BOTH = "both"  # standard and pro: probed on the standard model
    UNKNOWN = "unknown"  # neither named (only lightning-large, empty, absent, odd)


def pool_of(model_ids: Iterable[str] | None) -> Pool:
    models = {model_key(m) for m in model_ids or ()}
    standard, pro = STANDARD_MODEL in models, PRO_MODEL in models
    if standard and pro:
        return Pool.BOTH
    if standard:
        return Pool.STANDARD
    return Pool.PRO if pro else Pool.UNKNOWN


def tts_model(clone_model: str) -> str:
    """The TTS model (underscore form) of a clone model (hyphen form); KeyError for another."""
    return TTS_MODELS[clone_model]


def probe_model(model_ids: Iterable[str] | None, configured: str) -> str:
    """The TTS model to probe a clone with: its pool's, or `configured` when the pool is unknown."""
    match pool_of(model_ids):
        case Pool.STANDARD | Pool.BOTH:
            return TTS_MODELS[STANDARD_MODEL]
        case Pool.PRO:
            return TTS_MODELS[PRO_MODEL]
        case _:
            return configured
