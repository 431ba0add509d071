"""The choices and defaults the command line offers, in a module that loads in no time.

Owns the probe policy (`ProbePolicy`), which findings exit 1 (`FailOn`) and the size above
which cutover skips a file (`DEFAULT_MAX_BYTES`). Imports nothing but `enum`, so the argument
parser, and with it `--help` and `--version`, loads neither the vocabulary's dataclasses nor
the cutover's walk. `audit.core.models` and `audit.cutover.walk` re-export these names.
"""

from __future__ import annotations

import enum


class ProbePolicy(enum.StrEnum):
    ALL = "all"  # probe every clone that could speak
    LEGACY = "legacy"  # probe only clones whose metadata is not v3.1
    NONE = "none"  # metadata only


class FailOn(enum.StrEnum):
    """Which findings turn into exit code 1."""

    NON_COMPLIANT = "non-compliant"
    UNKNOWN = "unknown"  # non-compliant or unknown
    NEVER = "never"
    NEW = "new"  # non-compliant now and not non-compliant in the baseline scan (`--baseline`)


#: Files larger than this are skipped and reported (`cutover --max-bytes`).
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
