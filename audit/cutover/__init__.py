"""The cutover stage: find where callers still use old voice ids, patch them, undo it.

Owns the last mile of a migration, after `apply` wrote mapping.csv / mapping.json:
- `mapping`: reading and validating a mapping file; which old ids are ready to replace;
- `matcher`: one compiled matcher for every old id, matching whole tokens only;
- `textfile`: how a file's bytes become text and back, exactly (UTF-8, UTF-8 with BOM,
  UTF-16 with BOM; anything else with NUL bytes is binary);
- `walk`: which files to read under the given paths (`.gitignore` respected inside git
  work trees, no symlink followed, clone-audit's own run folders, known by their marker,
  left alone);
- `confined`: every read and rewrite through the root the user named, one component at a
  time, no symlink followed, only into the very file scanned;
- `scanner`: one pass over those files, occurrences (with a bounded excerpt) and the files
  skipped and why;
- `changes`: each file's change, worked out one file at a time from a fresh, checked read;
- `patch`: the replaced text and its diff (unified, and git binary patches for UTF-16),
  file names quoted as git quotes them;
- `rollback`: atomic rewrites that keep bytes, line endings and permissions, the rollback
  file, and the exact restore;
- `evidence`: the rollback file sealed with the user's key, and checked before a restore;
- `record`: the summary the migration report shows (cutover.json);
- `agents`: old ids in voice agents' configs (found by walking each config, pure) and the
  fields a draft write sends to switch them; `agentrecord`: the agents' sealed rollback record;
- `sarif`: the occurrences left as a SARIF 2.1.0 log for code scanning.

May import: `audit.core` (errors, usage, run folder and its marker, the sealing key,
the scrubber, marker prefix). Not `audit.api`:
whether old ids are still called is read by the pipeline and handed in as data.
"""
