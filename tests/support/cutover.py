"""A cutover's smallest input: a migration folder holding a mapping.csv of ready rows."""

from __future__ import annotations

from pathlib import Path

OLD, NEW = "voice_AAAAAAAAAA", "voice_NNNNNNNNNN"


def write_mapping(tmp_path: Path, rows: tuple[tuple[str, str], ...] = ((OLD, NEW),)) -> Path:
    """`tmp_path/migration/mapping.csv` with each (old, new) pair `ready`."""
    path = tmp_path / "migration" / "mapping.csv"
    path.parent.mkdir()
    lines = "".join(f"{old},{new},ready\n" for old, new in rows)
    path.write_text(f"old_voice_id,new_voice_id,status\n{lines}", encoding="utf-8")
    return path
