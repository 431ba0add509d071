"""Whether a clone's `migrated-from:` marker is clone-audit's own: evidence versus proof.

Anyone who can make a clone can tag it `migrated-from:<old voice id>`. So every
replacement apply creates carries a second tag, `clone-audit-proof:<32 hex>`: an
HMAC-SHA256 of the old voice id keyed with the organisation's API key (domain-separated,
truncated to 128 bits). Every scan, plan and apply holds that key, so each can check the
proof; nobody without the key can make one, and the key cannot be recovered from it.

Owns the proof tag, and `Markers`: which listed clones verifiably replace which old
voice, and which carry a marker the tool cannot verify. The rules that read markers
(scan verdicts, planning, apply's decisions) take a `Markers` value and stay pure.

Limits, stated: a proof names the old voice, not the new clone (the new id exists only
after the create), so someone who can both read the account's tags and create clones
could copy a real replacement's two tags onto another clone; and a replacement made
with an earlier API key no longer verifies after the key is rotated (apply then holds
that voice for a person to look at instead of guessing). A marked clone whose voice id is
not plain (`untrusted.is_plain_id`) never counts as proven, whatever its tags: it is listed,
and its voice is held (plan: BLOCKED, apply: held) rather than adopted or re-cloned.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from audit.core.models import Clone, marked_origin
from audit.core.secrets import Secret
from audit.core.untrusted import is_plain_id

PROOF_PREFIX = "clone-audit-proof:"
PROOF_HEX = 32
_PROOF_DOMAIN = b"clone-audit replacement proof v1\x00"


def is_proof_tag(tag: str) -> bool:
    return tag.startswith(PROOF_PREFIX)


@dataclass(frozen=True)
class Markers:
    """What the listed clones' marker tags prove. Empty: no clone is a proven replacement."""

    proven: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # clone id → old id
    unproven: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # clone id → claimed old id

    def origin(self, clone: Clone) -> str | None:
        """The old voice id `clone` verifiably replaces, or None."""
        return self.proven.get(clone.voice_id)

    def claimed(self, clone: Clone) -> str | None:
        """The old voice id `clone`'s marker names without a valid proof, or None."""
        return self.unproven.get(clone.voice_id)

    def unproven_claims(self, old_voice_id: str) -> tuple[str, ...]:
        """Clones carrying a marker for `old_voice_id` that the tool cannot verify."""
        return tuple(sorted(c for c, old in self.unproven.items() if old == old_voice_id))


class Provenance:
    """Makes and checks proof tags with one organisation's API key."""

    __slots__ = ("_key",)

    def __init__(self, api_key: Secret) -> None:
        self._key = api_key

    def __repr__(self) -> str:
        return "Provenance(****)"

    def proof_tag(self, old_voice_id: str) -> str:
        mac = hmac.new(self._key.reveal().encode("utf-8"), _PROOF_DOMAIN + old_voice_id.encode("utf-8"),
                       hashlib.sha256)
        return PROOF_PREFIX + mac.hexdigest()[:PROOF_HEX]

    def proves(self, clone: Clone) -> bool:
        """Whether `clone` carries a marker and the valid proof tag for it."""
        origin = marked_origin(clone)
        if origin is None:
            return False
        expected = self.proof_tag(origin)
        return any(hmac.compare_digest(t.encode(), expected.encode()) for t in clone.tags if is_proof_tag(t))

    def markers(self, clones: Iterable[Clone]) -> Markers:
        proven: dict[str, str] = {}
        unproven: dict[str, str] = {}
        for clone in clones:
            origin = marked_origin(clone)
            if origin is not None:  # a replacement with an id that is not plain is never adopted
                trusted = is_plain_id(clone.voice_id) and self.proves(clone)
                (proven if trusted else unproven)[clone.voice_id] = origin
        return Markers(MappingProxyType(proven), MappingProxyType(unproven))
