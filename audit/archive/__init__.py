"""The operator's archive of original recordings, read and never written.

Owns finding each voice's recording (`index`: manifest, voiceId, display name, path
safety), checking it (`checks`: type from content, size, duration, speech) and gathering
uploads for a plan (`gather`: the I/O half of planning, writing fitted copies into the
plan's run folder only).

May import: `audit.core`. Never `api`, `scan`, `migrate`, `report` or `pipeline`.
"""
