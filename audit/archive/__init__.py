"""The operator's archive of original recordings, read and never written.

Owns finding each voice's recording (`index`: the matching rules, manifest → voiceId →
display name; `names`: one walk of the folder, names filed for look-up; `manifest`: the
operator's CSV; `paths`: path safety, opening only regular files, names shown as one
line), checking it (`checks`: type from content, size, duration, speech; `cache`: full
checks remembered by sha256 and size in the per-user state folder, only to skip a re-check)
and gathering uploads for a plan (`gather`: the I/O half of planning, checks on every core,
writing fitted copies into the plan's run folder only).

May import: `audit.core`. Never `api`, `scan`, `migrate`, `report` or `pipeline`.
"""
